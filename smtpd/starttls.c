/*
 * smtpd's STARTTLS (RFC 3207): the handshake, after which everything
 * learned before it is forgotten; and the log line of an established TLS
 * session, which wrapper mode (session.c) writes too.
 */
#include <stdlib.h>

#include "smtpd/smtpd.h"
#include "util/alloc.h"
#include "util/log.h"

/* The TLS session, and the client certificate when one was given. */
void log_tls(struct session *s)
{
	const char *resumed = tls_session_reused(s->tls) ? " (resumed)" : "";
	char *name = tls_session_server_name(s->tls);
	char *sni = name != NULL ? xasprintf(", sni=%s", name) : xstrdup("");
	char *subject = tls_session_peer_subject(s->tls);
	if (subject == NULL) {
		log_info("%s: TLS established: %s%s%s", session_client(s),
		         tls_session_summary(s->tls), sni, resumed);
	} else {
		char *issuer = tls_session_peer_issuer(s->tls);
		log_info("%s: TLS established: %s%s%s, client certificate CN=\"%s\" issuer "
		         "CN=\"%s\" (%s)",
		         session_client(s), tls_session_summary(s->tls), sni, resumed, subject,
		         issuer ? issuer : "",
		         tls_session_peer_verified(s->tls) ? "verified" : "not verified");
		free(issuer);
	}
	free(subject);
	free(sni);
	free(name);
}

void cmd_starttls(struct session *s, const char *arg)
{
	/* As Postfix, each refusal counts as an error. */
	if (*arg) {
		reply(s, 501, "5.5.4", "Syntax: STARTTLS");
		session_error(s);
		return;
	}
	if (s->tls) {
		reply(s, 554, "5.5.1", "Error: TLS already active");
		session_error(s);
		return;
	}
	if (s->cfg->tls == NULL) {
		reply(s, 454, "4.7.0", "TLS not available due to local problem");
		session_error(s);
		return;
	}
	if (newtls_rate_exceeded(s)) {
		reply(s, 454, "4.7.0", "Error: too many new TLS sessions from %s", s->client_addr);
		session_error(s);
		return;
	}
	reply(s, 220, "2.0.0", "Ready to start TLS");
	if (stream_flush(s->stream) != STREAM_OK) {
		s->quit = true;
		return;
	}
	const char *error;
	s->tls = tls_accept(s->cfg->tls, s->fd, (int)s->cfg->starttls_timeout_ms, &error);
	if (s->tls == NULL) {
		log_info("%s: STARTTLS failed: %s", session_client(s), error);
		s->quit = true;
		return;
	}
	newtls_handshake_done(s);
	tls_session_attach(s->tls, s->stream);
	log_tls(s);
	clientcerts_session_start(s);
	/* RFC 3207: forget everything learned before TLS, a SASL login
	 * too (as Postfix's smtpd_sasl_auth_reset). */
	session_reset_transaction(s);
	free(s->helo);
	s->helo = NULL;
	s->esmtp = false;
	free(s->auth_user);
	s->auth_user = NULL;
	free(s->auth_method);
	s->auth_method = NULL;
}

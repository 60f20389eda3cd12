/*
 * One SMTP client connection (RFC 5321): connect with a time limit, the
 * greeting, EHLO (HELO if EHLO is refused), STARTTLS as the TLS level
 * asks (RFC 3207) or, with smtp_tls_wrappermode, TLS from the start
 * (implicit TLS, RFC 8314; one handshake routine serves both), AUTH PLAIN
 * or LOGIN to a relay over TLS (RFC 4954);
 * reading replies with a time limit per stage; RSET before reuse and QUIT.
 * A server that sends garbage, stalls or hangs up only fails the session,
 * with the reason recorded. When mail loops are looked for (port 25), a
 * server that names this host (myhostname) in its greeting is logged,
 * and one that does so in its EHLO or HELO reply is this host, as Postfix
 * has it. The transactions are in transaction.c.
 *
 * In the lmtp program (RFC 2033): the connection may be to a UNIX-domain
 * socket, LHLO takes EHLO's place (a server that refuses it is not asked
 * for HELO) and there is no loop check (an LMTP server on this host is
 * the usual case).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "smtp/session.h"
#include "util/alloc.h"
#include "util/base64.h"
#include "util/log.h"

const char *session_relay(const struct smtp_session *s)
{
	return s->relay;
}

const char *session_tls(const struct smtp_session *s)
{
	return s->tls_text;
}

const char *session_host(const struct smtp_session *s)
{
	return s->host;
}

int64_t session_started_ms(const struct smtp_session *s)
{
	return s->started_ms;
}

void session_fail(struct smtp_session *s, const char *status, const char *fmt, ...)
{
	va_list ap;
	struct str text = STR_INIT;
	va_start(ap, fmt);
	str_vprintf(&text, fmt, ap);
	va_end(ap);
	free(s->error);
	s->error = str_steal(&text);
	s->error_status = status;
}

/* Non-blocking connect with a time limit, from smtp_bind_address if set. */
static int connect_to(const char *address, const char *port, int timeout_ms, char **error_r)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
	struct addrinfo *ai = NULL;
	int rc = getaddrinfo(address, port, &hints, &ai);
	if (rc != 0) {
		*error_r = xasprintf("bad address %s port %s: %s", address, port, gai_strerror(rc));
		return -1;
	}
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		*error_r = xasprintf("socket: %s", strerror(errno));
		freeaddrinfo(ai);
		return -1;
	}
	if (*smtp_cfg.bind_address != '\0') {
		struct addrinfo *local = NULL;
		hints.ai_family = ai->ai_family;
		if (getaddrinfo(smtp_cfg.bind_address, NULL, &hints, &local) == 0) {
			if (bind(fd, local->ai_addr, local->ai_addrlen) != 0)
				log_warn("cannot bind to smtp_bind_address %s: %m",
				         smtp_cfg.bind_address);
			freeaddrinfo(local);
		}
	}
	rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	if (rc != 0 && errno == EINPROGRESS) {
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		int n;
		do
			n = poll(&pfd, 1, timeout_ms);
		while (n < 0 && errno == EINTR);
		if (n == 0) {
			errno = ETIMEDOUT;
			rc = -1;
		} else {
			int err = 0;
			socklen_t len = sizeof(err);
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
			errno = err;
			rc = err ? -1 : 0;
		}
	}
	if (rc != 0) {
		*error_r = xstrdup(strerror(errno));
		close(fd);
		return -1;
	}
	int flags = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
	/* Every write is a complete group of commands or the end of the
	 * content: do not let Nagle hold it back waiting for an ACK. */
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* Connect to the UNIX-domain socket path with a time limit: a listener
 * with a full backlog makes connect wait, and Linux bounds that wait by
 * the send time-out of a blocking socket. */
static int connect_unix(const char *path, int timeout_ms, char **error_r)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sun.sun_path)) {
		*error_r = xasprintf("socket path too long: %s", path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*error_r = xasprintf("socket: %s", strerror(errno));
		return -1;
	}
	struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		*error_r = xstrdup(errno == EAGAIN ? strerror(ETIMEDOUT) : strerror(errno));
		close(fd);
		return -1;
	}
	struct timeval none = {0};
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof(none));
	return fd;
}

/* Read one complete reply into s->resp (and s->summary); -1 on failure
 * with the session error set ("... while <stage>"). */
int session_read_reply(struct smtp_session *s, int timeout_ms, const char *stage)
{
	smtp_resp_clear(&s->resp);
	stream_set_timeout(s->stream, timeout_ms);
	for (;;) {
		enum stream_status st = stream_read_line(s->stream, &s->line, REPLY_LINE_MAX, NULL);
		if (st == STREAM_TIMEOUT) {
			session_fail(s, "4.4.2", "conversation with %s timed out while %s",
			             s->relay, stage);
			return -1;
		}
		if (st == STREAM_TOO_LONG) {
			session_fail(s, "4.5.0", "overlong reply line from %s while %s", s->relay,
			             stage);
			return -1;
		}
		if (st != STREAM_OK) {
			session_fail(s, "4.4.2", "lost connection with %s while %s", s->relay,
			             stage);
			return -1;
		}
		const char *error = NULL;
		enum smtp_resp_step step = smtp_resp_add_line(
		    &s->resp, s->line.data ? s->line.data : "", s->line.len, &error);
		if (step == SMTP_RESP_BAD) {
			struct str shown = STR_INIT;
			for (size_t i = 0; i < s->line.len && i < 100; i++) {
				unsigned char c = (unsigned char)s->line.data[i];
				str_append_char(&shown, c >= 0x20 && c < 0x7f ? (char)c : '?');
			}
			session_fail(s, "4.5.0", "%s from %s while %s: \"%s\"", error, s->relay,
			             stage, str_cstr(&shown));
			str_free(&shown);
			return -1;
		}
		if (step == SMTP_RESP_DONE)
			break;
	}
	smtp_resp_summary(&s->resp, &s->summary, REASON_MAX);
	return 0;
}

int session_flush(struct smtp_session *s, int timeout_ms, const char *stage)
{
	stream_set_timeout(s->stream, timeout_ms);
	enum stream_status st = stream_flush(s->stream);
	if (st == STREAM_OK)
		return 0;
	if (st == STREAM_TIMEOUT)
		session_fail(s, "4.4.2", "conversation with %s timed out while %s", s->relay,
		             stage);
	else
		session_fail(s, "4.4.2", "lost connection with %s while %s", s->relay, stage);
	return -1;
}

void session_put_line(struct smtp_session *s, const char *text)
{
	stream_puts(s->stream, text);
	stream_puts(s->stream, "\r\n");
}

/* Send one command and read its reply. */
int session_command(struct smtp_session *s, const char *text, int timeout_ms, const char *stage)
{
	session_put_line(s, text);
	if (session_flush(s, timeout_ms, stage) != 0)
		return -1;
	return session_read_reply(s, timeout_ms, stage);
}

/* A server that answers EHLO (or HELO) with this host's name is this
 * host: the mail loops, when loops are looked for (t->loop_nexthop). -1
 * then with the session error set: final (5.4.6) from a best MX, else
 * 4.4.6 so that the next server is tried. */
static int check_helo_loop(struct smtp_session *s, const struct smtp_target *t)
{
	if (t->loop_nexthop == NULL || smtp_cfg.myhostname == NULL ||
	    !smtp_resp_first_word_is(&s->resp, smtp_cfg.myhostname))
		return 0;
	log_warn("host %s replied to HELO/EHLO with my own hostname %s", s->relay,
	         smtp_cfg.myhostname);
	session_fail(s, t->best_mx ? "5.4.6" : "4.4.6", "mail for %s loops back to myself",
	             t->loop_nexthop);
	s->error_final = t->best_mx;
	return -1;
}

/* EHLO, or HELO after a 5xx; for LMTP, LHLO (RFC 2033 4.1: EHLO's reply),
 * with no HELO after a refusal and no loop check (an LMTP server on this
 * host is the usual case). */
static int ehlo(struct smtp_session *s, const struct smtp_target *t)
{
	const char *verb = smtp_cfg.lmtp ? "LHLO" : "EHLO";
	char *cmd = xasprintf("%s %s", verb, smtp_cfg.helo_name);
	char *stage = xasprintf("performing the %s handshake", verb);
	int rc = session_command(s, cmd, smtp_cfg.helo_timeout_ms, stage);
	free(stage);
	free(cmd);
	if (rc != 0)
		return -1;
	smtp_ehlo_free(&s->ehlo);
	if (s->resp.code / 100 == 2) {
		s->esmtp = true;
		smtp_ehlo_parse(&s->resp, &s->ehlo);
		return smtp_cfg.lmtp ? 0 : check_helo_loop(s, t);
	}
	if (s->resp.code / 100 == 5 && !smtp_cfg.lmtp) {
		cmd = xasprintf("HELO %s", smtp_cfg.helo_name);
		rc = session_command(s, cmd, smtp_cfg.helo_timeout_ms,
		                     "performing the HELO handshake");
		free(cmd);
		if (rc != 0)
			return -1;
		if (s->resp.code / 100 == 2) {
			s->esmtp = false;
			return check_helo_loop(s, t);
		}
	}
	session_fail(s, s->resp.code / 100 == 5 ? "5.0.0" : "4.0.0",
	             "host %s refused to talk to me: %s", s->relay, str_cstr(&s->summary));
	return -1;
}

/* The names the server certificate may carry under verify and secure:
 * the policy's match= list with hostname (the server's name), nexthop and
 * dot-nexthop (any name below the next hop) filled in. */
static char **match_names(const struct smtp_target *t, size_t *count_r)
{
	static char hostname_only[] = "hostname";
	char *fallback[] = {hostname_only};
	char *const *match = fallback;
	size_t n = 1;
	if (t->policy != NULL && t->policy->match_count > 0) {
		match = t->policy->match;
		n = t->policy->match_count;
	}
	const char *nexthop = t->nexthop ? t->nexthop : t->host;
	char **names = xcalloc(n, sizeof(*names));
	for (size_t i = 0; i < n; i++) {
		if (strcasecmp(match[i], "hostname") == 0)
			names[i] = xstrdup(t->host);
		else if (strcasecmp(match[i], "nexthop") == 0)
			names[i] = xstrdup(nexthop);
		else if (strcasecmp(match[i], "dot-nexthop") == 0)
			names[i] = xasprintf(".%s", nexthop);
		else
			names[i] = xstrdup(match[i]);
	}
	*count_r = n;
	return names;
}

/* One line per TLS connection, in Postfix's words: how far the server
 * was authenticated, and whether the session was new ("established") or
 * an earlier one resumed ("reused", smtp_tls_session_cache_database). */
static void log_tls(const struct smtp_session *s)
{
	const char *auth = tls_session_peer_auth(s->tls);
	const char *trust = strcmp(auth, "untrusted") == 0 ? "Untrusted"
	                    : strcmp(auth, "trusted") == 0 ? "Trusted"
	                                                   : "Verified";
	log_info("%s TLS connection %s to %s: %s", trust,
	         tls_session_reused(s->tls) ? "reused" : "established", s->relay,
	         tls_session_summary(s->tls));
}

/* The TLS handshake on the session's connection, after STARTTLS or at
 * once in wrapper mode, checking the server as the level says (names
 * under verify and secure, TLSA records under dane, digests under
 * fingerprint, nothing under may and encrypt); then the stream reads and
 * writes through TLS and s->tls_text has the summary for the log. -1 with
 * *tls_failed set and the session error (4.7.5) on failure. */
static int tls_handshake(struct smtp_session *s, const struct smtp_target *t, bool *tls_failed)
{
	const char *what = smtp_cfg.tls_wrappermode ? "implicit TLS (smtp_tls_wrappermode)" : "TLS";
	if (smtp_cfg.tls == NULL) {
		*tls_failed = true;
		session_fail(s, "4.7.5", "TLS is not available in this client");
		return -1;
	}
	struct tls_peer_check check = {0};
	char **names = NULL;
	if (t->level == TLS_LEVEL_VERIFY || t->level == TLS_LEVEL_SECURE) {
		names = match_names(t, &check.verify_count);
		check.verify_names = (const char *const *)names;
	}
	const char *sni = t->host;
	if ((t->level == TLS_LEVEL_DANE || t->level == TLS_LEVEL_DANE_ONLY) && t->tlsa_count > 0) {
		check.tlsa = t->tlsa;
		check.tlsa_count = t->tlsa_count;
		check.dane_name = t->dane_base ? t->dane_base : t->host;
		if (t->dane_alias != NULL) {
			check.verify_names = &t->dane_alias;
			check.verify_count = 1;
		}
		sni = check.dane_name; /* RFC 7672 8.1: SNI is the TLSA base domain */
	}
	if (t->level == TLS_LEVEL_FINGERPRINT) {
		/* The parser gives this level at least one fingerprint; without
		 * one there would be no check at all. */
		if (t->policy == NULL || t->policy->fingerprint_count == 0) {
			*tls_failed = true;
			session_fail(s, "4.7.5", "%s with %s: no fingerprints to match", what,
			             s->relay);
			return -1;
		}
		check.fingerprints = t->policy->fingerprints;
		check.fingerprint_count = t->policy->fingerprint_count;
		check.fingerprint_digest = t->policy->fingerprint_digest;
	}
	if (t->policy != NULL) {
		check.min_version = t->policy->min_version;
		check.max_version = t->policy->max_version;
		check.ciphers = t->policy->ciphers;
	}
	smtp_tls_cache_offer(s, t, &check, sni);
	const char *error = "";
	s->tls = tls_connect_checked(smtp_cfg.tls, s->fd, sni, &check, smtp_cfg.starttls_timeout_ms,
	                             &error);
	for (size_t i = 0; names != NULL && i < check.verify_count; i++)
		free(names[i]);
	free(names);
	if (s->tls == NULL) {
		smtp_tls_cache_failed(s);
		*tls_failed = true;
		session_fail(s, "4.7.5", "%s with %s failed: %s", what, s->relay, error);
		return -1;
	}
	log_tls(s);
	stream_discard_input(s->stream);
	tls_session_attach(s->tls, s->stream);
	free(s->tls_text);
	s->tls_text =
	    xasprintf("%s, %s", tls_session_summary(s->tls), tls_session_peer_auth(s->tls));
	return 0;
}

static int starttls(struct smtp_session *s, const struct smtp_target *t, bool *tls_failed)
{
	if (session_command(s, "STARTTLS", smtp_cfg.helo_timeout_ms, "sending STARTTLS") != 0)
		return -1;
	if (s->resp.code != 220) {
		if (t->level == TLS_LEVEL_MAY)
			return 0; /* go on in plain text */
		session_fail(s, "4.7.5", "TLS is required, but host %s refused STARTTLS: %s",
		             s->relay, str_cstr(&s->summary));
		return -1;
	}
	if (stream_buffered(s->stream) > 0) {
		session_fail(s, "4.7.5", "host %s sent data after its STARTTLS reply", s->relay);
		return -1;
	}
	if (tls_handshake(s, t, tls_failed) != 0)
		return -1;
	return ehlo(s, t);
}

/* Split the credentials deliver.c found ("user:password"): 1 with *user
 * and *pass set, 0 when there are none (or the entry is malformed, which
 * is logged: the session goes on without AUTH, as before). */
static int split_credentials(const struct smtp_session *s, const char *credentials, char **user,
                             char **pass)
{
	if (credentials == NULL)
		return 0;
	const char *colon = strchr(credentials, ':');
	if (colon == NULL) {
		log_warn("smtp_sasl_password_maps: entry for %s is not user:password", s->relay);
		return 0;
	}
	*user = xstrndup(credentials, (size_t)(colon - credentials));
	*pass = xstrdup(colon + 1);
	return 1;
}

static char *b64(const char *a, size_t alen)
{
	struct str out = STR_INIT;
	base64_encode(a, alen, &out);
	return str_steal(&out);
}

static int authenticate(struct smtp_session *s, const char *credentials)
{
	char *user = NULL, *pass = NULL;
	int rc = split_credentials(s, credentials, &user, &pass);
	if (rc <= 0)
		return rc;
	rc = -1;
	const char *stage = "authenticating";
	if (s->tls == NULL) {
		session_fail(s, "4.7.0", "not sending credentials to %s without TLS", s->relay);
	} else if (smtp_ehlo_has_auth(&s->ehlo, "PLAIN")) {
		size_t ul = strlen(user), pl = strlen(pass);
		char *raw = xmalloc(ul + pl + 2);
		raw[0] = '\0';
		memcpy(raw + 1, user, ul);
		raw[ul + 1] = '\0';
		memcpy(raw + ul + 2, pass, pl);
		char *enc = b64(raw, ul + pl + 2);
		char *cmd = xasprintf("AUTH PLAIN %s", enc);
		if (session_command(s, cmd, smtp_cfg.helo_timeout_ms, stage) == 0)
			rc = 0;
		explicit_bzero(raw, ul + pl + 2);
		explicit_bzero(cmd, strlen(cmd));
		free(raw);
		free(enc);
		free(cmd);
	} else if (smtp_ehlo_has_auth(&s->ehlo, "LOGIN")) {
		char *eu = b64(user, strlen(user)), *ep = b64(pass, strlen(pass));
		if (session_command(s, "AUTH LOGIN", smtp_cfg.helo_timeout_ms, stage) == 0 &&
		    (s->resp.code != 334 ||
		     session_command(s, eu, smtp_cfg.helo_timeout_ms, stage) == 0) &&
		    (s->resp.code != 334 ||
		     session_command(s, ep, smtp_cfg.helo_timeout_ms, stage) == 0))
			rc = 0;
		explicit_bzero(ep, strlen(ep));
		free(eu);
		free(ep);
	} else {
		session_fail(s, "4.7.0", "host %s offers no AUTH mechanism this client has",
		             s->relay);
	}
	if (rc == 0 && s->resp.code != 235) {
		session_fail(s, s->resp.code / 100 == 5 ? "5.7.8" : "4.7.0",
		             "SASL authentication failed at %s: %s", s->relay,
		             str_cstr(&s->summary));
		rc = -1;
	}
	explicit_bzero(pass, strlen(pass));
	free(user);
	free(pass);
	return rc;
}

struct smtp_session *session_open(const struct smtp_target *t, bool allow_tls, char **reason_r,
                                  const char **status_r, bool *tls_failed_r, bool *bounce_r)
{
	*tls_failed_r = false;
	*bounce_r = false;
	struct smtp_session *s = xcalloc(1, sizeof(*s));
	s->fd = -1;
	s->host = xstrdup(t->host);
	s->relay = t->unix_path ? xasprintf("%s[%s]", t->host, t->address)
	                        : xasprintf("%s[%s]:%s", t->host, t->address, t->port);
	s->tls_text = xstrdup("none");
	s->started_ms = event_now_ms();
	smtp_resp_init(&s->resp);
	char *error = NULL;
	s->fd = t->unix_path ? connect_unix(t->unix_path, smtp_cfg.connect_timeout_ms, &error)
	                     : connect_to(t->address, t->port, smtp_cfg.connect_timeout_ms, &error);
	if (s->fd < 0) {
		session_fail(s, "4.4.1", "connect to %s: %s", s->relay, error);
		free(error);
		goto fail;
	}
	s->stream = stream_new(s->fd, smtp_cfg.helo_timeout_ms);
	/* Wrapper mode (RFC 8314 implicit TLS): the handshake comes first and
	 * the greeting through it; nothing is ever sent in plain text. */
	if (smtp_cfg.tls_wrappermode && tls_handshake(s, t, tls_failed_r) != 0)
		goto fail;
	if (session_read_reply(s, smtp_cfg.helo_timeout_ms,
	                       "receiving the initial server greeting") != 0) {
		/* A submissions server waits for our TLS handshake in silence. */
		if (!smtp_cfg.tls_wrappermode && strcmp(t->port, "465") == 0)
			log_info("%s: port 465 is implicit TLS (submissions), which needs "
			         "smtp_tls_wrappermode = yes",
			         s->relay);
		goto fail;
	}
	if (s->resp.code / 100 != 2) {
		session_fail(s, s->resp.code / 100 == 5 ? "5.0.0" : "4.0.0",
		             "host %s refused to talk to me: %s", s->relay, str_cstr(&s->summary));
		goto fail;
	}
	/* Only a warning, as in Postfix: the EHLO reply decides. */
	if (t->loop_nexthop != NULL && smtp_cfg.myhostname != NULL &&
	    smtp_resp_first_word_is(&s->resp, smtp_cfg.myhostname))
		log_warn("host %s greeted me with my own hostname %s", s->relay,
		         smtp_cfg.myhostname);
	if (ehlo(s, t) != 0)
		goto fail;
	bool want_tls = !smtp_cfg.tls_wrappermode && t->level != TLS_LEVEL_NONE && allow_tls;
	bool need_tls = t->level >= TLS_LEVEL_ENCRYPT;
	if (want_tls && s->ehlo.starttls) {
		if (starttls(s, t, tls_failed_r) != 0)
			goto fail;
	}
	if (need_tls && s->tls == NULL) {
		session_fail(s, "4.7.4", "TLS is required, but was not offered by host %s",
		             s->relay);
		goto fail;
	}
	smtp_tls_cache_save(s);
	if (s->esmtp && authenticate(s, t->sasl_credentials) != 0)
		goto fail;
	return s;
fail:
	*reason_r = xstrdup(s->error ? s->error : "session failed");
	*status_r = s->error_status ? s->error_status : "4.4.1";
	*bounce_r = s->error_final;
	session_close(s, false);
	return NULL;
}

bool session_reset(struct smtp_session *s)
{
	/* Anything readable on an idle session means the server closed it or
	 * sent junk: not usable. */
	struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
	if (stream_buffered(s->stream) > 0 || poll(&pfd, 1, 0) != 0)
		return false;
	/* With PIPELINING, RSET goes with MAIL, RCPT and DATA (its reply is
	 * read first; a failure then is a session that cannot be used, before
	 * any content is sent): a round trip less for every reused session. */
	if (s->esmtp && s->ehlo.pipelining) {
		session_put_line(s, "RSET");
		s->rset_queued = true;
		return true;
	}
	if (session_command(s, "RSET", smtp_cfg.rset_timeout_ms, "sending RSET") != 0)
		return false;
	return s->resp.code / 100 == 2;
}

void session_close(struct smtp_session *s, bool quit)
{
	if (s == NULL)
		return;
	if (quit && s->stream) {
		session_put_line(s, "QUIT");
		if (session_flush(s, smtp_cfg.quit_timeout_ms, "sending QUIT") == 0)
			(void)session_read_reply(s, smtp_cfg.quit_timeout_ms, "sending QUIT");
	}
	if (s->tls)
		tls_session_close(s->tls);
	if (s->stream)
		stream_close(s->stream);
	else if (s->fd >= 0)
		close(s->fd);
	smtp_ehlo_free(&s->ehlo);
	smtp_resp_free(&s->resp);
	str_free(&s->summary);
	str_free(&s->line);
	free(s->host);
	free(s->relay);
	free(s->tls_text);
	free(s->error);
	free(s->tls_cache_key);
	free(s->tls_offered);
	free(s);
}

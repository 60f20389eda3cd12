/*
 * smtpd's session: greeting, the command loop with pipelining, EHLO/HELO,
 * STARTTLS, MAIL, RCPT, RSET, NOOP, VRFY, HELP, QUIT, error counting and
 * the per-session log lines. DATA/BDAT are in data.c, AUTH in auth.c,
 * XFORWARD in xforward.c.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "mail/notify_classes.h"
#include "smtp/address.h"
#include "smtp/smtp_command.h"
#include "smtp/smtp_resp.h"
#include "smtpd/smtpd.h"
#include "util/alloc.h"
#include "util/log.h"
#include "util/sock.h"

static const char *const count_names[] = {"helo", "ehlo", "starttls", "xforward", "auth",
                                          "mail", "rcpt", "data",     "bdat",     "rset",
                                          "noop", "vrfy", "help",     "quit",     "unknown"};
enum {
	C_HELO,
	C_EHLO,
	C_STARTTLS,
	C_XFORWARD,
	C_AUTH,
	C_MAIL,
	C_RCPT,
	C_DATA,
	C_BDAT,
	C_RSET,
	C_NOOP,
	C_VRFY,
	C_HELP,
	C_QUIT,
	C_UNKNOWN
};

/* smtpd_reject_footer with its $names (Postfix's: client_address,
 * client_name, client_port, helo_name, localtime, server_name), one
 * reply line per "\\n"-separated part, into lines. */
static void footer_lines(const struct session *s, struct str *lines)
{
	const char *text = s->cfg->reject_footer;
	struct str part = STR_INIT;
	for (const char *p = text;; p++) {
		if (*p == '\0' || (p[0] == '\\' && p[1] == 'n')) {
			str_append_cstr(lines, str_cstr(&part));
			str_append_char(lines, '\n');
			str_clear(&part);
			if (*p == '\0')
				break;
			p++;
			continue;
		}
		if (*p != '$') {
			str_append_char(&part, *p);
			continue;
		}
		bool braced = p[1] == '{';
		const char *name = p + 1 + braced;
		size_t n = strspn(name, "abcdefghijklmnopqrstuvwxyz_");
		char when[64] = "";
		const char *value = NULL;
		if (n == 14 && strncmp(name, "client_address", n) == 0)
			value = s->client_addr;
		else if (n == 11 && strncmp(name, "client_name", n) == 0)
			value = s->client_name;
		else if (n == 11 && strncmp(name, "client_port", n) == 0)
			value = s->client_port;
		else if (n == 9 && strncmp(name, "helo_name", n) == 0)
			value = s->helo ? s->helo : "";
		else if (n == 11 && strncmp(name, "server_name", n) == 0)
			value = s->cfg->hostname;
		else if (n == 9 && strncmp(name, "localtime", n) == 0) {
			time_t now = time(NULL);
			struct tm tm;
			localtime_r(&now, &tm);
			strftime(when, sizeof(when), "%b %e %H:%M:%S", &tm);
			value = when;
		}
		if (value == NULL || (braced && name[n] != '}')) {
			str_append_char(&part, '$'); /* not one of ours: kept */
			continue;
		}
		/* Client-given text (the HELO name) stays one line. */
		for (const char *v = value; *v; v++)
			str_append_char(&part, (unsigned char)*v < 0x20 ? ' ' : *v);
		p = name + n - 1 + braced;
	}
	str_free(&part);
}

/* A final 4NN/5NN reply in line becomes the first of several: the
 * footer's lines follow with the same code (and enhanced code, when the
 * reply has it). */
static void append_footer(const struct session *s, struct str *line, const char *enhanced)
{
	char code[4];
	memcpy(code, line->data, 3);
	code[3] = '\0';
	bool has_enhanced = enhanced != NULL && line->len > 4 &&
	                    strncmp(line->data + 4, enhanced, strlen(enhanced)) == 0;
	line->data[3] = '-';
	struct str footer = STR_INIT;
	footer_lines(s, &footer);
	for (const char *p = str_cstr(&footer); *p;) {
		const char *nl = strchr(p, '\n');
		bool last = nl[1] == '\0';
		str_printf(line, "\r\n%s%c", code, last ? ' ' : '-');
		if (has_enhanced)
			str_printf(line, "%s ", enhanced);
		str_append(line, p, (size_t)(nl - p));
		p = nl + 1;
	}
	str_free(&footer);
}

static void reply_line(struct session *s, bool more, int code, const char *enhanced,
                       const char *fmt, va_list ap)
{
	struct str line = STR_INIT;
	const struct access_deferral *d = &s->defer_if_reject;
	if (d->code != 0 && !more && code / 100 == 5) {
		/* A check's refusal after an access table's or policy server's
		 * DEFER_IF_REJECT: that deferral instead. */
		str_printf(&line, "%d %s %s", d->code, d->enhanced, d->text);
	} else {
		str_printf(&line, "%d%c", code, more ? '-' : ' ');
		if (enhanced)
			str_printf(&line, "%s ", enhanced);
		str_vprintf(&line, fmt, ap);
	}
	if (s->cfg->soft_bounce)
		smtp_reply_soften(line.data);
	snprintf(s->last_reply, sizeof(s->last_reply), "%s", str_cstr(&line));
	/* Its class for the postmaster notices (notice.c): the one the
	 * caller set, else by its code. */
	unsigned error_class = 0;
	if (!more) {
		if (line.data[0] == '4' || line.data[0] == '5')
			error_class =
			    s->reply_class ? s->reply_class : notice_reply_class(str_cstr(&line));
		s->reply_class = 0;
	}
	if (!more && *s->cfg->reject_footer && (line.data[0] == '4' || line.data[0] == '5'))
		append_footer(s, &line, enhanced);
	for (const char *p = str_cstr(&line);;) {
		const char *end = strstr(p, "\r\n");
		if (end == NULL) {
			notice_record_out(s, p, strlen(p), error_class);
			break;
		}
		notice_record_out(s, p, (size_t)(end - p), 0);
		p = end + 2;
	}
	str_append(&line, "\r\n", 2);
	stream_write(s->stream, line.data, line.len);
	str_free(&line);
}

void reply(struct session *s, int code, const char *enhanced, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	reply_line(s, false, code, enhanced, fmt, ap);
	va_end(ap);
}

void reply_more(struct session *s, int code, const char *enhanced, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	reply_line(s, true, code, enhanced, fmt, ap);
	va_end(ap);
}

const char *session_client(const struct session *s)
{
	static char buf[400];
	snprintf(buf, sizeof(buf), "%s[%s]", s->client_name, s->client_addr);
	return buf;
}

const char *session_protocol(const struct session *s)
{
	static char buf[16];
	if (!s->esmtp)
		return "SMTP";
	snprintf(buf, sizeof(buf), "%s%s%s", s->env.smtputf8 ? "UTF8SMTP" : "ESMTP",
	         s->tls ? "S" : "", s->auth_user ? "A" : "");
	return buf;
}

void session_log_reject(const struct session *s, const char *where, const char *recipient,
                        const char *detail)
{
	session_log_event(s, "reject", where, s->last_reply, recipient, detail);
}

void session_log_event(const struct session *s, const char *action, const char *where,
                       const char *reply_text, const char *recipient, const char *detail)
{
	struct str line = STR_INIT;
	str_printf(&line, "%s: %s: %s from %s: %s;", s->queue_id[0] ? s->queue_id : "NOQUEUE",
	           action, where, session_client(s), reply_text);
	if (s->in_transaction)
		str_printf(&line, " from=<%s>", s->env.sender);
	if (recipient)
		str_printf(&line, " to=<%s>", recipient);
	str_printf(&line, " proto=%s helo=<%s>", session_protocol(s), s->helo ? s->helo : "");
	if (detail)
		str_printf(&line, " (%s)", detail);
	log_info("%s", str_cstr(&line));
	str_free(&line);
}

bool session_error(struct session *s)
{
	s->errors++;
	if (s->errors >= s->cfg->hard_error_limit) {
		s->reply_class = NOTIFY_PROTOCOL; /* not policy, for its 4.7.0 */
		reply(s, 421, "4.7.0", "%s Error: too many errors", s->cfg->hostname);
		/* Postfix's words (fail2ban's postfix filter, mode=errors). */
		log_info("too many errors after %s from %s", s->where, session_client(s));
		s->quit = true;
		return true;
	}
	if (s->errors > s->cfg->soft_error_limit && s->cfg->error_sleep_ms > 0) {
		stream_flush(s->stream);
		struct timespec ts = {s->cfg->error_sleep_ms / 1000,
		                      (s->cfg->error_sleep_ms % 1000) * 1000000};
		nanosleep(&ts, NULL);
	}
	return false;
}

/* Forget the transaction and what came with it (a new MAIL starts clean;
 * what XFORWARD said before it stays). */
static void transaction_clear(struct session *s)
{
	if (s->bdat)
		data_abort_bdat(s);
	proxy_filter_close(s);
	smtpd_milter_abort(s);
	s->queue_id[0] = '\0';
	queue_envelope_free(&s->env);
	queue_envelope_init(&s->env);
	s->sender_domain_verdict = 0;
	s->rhsbl_sender.checked = false;
	s->sender_verify_found = 0;
	free(s->sender_verify_reason);
	s->sender_verify_reason = NULL;
	s->in_transaction = false;
	s->declared_size = 0;
	s->rejected_rcpts = 0;
	s->rcpt_overshoot = 0;
	free(s->mail_auth);
	s->mail_auth = NULL;
	free(s->access_discard);
	s->access_discard = NULL;
	free(s->access_redirect);
	s->access_redirect = NULL;
	free(s->access_bcc);
	s->access_bcc = NULL;
	s->envelope_stale = false;
	str_free(&s->prepend);
	access_deferrals_clear(s);
	s->policy_instance[0] = '\0';
}

void session_reset_transaction(struct session *s)
{
	transaction_clear(s);
	/* As Postfix's mail_reset(): XFORWARD attributes are per transaction. */
	xforward_reset(s);
}

static void cmd_ehlo(struct session *s, const char *arg, bool extended)
{
	if (*arg == '\0') {
		reply(s, 501, "5.5.4", "Syntax: %s hostname", extended ? "EHLO" : "HELO");
		session_error(s);
		return;
	}
	session_reset_transaction(s);
	free(s->helo);
	s->helo = xstrdup(arg);
	s->helo_verdict = 0;
	s->rhsbl_helo.checked = false;
	s->esmtp = extended;
	if (smtpd_milter_helo(s))
		return;
	if (!extended) {
		reply(s, 250, NULL, "%s", s->cfg->hostname);
		return;
	}
	char size[32];
	if (s->cfg->message_size_limit > 0)
		snprintf(size, sizeof(size), "SIZE %lld", s->cfg->message_size_limit);
	else
		snprintf(size, sizeof(size), "SIZE");
	const char *offered[] = {
	    "PIPELINING",
	    size,
	    s->cfg->tls && !s->tls ? "STARTTLS" : NULL,
	    auth_offered(s) ? "AUTH PLAIN LOGIN" : NULL,
	    s->cfg->vrfy_disabled ? NULL : "VRFY",
	    s->xforward_allowed ? "XFORWARD " XFORWARD_KEYWORDS : NULL,
	    "ENHANCEDSTATUSCODES",
	    "8BITMIME",
	    "DSN",
	    "SMTPUTF8",
	    "CHUNKING",
	};
	size_t count = sizeof(offered) / sizeof(offered[0]);
	/* smtpd_discard_ehlo_keywords: left out of the reply (Postfix's). */
	for (size_t i = 0; i < count; i++) {
		if (offered[i] == NULL)
			continue;
		size_t word = strcspn(offered[i], " ");
		for (char *const *d = s->cfg->discard_ehlo_keywords; d && *d; d++) {
			if (strlen(*d) == word && strncasecmp(*d, offered[i], word) == 0) {
				offered[i] = NULL;
				break;
			}
		}
	}
	while (count > 0 && offered[count - 1] == NULL)
		count--;
	if (count == 0) {
		reply(s, 250, NULL, "%s", s->cfg->hostname);
		return;
	}
	reply_more(s, 250, NULL, "%s", s->cfg->hostname);
	for (size_t i = 0; i < count; i++) {
		if (offered[i] == NULL)
			continue;
		if (i + 1 < count)
			reply_more(s, 250, NULL, "%s", offered[i]);
		else
			reply(s, 250, NULL, "%s", offered[i]);
	}
}

/* The TLS session, and the client certificate when one was given. */
static void log_tls(struct session *s)
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

static void cmd_starttls(struct session *s, const char *arg)
{
	if (*arg) {
		reply(s, 501, "5.5.4", "Syntax: STARTTLS");
		return;
	}
	if (s->tls) {
		reply(s, 554, "5.5.1", "Error: TLS already active");
		return;
	}
	if (s->cfg->tls == NULL) {
		reply(s, 454, "4.7.0", "TLS not available due to local problem");
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
	/* RFC 3207: forget everything learned before TLS. */
	session_reset_transaction(s);
	free(s->helo);
	s->helo = NULL;
	s->esmtp = false;
}

static bool must_use_tls(const struct session *s)
{
	return s->cfg->tls_level == TLS_ENCRYPT && s->tls == NULL;
}

static void cmd_mail(struct session *s, const char *arg)
{
	if (s->cfg->helo_required && s->helo == NULL) {
		reply(s, 503, "5.5.1", "Error: send HELO/EHLO first");
		session_error(s);
		return;
	}
	if (must_use_tls(s)) {
		reply(s, 530, "5.7.0", "Must issue a STARTTLS command first");
		session_log_reject(s, "MAIL", NULL, NULL);
		session_error(s);
		return;
	}
	if (s->cfg->auth_required && s->auth_user == NULL) {
		reply(s, 530, "5.7.0", "Authentication required");
		session_log_reject(s, "MAIL", NULL, NULL);
		session_error(s);
		return;
	}
	if (s->in_transaction) {
		reply(s, 503, "5.5.1", "Error: nested MAIL command");
		session_error(s);
		return;
	}
	struct smtp_mail_params p;
	struct smtp_reply err;
	if (smtp_parse_mail_from_envelope(arg, s->cfg->strict_envelopes, &p, &err) != 0) {
		reply(s, err.code, err.enhanced, "%s", err.text);
		session_log_reject(s, "MAIL", NULL, err.detail);
		session_error(s);
		return;
	}
	if (!s->esmtp && smtp_mail_params_has_extensions(&p)) {
		reply(s, 555, "5.5.4", "Error: MAIL parameters need EHLO");
		session_log_reject(s, "MAIL", NULL, NULL);
		smtp_mail_params_free(&p);
		session_error(s);
		return;
	}
	if (p.size > 0 && s->cfg->message_size_limit > 0 && p.size > s->cfg->message_size_limit) {
		reply(s, 552, "5.3.4", "Message size exceeds fixed limit");
		session_log_reject(s, "MAIL", NULL, NULL);
		smtp_mail_params_free(&p);
		session_error(s);
		return;
	}
	if (queue_space_refused(s, p.size)) {
		smtp_mail_params_free(&p);
		return;
	}
	if (client_rate_refused(s, CLIENT_EVENT_MESSAGE, s->cfg->message_rate_limit)) {
		smtp_mail_params_free(&p);
		return;
	}
	transaction_clear(s);
	s->in_transaction = true;
	s->env.sender = xstrdup(p.address);
	s->env.smtputf8 = p.smtputf8;
	s->env.body = xstrdup(p.body ? p.body : "");
	s->env.ret = xstrdup(p.ret ? p.ret : "");
	s->env.envid = xstrdup(p.envid ? p.envid : "");
	s->declared_size = p.size;
	s->mail_auth = p.auth ? xstrdup(p.auth) : NULL;
	smtp_mail_params_free(&p);
	/* Milters see the queue id from MAIL FROM on ({i}), as with Postfix;
	 * a proxy filter gets it as XFORWARD IDENT (there is no queue file). */
	if (s->milters || proxy_filter_enabled(s->cfg))
		queue_id_new(s->queue_id);
	if (smtpd_milter_mail(s, arg)) {
		log_info("%s: milter-reject: MAIL from %s: from=<%s> proto=%s helo=<%s>",
		         s->queue_id[0] ? s->queue_id : "NOQUEUE", session_client(s), s->env.sender,
		         session_protocol(s), s->helo ? s->helo : "");
		session_reset_transaction(s);
		return;
	}
	/* smtpd_proxy_filter: the filter's answer is the client's. */
	int proxied = proxy_filter_mail(s);
	if (proxied < 0) {
		session_reset_transaction(s);
		return;
	}
	if (proxied == 0)
		reply(s, 250, "2.1.0", "Ok");
}

static void cmd_rcpt(struct session *s, const char *arg)
{
	if (!s->in_transaction) {
		reply(s, 503, "5.5.1", "Error: need MAIL command");
		session_error(s);
		return;
	}
	struct smtp_rcpt_params p;
	struct smtp_reply err;
	if (smtp_parse_rcpt_to_envelope(arg, s->cfg->strict_envelopes, &p, &err) != 0) {
		reply(s, err.code, err.enhanced, "%s", err.text);
		session_log_reject(s, "RCPT", NULL, err.detail);
		session_error(s);
		return;
	}
	if (s->cfg->recipient_limit > 0 &&
	    (long long)s->env.rcpt_count >= s->cfg->recipient_limit) {
		/* As Postfix: the client may go on sending recipients for a later
		 * transaction, but past smtpd_recipient_overshoot_limit each one
		 * counts as an error, so it cannot loop here for ever. */
		reply(s, 452, "4.5.3", "Error: too many recipients");
		session_log_reject(s, "RCPT", p.address, NULL);
		smtp_rcpt_params_free(&p);
		if (++s->rcpt_overshoot > s->cfg->recipient_overshoot_limit)
			session_error(s);
		return;
	}
	if (!s->env.smtputf8 && !address_is_ascii(&p.addr)) {
		reply(s, 553, "5.6.7",
		      "<%s>: Recipient address rejected: non-ASCII address needs SMTPUTF8",
		      p.address);
		session_log_reject(s, "RCPT", p.address, NULL);
		smtp_rcpt_params_free(&p);
		session_error(s);
		return;
	}
	if (!s->esmtp && (p.notify || p.orcpt)) {
		reply(s, 555, "5.5.4", "Error: RCPT parameters need EHLO");
		session_log_reject(s, "RCPT", p.address, NULL);
		smtp_rcpt_params_free(&p);
		session_error(s);
		return;
	}
	if (client_rate_refused(s, CLIENT_EVENT_RECIPIENT, s->cfg->recipient_rate_limit)) {
		smtp_rcpt_params_free(&p);
		return;
	}
	bool access_ok = false;
	access_deferrals_clear(s);
	int rc = sender_login_check_rcpt(s);
	if (rc == 0)
		rc = fqdn_check_rcpt(s, &p);
	if (rc == 0)
		rc = policy_check_rcpt(s, p.address, p.addr.local, p.addr.domain);
	if (rc == 0)
		rc = access_check_rcpt(s, p.address, &access_ok);
	if (rc == 0 && !access_ok)
		rc = client_name_check_rcpt(s);
	if (rc == 0 && !access_ok)
		rc = helo_domain_check_rcpt(s);
	if (rc == 0 && !access_ok)
		rc = sender_domain_check_rcpt(s);
	if (rc == 0 && !access_ok)
		rc = recipient_domain_check_rcpt(s, p.address, p.addr.domain);
	if (rc == 0 && !access_ok)
		rc = dnsbl_check_rcpt(s);
	if (rc == 0 && !access_ok)
		rc = rhsbl_check_rcpt(s, p.address, p.addr.domain);
	if (rc == 0 && !access_ok)
		rc = policy_service_check_rcpt(s, p.address);
	if (rc == 0 && !access_ok)
		rc = verify_check_rcpt(s, p.address);
	if (rc == 0 && !access_ok)
		rc = verify_check_sender(s);
	if (rc == 0)
		rc = access_deferral_due(s);
	access_deferrals_clear(s);
	if (rc != 0) {
		session_log_reject(s, "RCPT", p.address, NULL);
		s->rejected_rcpts++;
		smtpd_milter_rcpt_rejected(s, p.address, arg);
		smtp_rcpt_params_free(&p);
		session_error(s);
		return;
	}
	if (smtpd_milter_rcpt(s, p.address, arg)) {
		log_info("%s: milter-reject: RCPT from %s: to=<%s> from=<%s> proto=%s helo=<%s>",
		         s->queue_id[0] ? s->queue_id : "NOQUEUE", session_client(s), p.address,
		         s->env.sender, session_protocol(s), s->helo ? s->helo : "");
		s->rejected_rcpts++;
		smtp_rcpt_params_free(&p);
		return;
	}
	int proxied = proxy_filter_rcpt(s, p.address, p.orcpt, p.notify);
	if (proxied < 0) {
		s->rejected_rcpts++;
		smtp_rcpt_params_free(&p);
		session_error(s);
		return;
	}
	queue_envelope_add_rcpt(&s->env, p.address, p.orcpt ? p.orcpt : "",
	                        p.notify ? p.notify : "");
	smtp_rcpt_params_free(&p);
	if (proxied == 0)
		reply(s, 250, "2.1.5", "Ok");
}

static void cmd_vrfy(struct session *s, const char *arg)
{
	if (*arg == '\0') {
		reply(s, 501, "5.5.4", "Syntax: VRFY address");
		session_error(s);
		return;
	}
	if (s->cfg->vrfy_disabled) {
		reply(s, 252, "2.0.0",
		      "Cannot VRFY user, but will accept message and attempt delivery");
		return;
	}
	char *text = xstrdup(arg);
	char *addr_text = text;
	size_t len = strlen(addr_text);
	if (len >= 2 && addr_text[0] == '<' && addr_text[len - 1] == '>') {
		addr_text[len - 1] = '\0';
		addr_text++;
	}
	struct address addr;
	const char *error;
	if (address_parse(addr_text, strlen(addr_text), false, &addr, &error) != 0) {
		reply(s, 501, "5.1.3", "<%s>: %s", addr_text, error);
	} else {
		if (policy_check_rcpt(s, addr_text, addr.local, addr.domain) == 0)
			reply(s, 252, "2.0.0", "<%s>", addr_text);
		address_free(&addr);
	}
	free(text);
}

static void cmd_help(struct session *s)
{
	reply_more(s, 214, "2.0.0", "Commands: HELO EHLO STARTTLS AUTH MAIL RCPT DATA BDAT");
	reply(s, 214, "2.0.0", "RSET NOOP VRFY HELP QUIT; see RFC 5321");
}

/* Commands after which nothing may be pipelined: what follows them would be
 * read in another context (message content, TLS, a SASL exchange). EHLO and
 * HELO may be followed by commands, as scripts that pipe a session do. */
static bool must_end_group(enum smtp_verb v)
{
	return v == SMTP_VERB_DATA || v == SMTP_VERB_STARTTLS || v == SMTP_VERB_AUTH;
}

/* Without PIPELINING offered (before EHLO, or after HELO) a client must
 * wait for each reply; EHLO and HELO themselves start the conversation. */
static bool pipelining_forbidden(const struct session *s, enum smtp_verb v)
{
	if (must_end_group(v))
		return true;
	return !s->esmtp && v != SMTP_VERB_EHLO && v != SMTP_VERB_HELO;
}

static void count(struct session *s, int which)
{
	s->counts[which]++;
	s->total_commands++;
}

/* HELO, EHLO, NOOP, RSET, VRFY and HELP are junk, as in Postfix: past
 * smtpd_junk_command_limit (since the last message received) each one
 * counts as an error, and the error limits end the session. */
static void count_junk(struct session *s)
{
	if (!s->quit && ++s->junk > s->cfg->junk_command_limit)
		session_error(s);
}

/* As Postfix: a message received forgives the client its earlier errors
 * and junk commands (DATA and BDAT LAST answer 250 only then). */
static void forgive_after_message(struct session *s)
{
	if (strncmp(s->last_reply, "250 ", 4) == 0) {
		s->errors = 0;
		s->junk = 0;
	}
}

static void dispatch(struct session *s, const char *line)
{
	const char *arg;
	enum smtp_verb verb = smtp_command_parse(line, &arg);
	if (stream_buffered(s->stream) > 0 && pipelining_forbidden(s, verb)) {
		/* A client that pipelines where it must not is out of step: anything it
		 * sent after this command could be read in the wrong context. */
		reply(s, 554, "5.5.0", "Error: improper command pipelining after %.*s",
		      (int)strcspn(line, " "), line);
		log_info("improper command pipelining after %.*s from %s", (int)strcspn(line, " "),
		         line, session_client(s));
		s->quit = true;
		return;
	}
	s->where = smtp_verb_name(verb);
	switch (verb) {
	case SMTP_VERB_HELO:
		count(s, C_HELO);
		cmd_ehlo(s, arg, false);
		count_junk(s);
		break;
	case SMTP_VERB_EHLO:
		count(s, C_EHLO);
		cmd_ehlo(s, arg, true);
		count_junk(s);
		break;
	case SMTP_VERB_STARTTLS:
		count(s, C_STARTTLS);
		cmd_starttls(s, arg);
		break;
	case SMTP_VERB_AUTH:
		count(s, C_AUTH);
		cmd_auth(s, arg);
		break;
	case SMTP_VERB_XFORWARD:
		count(s, C_XFORWARD);
		cmd_xforward(s, arg);
		count_junk(s);
		break;
	case SMTP_VERB_MAIL:
		count(s, C_MAIL);
		cmd_mail(s, arg);
		break;
	case SMTP_VERB_RCPT:
		count(s, C_RCPT);
		cmd_rcpt(s, arg);
		break;
	case SMTP_VERB_DATA:
		count(s, C_DATA);
		if (*arg) {
			reply(s, 501, "5.5.4", "Syntax: DATA");
			session_error(s);
		} else {
			cmd_data(s);
			forgive_after_message(s);
		}
		break;
	case SMTP_VERB_BDAT: {
		count(s, C_BDAT);
		unsigned long long size;
		bool last;
		struct smtp_reply err;
		if (smtp_parse_bdat(arg, &size, &last, &err) != 0) {
			/* Without a valid size the chunk cannot be skipped: end the session. */
			reply(s, err.code, err.enhanced, "%s", err.text);
			s->quit = true;
		} else {
			cmd_bdat(s, size, last);
			if (last)
				forgive_after_message(s);
		}
		break;
	}
	case SMTP_VERB_RSET:
		count(s, C_RSET);
		session_reset_transaction(s);
		reply(s, 250, "2.0.0", "Ok");
		count_junk(s);
		break;
	case SMTP_VERB_NOOP:
		count(s, C_NOOP);
		reply(s, 250, "2.0.0", "Ok");
		count_junk(s);
		break;
	case SMTP_VERB_VRFY:
		count(s, C_VRFY);
		cmd_vrfy(s, arg);
		count_junk(s);
		break;
	case SMTP_VERB_HELP:
		count(s, C_HELP);
		cmd_help(s);
		count_junk(s);
		break;
	case SMTP_VERB_QUIT:
		count(s, C_QUIT);
		reply(s, 221, "2.0.0", "Bye");
		s->quit = true;
		break;
	default:
		count(s, C_UNKNOWN);
		if (smtpd_milter_unknown(s, line)) {
			session_error(s);
			break;
		}
		reply(s, 502, "5.5.2", "Error: command not recognized");
		session_error(s);
		break;
	}
}

/* True if the client talked before the greeting. */
static bool early_talker(struct session *s)
{
	struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
	return poll(&pfd, 1, (int)s->cfg->greet_pause_ms) > 0;
}

/* Before closing, read what the client still sends for a moment, so that
 * a refusal it has not read yet is not destroyed by a TCP reset. A client
 * that said QUIT and sent nothing after it has read its last reply and
 * closes by itself: waiting for that would cost a wake-up per session.
 * Nor is there anything to protect once it has closed (nothing unread
 * here: the close sends no reset) or reset the connection itself. */
static void drain_input(struct session *s)
{
	char byte;
	if (s->counts[C_QUIT] > 0 && stream_buffered(s->stream) == 0) {
		ssize_t n = recv(s->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EINTR))
			return;
	}
	shutdown(s->fd, SHUT_WR);
	char buf[4096];
	struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
	for (int i = 0; i < 16 && poll(&pfd, 1, 200) == 1; i++)
		if (read(s->fd, buf, sizeof(buf)) <= 0)
			break;
}

static void log_disconnect(struct session *s)
{
	struct str line = STR_INIT;
	str_printf(&line, "disconnect from %s", session_client(s));
	for (size_t i = 0; i < sizeof(count_names) / sizeof(count_names[0]); i++)
		if (s->counts[i])
			str_printf(&line, " %s=%u", count_names[i], s->counts[i]);
	str_printf(&line, " commands=%u", s->total_commands);
	log_info("%s", str_cstr(&line));
	str_free(&line);
}

static void command_loop(struct session *s)
{
	struct str line = STR_INIT;
	while (!s->quit) {
		/* Pipelining: answer a whole group of commands at once. */
		if (stream_buffered(s->stream) == 0) {
			if (stream_flush(s->stream) != STREAM_OK)
				break;
			/* While the client reads the reply: the next queue file
			 * (none for a proxying smtpd, which queues nothing). */
			if (!proxy_filter_enabled(s->cfg))
				queue_writer_prepare(s->cfg->queue_dir);
		}
		bool had_cr = false;
		enum stream_status st =
		    stream_read_line(s->stream, &line, (size_t)s->cfg->line_length_limit, &had_cr);
		if (st == STREAM_TOO_LONG) {
			reply(s, 500, "5.5.2", "Error: line too long");
			if (session_error(s))
				break;
			continue;
		}
		if (st == STREAM_TIMEOUT) {
			reply(s, 421, "4.4.2", "%s Error: timeout exceeded", s->cfg->hostname);
			log_info("timeout after %s from %s",
			         s->total_commands ? "command" : "CONNECT", session_client(s));
			break;
		}
		if (st != STREAM_OK) {
			if (!s->quit)
				log_info("lost connection from %s", session_client(s));
			break;
		}
		notice_record_in(s, line.data, line.len);
		if (!had_cr && s->cfg->bare_newline == BARE_REJECT) {
			const char *ignored;
			reply(s, 500, "5.5.2",
			      "Error: bare <LF> received; lines must end in <CR><LF>");
			session_log_reject(
			    s, smtp_verb_name(smtp_command_parse(str_cstr(&line), &ignored)), NULL,
			    NULL);
			if (session_error(s))
				break;
			continue;
		}
		if (memchr(line.data, '\0', line.len) || memchr(line.data, '\r', line.len)) {
			reply(s, 500, "5.5.2", "Error: invalid characters in command");
			if (session_error(s))
				break;
			continue;
		}
		dispatch(s, str_cstr(&line));
	}
	stream_flush(s->stream);
	str_free(&line);
}

void session_run(const struct smtpd_settings *cfg, int fd)
{
	struct session s = {.cfg = cfg, .fd = fd, .where = "CONNECT"};
	queue_envelope_init(&s.env);
	sock_peer_name(fd, s.client_addr, sizeof(s.client_addr), s.client_port,
	               sizeof(s.client_port));
	s.stream = stream_new(fd, (int)cfg->timeout_ms);
	if (cfg->upstream_proxy && !smtpd_read_proxy_header(&s)) {
		session_reset_transaction(&s);
		stream_free(s.stream);
		return;
	}
	xforward_session_start(&s);
	client_name_lookup(&s);
	log_info("connect from %s", session_client(&s));
	if (cfg->wrapper_mode) {
		/* Over the new-session limit: closed before the handshake (a
		 * reply in clear would be garbage to a TLS client). */
		if (newtls_rate_exceeded(&s))
			goto done;
		const char *error;
		s.tls = tls_accept(cfg->tls, fd, (int)cfg->starttls_timeout_ms, &error);
		if (s.tls == NULL) {
			log_info("%s: TLS handshake failed: %s", session_client(&s), error);
			goto done;
		}
		newtls_handshake_done(&s);
		tls_session_attach(s.tls, s.stream);
		log_tls(&s);
		clientcerts_session_start(&s);
	}
	if (!client_limit_take(cfg, s.client_addr)) {
		reply(&s, 421, "4.7.0", "%s Error: too many connections from %s", cfg->hostname,
		      s.client_addr);
		stream_flush(s.stream);
		log_warn("too many connections from %s", session_client(&s));
		goto done;
	}
	long long rate = cfg->connection_rate_limit > 0
	                     ? client_rate_count(cfg, s.client_addr, CLIENT_EVENT_CONNECT)
	                     : 0;
	if (rate > cfg->connection_rate_limit && cfg->connection_rate_limit > 0) {
		reply(&s, 421, "4.7.0", "%s Error: too many connections from %s", cfg->hostname,
		      s.client_addr);
		stream_flush(s.stream);
		log_warn("Connection rate limit exceeded: %lld from %s for service %s", rate,
		         session_client(&s), cfg->service_name);
		goto done;
	}
	if (!s.tls && cfg->greet_pause_ms >= 0 && early_talker(&s)) {
		reply(&s, 554, "5.5.1",
		      "Error: SMTP protocol synchronization (talked before the greeting)");
		stream_flush(s.stream);
		log_info("reject: pre-greeting traffic from %s", session_client(&s));
		goto done;
	}
	smtpd_milter_connect(&s);
	if (s.milter_shutdown) {
		reply(&s, 421, "4.7.0", "%s Service not available, closing connection",
		      cfg->hostname);
		stream_flush(s.stream);
		goto done;
	}
	reply(&s, 220, NULL, "%s", cfg->banner);
	command_loop(&s);
done:
	drain_input(&s);
	client_limit_release();
	log_disconnect(&s);
	notice_session_end(&s);
	session_reset_transaction(&s);
	smtpd_milter_end(&s);
	free(s.helo);
	free(s.auth_user);
	free(s.auth_method);
	free(s.mail_auth);
	stream_free(s.stream);
	if (s.tls)
		tls_session_close(s.tls);
}

/*
 * smtpd and the milters of smtpd_milters: the chain for one session, the
 * macros smtpd knows (client, TLS, AUTH, envelope, queue id), a log line
 * for each milter decision, and turning a verdict into an SMTP reply.
 * Connect, HELO, MAIL, RCPT, DATA and unknown commands are sent as the
 * client sends them (recipients smtpd rejected only to the filters that
 * asked for them with SMFIP_RCPT_REJ); the message goes to the filters
 * after the final dot (data.c) and their edits are in the queue file
 * before the 250.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/route.h"
#include "milter/milter_conf.h"
#include "smtp/smtp_resp.h"
#include "smtpd/smtpd.h"
#include "util/alloc.h"
#include "util/log.h"
#include "util/sock.h"

/* The transport (want_host false) or next hop of address, in buf. */
static const char *resolved(const struct session *s, const char *address, bool want_host, char *buf,
                            size_t size)
{
	const struct smtpd_settings *c = s->cfg;
	struct mail_route_settings rs = {
	    .mydestination = c->mydestination,
	    .virtual_domains = c->virtual_domains,
	    .relay_domains = c->relay_domains,
	    .relayhost = conf_get(c->conf, "relayhost"),
	    .myhostname = c->hostname,
	    .transport_maps = conf_get(c->conf, "transport_maps"),
	    .local_transport = conf_get(c->conf, "local_transport"),
	    .virtual_transport = conf_get(c->conf, "virtual_transport"),
	    .relay_transport = conf_get(c->conf, "relay_transport"),
	    .default_transport = conf_get(c->conf, "default_transport"),
	    .lookup = policy_table_value,
	};
	struct str transport = STR_INIT, nexthop = STR_INIT;
	mail_route(&rs, address, &transport, &nexthop);
	snprintf(buf, size, "%s", str_cstr(want_host ? &nexthop : &transport));
	str_free(&transport);
	str_free(&nexthop);
	return buf;
}

/* Postfix's values for a rejected recipient, from its reply
 * "550 5.1.1 <a@b>: text": {rcpt_mailer} "error", {rcpt_host} the
 * enhanced status code, {rcpt_addr} the text after it. */
static const char *rejected_macro(const char *reply, const char *key, char *buf, size_t size)
{
	if (strcmp(key, "rcpt_mailer") == 0)
		return "error";
	const char *code = strchr(reply, ' ');
	code = code ? code + 1 : reply + strlen(reply);
	size_t len = strcspn(code, " ");
	if (strcmp(key, "rcpt_host") == 0) {
		snprintf(buf, size, "%.*s", (int)len, code);
		return buf;
	}
	const char *text = code[len] ? code + len + 1 : code + len;
	snprintf(buf, size, "%s", text);
	return buf;
}

static const char *macro(void *ctx, const char *name)
{
	struct session *s = ctx;
	static char buf[600];
	const char *key = name; /* bare: lib/milter took off the braces */
	const struct smtpd_settings *c = s->cfg;
	if (strcmp(key, "j") == 0)
		return c->hostname;
	if (strcmp(key, "daemon_name") == 0)
		return c->milter_daemon_name;
	if (strcmp(key, "v") == 0)
		return c->milter_macro_v;
	if (strcmp(key, "_") == 0) {
		snprintf(buf, sizeof(buf), "%s [%s]", s->client_name, s->client_addr);
		return buf;
	}
	if (strcmp(key, "client_addr") == 0)
		return s->client_addr;
	if (strcmp(key, "client_port") == 0)
		return s->client_port;
	if (strcmp(key, "client_name") == 0)
		return s->client_name;
	if (strcmp(key, "client_ptr") == 0) /* the PTR name, verified or not */
		return s->reverse_name;
	if (strcmp(key, "daemon_addr") == 0 || strcmp(key, "daemon_port") == 0) {
		char addr[64], port[16];
		if (session_server_address(s, addr, sizeof(addr), port, sizeof(port)) != 0)
			return NULL;
		snprintf(buf, sizeof(buf), "%s", key[7] == 'a' ? addr : port);
		return buf;
	}
	if (strcmp(key, "tls_version") == 0)
		return s->tls ? tls_session_protocol(s->tls) : NULL;
	if (strcmp(key, "cipher") == 0)
		return s->tls ? tls_session_cipher(s->tls) : NULL;
	if (strcmp(key, "cipher_bits") == 0) {
		if (s->tls == NULL)
			return NULL;
		snprintf(buf, sizeof(buf), "%d", tls_session_cipher_bits(s->tls));
		return buf;
	}
	if (strcmp(key, "cert_subject") == 0 || strcmp(key, "cert_issuer") == 0) {
		if (s->tls == NULL)
			return NULL;
		char *cert_name = key[5] == 's' ? tls_session_peer_subject(s->tls)
		                                : tls_session_peer_issuer(s->tls);
		if (cert_name == NULL)
			return NULL;
		snprintf(buf, sizeof(buf), "%s", cert_name);
		free(cert_name);
		return buf;
	}
	if (strcmp(key, "auth_type") == 0)
		return s->auth_user ? s->auth_method : NULL;
	if (strcmp(key, "auth_authen") == 0)
		return s->auth_user;
	if (strcmp(key, "i") == 0)
		return s->queue_id[0] ? s->queue_id : NULL;
	if (strcmp(key, "auth_author") == 0)
		return s->in_transaction ? s->mail_auth : NULL;
	if (strcmp(key, "mail_addr") == 0)
		return s->in_transaction ? s->env.sender : NULL;
	if (strcmp(key, "mail_mailer") == 0 || strcmp(key, "mail_host") == 0) {
		if (!s->in_transaction)
			return NULL;
		return resolved(s, s->env.sender, key[5] == 'h', buf, sizeof(buf));
	}
	if (strcmp(key, "rcpt_addr") == 0 || strcmp(key, "rcpt_mailer") == 0 ||
	    strcmp(key, "rcpt_host") == 0) {
		if (s->milter_rcpt == NULL)
			return NULL;
		if (s->milter_rcpt_reject)
			return rejected_macro(s->milter_rcpt_reject, key, buf, sizeof(buf));
		if (key[5] == 'a')
			return s->milter_rcpt;
		return resolved(s, s->milter_rcpt, key[5] == 'h', buf, sizeof(buf));
	}
	return NULL;
}

static void log_line(void *ctx, bool warning, const char *line)
{
	struct session *s = ctx;
	const char *id = s->queue_id[0] ? s->queue_id : "NOQUEUE";
	if (warning)
		log_warn("%s: %s; client=%s", id, line, session_client(s));
	else
		log_info("%s: %s; client=%s", id, line, session_client(s));
}

/* smtpd_milter_maps (Postfix 3.2): the milters for this client, looked
 * up by its address in each table in turn, in place of smtpd_milters;
 * DISABLE: none. Into value: 1 found, 0 not (smtpd_milters apply), -1 a
 * table could not be read (logged; smtpd_milters apply, so that mail is
 * not let through unfiltered). */
static int client_milters(const struct session *s, struct str *value)
{
	char *const *maps = conf_get_list(s->cfg->conf, "smtpd_milter_maps");
	for (size_t i = 0; maps[i] != NULL; i++) {
		int rc = policy_table_value(maps[i], s->client_addr, value);
		if (rc != 0)
			return rc;
	}
	return 0;
}

void smtpd_milter_connect(struct session *s)
{
	if (s->cfg->receive_options & RECEIVE_NO_MILTERS)
		return;
	const char *list = conf_get(s->cfg->conf, "smtpd_milters");
	struct str mapped = STR_INIT;
	const char *error = "";
	if (client_milters(s, &mapped) == 1) {
		const char *value = str_cstr(&mapped);
		if (strcasecmp(value, "DISABLE") == 0) {
			str_free(&mapped);
			return;
		}
		s->milters =
		    milter_chain_new(value, &s->cfg->milter_defaults, macro, log_line, s, &error);
		if (s->milters == NULL)
			/* A value that is no milter list: the default ones. */
			log_warn("%s: smtpd_milter_maps value \"%s\": %s; smtpd_milters are used",
			         session_client(s), value, error);
	}
	str_free(&mapped);
	if (s->milters == NULL && *list != '\0') {
		s->milters =
		    milter_chain_new(list, &s->cfg->milter_defaults, macro, log_line, s, &error);
		if (s->milters == NULL) /* checked at start-up; cannot happen after that */
			log_error("smtpd_milters: %s", error);
	}
	if (s->milters == NULL)
		return;
	char family = strchr(s->client_addr, ':') ? '6' : '4';
	struct milter_verdict v = {0};
	milter_connect(s->milters, s->client_name, family, s->client_addr,
	               (unsigned)atoi(s->client_port), &v);
	if (v.action == MILTER_SHUTDOWN)
		s->milter_shutdown = true;
	milter_verdict_clear(&v);
}

void smtpd_milter_end(struct session *s)
{
	milter_chain_free(s->milters);
	s->milters = NULL;
}

/* Send the reply of a verdict (multi-line replies as they came). */
static void send_verdict_reply(struct session *s, const struct milter_verdict *v)
{
	const char *text = v->reply;
	if (text == NULL)
		text = v->action == MILTER_REJECT
		           ? "550 5.7.1 Command rejected"
		           : "451 4.7.1 Service unavailable - try again later";
	char *sent = xstrdup(text);
	if (s->cfg->soft_bounce)
		smtp_reply_soften(sent);
	stream_write(s->stream, sent, strlen(sent));
	stream_write(s->stream, "\r\n", 2);
	free(sent);
}

bool smtpd_milter_refused(struct session *s, struct milter_verdict *v)
{
	switch (v->action) {
	case MILTER_REJECT:
	case MILTER_TEMPFAIL:
		send_verdict_reply(s, v);
		milter_verdict_clear(v);
		return true;
	case MILTER_SHUTDOWN:
		send_verdict_reply(s, v);
		s->quit = true;
		milter_verdict_clear(v);
		return true;
	case MILTER_DISCARD:
		s->milter_discard = true;
		break;
	default:
		break;
	}
	milter_verdict_clear(v);
	return false;
}

/* "<addr>" followed by the ESMTP parameters of a MAIL or RCPT argument. */
static char **split_args(const char *address, const char *arg)
{
	size_t cap = 8, n = 0;
	char **argv = xcalloc(cap, sizeof(*argv));
	argv[n++] = xasprintf("<%s>", address);
	/* The parameters follow the closing '>' of the path. */
	const char *p = strchr(arg, '>');
	p = p ? p + 1 : arg + strlen(arg);
	while (*p) {
		while (*p == ' ')
			p++;
		size_t len = strcspn(p, " ");
		if (len == 0)
			break;
		if (n + 2 >= cap) {
			cap *= 2;
			argv = xreallocarray(argv, cap, sizeof(*argv));
		}
		argv[n++] = xstrndup(p, len);
		p += len;
	}
	argv[n] = NULL;
	return argv;
}

static void free_args(char **argv)
{
	for (size_t i = 0; argv[i]; i++)
		free(argv[i]);
	free(argv);
}

bool smtpd_milter_helo(struct session *s)
{
	if (s->milters == NULL)
		return false;
	struct milter_verdict v = {0};
	milter_helo(s->milters, s->helo, &v);
	return smtpd_milter_refused(s, &v);
}

bool smtpd_milter_mail(struct session *s, const char *arg)
{
	if (s->milters == NULL)
		return false;
	char **argv = split_args(s->env.sender, arg);
	struct milter_verdict v = {0};
	milter_mail(s->milters, argv, &v);
	free_args(argv);
	return smtpd_milter_refused(s, &v);
}

bool smtpd_milter_rcpt(struct session *s, const char *address, const char *arg)
{
	if (s->milters == NULL || s->milter_discard)
		return false;
	char **argv = split_args(address, arg);
	struct milter_verdict v = {0};
	s->milter_rcpt = address;
	milter_rcpt(s->milters, argv, &v);
	s->milter_rcpt = NULL;
	free_args(argv);
	return smtpd_milter_refused(s, &v);
}

void smtpd_milter_rcpt_rejected(struct session *s, const char *address, const char *arg)
{
	if (s->milters == NULL || s->milter_discard)
		return;
	char **argv = split_args(address, arg);
	s->milter_rcpt = address;
	s->milter_rcpt_reject = s->last_reply;
	milter_rcpt_rejected(s->milters, argv);
	s->milter_rcpt = NULL;
	s->milter_rcpt_reject = NULL;
	free_args(argv);
}

bool smtpd_milter_data(struct session *s)
{
	if (s->milters == NULL || s->milter_discard)
		return false;
	struct milter_verdict v = {0};
	milter_data(s->milters, &v);
	return smtpd_milter_refused(s, &v);
}

bool smtpd_milter_unknown(struct session *s, const char *line)
{
	if (s->milters == NULL)
		return false;
	struct milter_verdict v = {0};
	milter_unknown(s->milters, line, &v);
	return smtpd_milter_refused(s, &v);
}

void smtpd_milter_abort(struct session *s)
{
	if (s->milters)
		milter_abort(s->milters);
	s->milter_discard = false;
}

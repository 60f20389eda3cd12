/*
 * smtpd_proxy_filter: Postfix's before-queue content filter
 * (SMTPD_PROXY_README). A proxying smtpd queues nothing: it passes the
 * client's transaction on to the filter's SMTP server (amavisd-new,
 * spampd, a custom filter), which hands the mail to a second smtpd (one
 * without a proxy filter, the filter's address in its mynetworks) and
 * relays that smtpd's answer. The client hears 250 to its message only
 * once the filter said 2xx after the content, and so only once the
 * second smtpd queued it.
 *
 * What the filter gets, on a connection of its own per transaction:
 *   EHLO smtpd_proxy_ehlo; XFORWARD with the client's NAME ADDR PORT PROTO
 *   HELO IDENT (our id) SOURCE LOGIN when the filter offers it; MAIL FROM
 *   with the client's SIZE, BODY, SMTPUTF8, RET and ENVID (those the
 *   filter offers); each RCPT TO with NOTIFY and ORCPT when it offers DSN;
 *   DATA; the content as smtpd would queue it (its Received header,
 *   header_checks' and milters' edits), dot-stuffed; "."; then QUIT.
 *
 * Without smtpd_proxy_options = speed_adjust the connection is made when
 * smtpd accepts MAIL, and MAIL and each RCPT go to the filter as the
 * client sends them: the filter's replies are the client's. The content
 * goes to the filter as it arrives (without milters: with them it is held
 * for them, and sent after they are done). With speed_adjust the filter
 * sees nothing until the message is complete; then the whole transaction
 * goes to it, and a refusal of any part is the reply to the end of data.
 *
 * A filter that cannot be reached, times out (smtpd_proxy_timeout, for
 * the connection and each reply) or breaks the protocol gets the client
 * "451 4.3.0 Error: queue file write error" and a warning in the log; a
 * filter's own 4NN or 5NN goes to the client verbatim, logged as
 * Postfix logs it ("proxy-reject: END-OF-MESSAGE from ..."). Replies are
 * read with lib/smtp's reply parser.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/queue.h"
#include "policy/policy_proto.h"
#include "smtp/queued_as.h"
#include "smtp/smtp_resp.h"
#include "smtp/wire_lines.h"
#include "smtp/xforward.h"
#include "smtp/xtext.h"
#include "smtpd/smtpd.h"
#include "util/alloc.h"
#include "util/log.h"
#include "util/sock.h"
#include "util/stream.h"

#define REPLY_LINE_MAX 4096  /* bytes of one reply line from the filter */
#define QUIT_TIMEOUT_MS 2000 /* for the reply to QUIT, at most */
#define LOG_REPLY_MAX 500    /* of a reply in a log line */

/* Where the filter listens (from smtpd_proxy_filter). */
static struct policy_endpoint endpoint;

struct proxy_filter {
	struct stream *stream; /* NULL if the connection was never made */
	struct smtp_ehlo ehlo;
	struct smtp_resp resp; /* the last reply */
	struct str line;
	struct str cmd;
	struct wire_lines wire;
	struct str wire_out;
	bool in_content; /* DATA was answered 354, "." not sent yet */
	bool broken;     /* the connection is unusable; error says why */
	bool warned;     /* error is logged */
	char *error;
	char *sender;   /* as sent with MAIL, to notice a milter's change */
	long long size; /* content bytes given to the filter */
	size_t rcpts;   /* recipients it accepted */
};

bool proxy_filter_enabled(const struct smtpd_settings *cfg)
{
	return cfg->proxy_filter != NULL && *cfg->proxy_filter != '\0';
}

void proxy_filter_setup(struct smtpd_settings *c, const struct conf *conf)
{
	c->proxy_filter = conf_get(conf, "smtpd_proxy_filter");
	c->proxy_ehlo = conf_get(conf, "smtpd_proxy_ehlo");
	c->proxy_timeout_ms = conf_get_time(conf, "smtpd_proxy_timeout") * 1000;
	c->proxy_speed_adjust = false;
	for (char *const *o = conf_get_list(conf, "smtpd_proxy_options"); o && *o; o++) {
		if (strcasecmp(*o, "speed_adjust") != 0)
			log_fatal("smtpd_proxy_options: unknown option \"%s\"", *o);
		c->proxy_speed_adjust = true;
	}
	if (!proxy_filter_enabled(c))
		return;
	if (c->proxy_timeout_ms <= 0)
		log_fatal("smtpd_proxy_timeout must be at least 1s");
	if (*c->proxy_ehlo == '\0')
		c->proxy_ehlo = c->hostname;
	/* host:port as Postfix takes it, or inet:host:port, or unix:path
	 * (relative to queue_directory, as unix:private/name). */
	const char *spec = c->proxy_filter;
	char *full = strncmp(spec, "inet:", 5) == 0 || strncmp(spec, "unix:", 5) == 0
	                 ? xstrdup(spec)
	                 : xasprintf("inet:%s", spec);
	const char *error;
	policy_endpoint_free(&endpoint);
	if (policy_endpoint_parse(full, c->queue_dir, &endpoint, &error) != 0)
		log_fatal("smtpd_proxy_filter: \"%s\": %s (host:port, inet:host:port or unix:path)",
		          spec, error);
	free(full);
}

/* The id the log lines of the transaction start with. */
static const char *log_id(const struct session *s)
{
	return s->queue_id[0] ? s->queue_id : "NOQUEUE";
}

static void broken(struct proxy_filter *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void broken(struct proxy_filter *p, const char *fmt, ...)
{
	if (p->broken)
		return;
	p->broken = true;
	struct str text = STR_INIT;
	va_list ap;
	va_start(ap, fmt);
	str_vprintf(&text, fmt, ap);
	va_end(ap);
	p->error = str_steal(&text);
	str_free(&text);
}

static const char *io_problem(enum stream_status st)
{
	if (st == STREAM_TIMEOUT)
		return "timeout";
	if (st == STREAM_TOO_LONG)
		return "overlong reply line";
	return "lost connection";
}

/* Read one complete reply into p->resp: 0, or -1 with p broken. */
static int read_reply(struct proxy_filter *p, const char *stage)
{
	smtp_resp_clear(&p->resp);
	for (;;) {
		enum stream_status st = stream_read_line(p->stream, &p->line, REPLY_LINE_MAX, NULL);
		if (st != STREAM_OK) {
			broken(p, "%s while %s", io_problem(st), stage);
			return -1;
		}
		const char *error = "malformed reply";
		enum smtp_resp_step step = smtp_resp_add_line(
		    &p->resp, p->line.data ? p->line.data : "", p->line.len, &error);
		if (step == SMTP_RESP_BAD) {
			struct str shown = STR_INIT;
			for (size_t i = 0; i < p->line.len && i < 100; i++) {
				unsigned char c = (unsigned char)p->line.data[i];
				str_append_char(&shown, c >= 0x20 && c < 0x7f ? (char)c : '?');
			}
			broken(p, "%s while %s: \"%s\"", error, stage, str_cstr(&shown));
			str_free(&shown);
			return -1;
		}
		if (step == SMTP_RESP_DONE)
			return 0;
	}
}

/* Send one command line and read its reply: 0, or -1 with p broken. */
static int command(struct proxy_filter *p, const char *text, const char *stage)
{
	if (p->broken)
		return -1;
	stream_puts(p->stream, text);
	stream_puts(p->stream, "\r\n");
	enum stream_status st = stream_flush(p->stream);
	if (st != STREAM_OK) {
		broken(p, "%s while %s", io_problem(st), stage);
		return -1;
	}
	return read_reply(p, stage);
}

/* The reply, in one line for the log. */
static const char *summary(struct proxy_filter *p)
{
	static struct str text;
	smtp_resp_summary(&p->resp, &text, LOG_REPLY_MAX);
	return str_cstr(&text);
}

/* p->resp must be of class want, else p is broken (with what). */
static void expect(struct proxy_filter *p, int want, const char *what)
{
	if (!p->broken && p->resp.code / 100 != want)
		broken(p, "%s: %s", what, summary(p));
}

/* XFORWARD with the client's attributes, as Postfix's smtpd sends them:
 * the original client's when this smtpd was told them by XFORWARD in
 * turn; IDENT is our id for the transaction. */
static void send_xforward(struct session *s, struct proxy_filter *p)
{
	if (p->broken || p->ehlo.xforward == 0)
		return;
	struct queue_envelope env;
	queue_envelope_init(&env);
	env.client_name = xstrdup(s->client_name);
	env.client_addr = xstrdup(s->client_addr);
	env.client_port = xstrdup(s->client_port);
	env.helo = xstrdup(s->helo ? s->helo : "");
	env.protocol = xstrdup(session_protocol(s));
	env.auth_user = xstrdup(s->auth_user ? s->auth_user : "");
	env.origin = xstrdup("smtp");
	xforward_apply_envelope(s, &env);
	const char *source = strcmp(env.origin, "smtp") == 0 ? "REMOTE" : "LOCAL";
	/* In slot order: NAME ADDR PORT PROTO HELO IDENT SOURCE LOGIN. */
	const char *values[XFORWARD_ATTR_COUNT] = {
	    env.client_name, env.client_addr, env.client_port, env.protocol,
	    env.helo,        s->queue_id,     source,          env.auth_user,
	};
	char **lines = xforward_commands(values, p->ehlo.xforward);
	for (char **l = lines; *l && !p->broken; l++) {
		command(p, *l, "sending XFORWARD");
		expect(p, 2, "XFORWARD refused");
	}
	xforward_commands_free(lines);
	queue_envelope_free(&env);
}

/* Connect, read the greeting, EHLO, XFORWARD. As Postfix, a filter that
 * refuses any of these is in error (the client is not shown a greeting
 * in reply to its MAIL). Never NULL; broken on failure. */
static struct proxy_filter *proxy_open(struct session *s)
{
	const struct smtpd_settings *cfg = s->cfg;
	struct proxy_filter *p = xcalloc(1, sizeof(*p));
	smtp_resp_init(&p->resp);
	const char *error = "";
	int timeout = (int)cfg->proxy_timeout_ms;
	int fd = endpoint.is_unix ? sock_connect_unix(endpoint.path, timeout, &error)
	                          : sock_connect_tcp(endpoint.host, endpoint.port, timeout, &error);
	if (fd < 0) {
		broken(p, "cannot connect: %s", error);
		return p;
	}
	p->stream = stream_new(fd, timeout);
	if (read_reply(p, "receiving the greeting") == 0)
		expect(p, 2, "greeting");
	str_clear(&p->cmd);
	str_printf(&p->cmd, "EHLO %s", cfg->proxy_ehlo);
	if (!p->broken && command(p, str_cstr(&p->cmd), "sending EHLO") == 0) {
		expect(p, 2, "EHLO refused");
		if (!p->broken)
			smtp_ehlo_parse(&p->resp, &p->ehlo);
	}
	send_xforward(s, p);
	return p;
}

/* MAIL FROM with the client's parameters that the filter takes; size is
 * the content's when known (speed_adjust), else 0 for the client's SIZE. */
static void mail_command(struct session *s, struct proxy_filter *p, long long size)
{
	const struct queue_envelope *env = &s->env;
	const struct smtp_ehlo *e = &p->ehlo;
	struct str *cmd = &p->cmd;
	str_clear(cmd);
	str_printf(cmd, "MAIL FROM:<%s>", env->sender);
	if (size <= 0)
		size = s->declared_size;
	if (e->size && size > 0)
		str_printf(cmd, " SIZE=%lld", size);
	if (e->eightbitmime && env->body && *env->body)
		str_printf(cmd, " BODY=%s",
		           strcasecmp(env->body, "BINARYMIME") == 0 ? "8BITMIME" : env->body);
	if (env->smtputf8 && e->smtputf8)
		str_append_cstr(cmd, " SMTPUTF8");
	if (e->dsn) {
		if (env->ret && *env->ret)
			str_printf(cmd, " RET=%s", env->ret);
		if (env->envid && *env->envid) {
			str_append_cstr(cmd, " ENVID=");
			xtext_encode(env->envid, strlen(env->envid), cmd);
		}
	}
	free(p->sender);
	p->sender = xstrdup(env->sender);
}

static void rcpt_command(struct proxy_filter *p, const char *address, const char *orcpt,
                         const char *notify)
{
	struct str *cmd = &p->cmd;
	str_clear(cmd);
	str_printf(cmd, "RCPT TO:<%s>", address);
	if (!p->ehlo.dsn)
		return;
	if (notify && *notify)
		str_printf(cmd, " NOTIFY=%s", notify);
	if (orcpt && strncasecmp(orcpt, "rfc822;", 7) == 0) {
		str_append_cstr(cmd, " ORCPT=rfc822;");
		xtext_encode(orcpt + 7, strlen(orcpt + 7), cmd);
	} else if (orcpt && strncasecmp(orcpt, "utf-8;", 6) == 0) {
		str_append_cstr(cmd, " ORCPT=utf-8;");
		(void)unitext_encode(orcpt + 6, strlen(orcpt + 6), !p->ehlo.smtputf8, cmd);
	}
}

/* The filter's reply to the client, line by line, as it was given. */
static void relay(struct session *s, const struct smtp_resp *r)
{
	const char *text = r->text.data ? r->text.data : "";
	size_t len = r->text.len;
	for (;;) {
		const char *nl = memchr(text, '\n', len);
		if (nl == NULL) {
			reply(s, r->code, NULL, "%.*s", (int)len, text);
			return;
		}
		reply_more(s, r->code, NULL, "%.*s", (int)(nl - text), text);
		len -= (size_t)(nl + 1 - text);
		text = nl + 1;
	}
}

/* The last recipient, for to=<> in the log (as Postfix's), or NULL. */
static const char *last_rcpt(const struct session *s)
{
	return s->env.rcpt_count > 0 ? s->env.rcpts[s->env.rcpt_count - 1].address : NULL;
}

/* The filter failed: 451 to the client, a warning (once) and the
 * refusal in the log. */
static void fail(struct session *s, struct proxy_filter *p, const char *where, const char *rcpt)
{
	if (!p->warned)
		log_warn("%s: proxy filter %s for %s: %s", log_id(s), s->cfg->proxy_filter,
		         session_client(s), p->error ? p->error : "unknown error");
	p->warned = true;
	reply(s, 451, "4.3.0", "Error: queue file write error");
	session_log_event(s, "proxy-reject", where, s->last_reply, rcpt, NULL);
}

/* The filter refused: its reply to the client, and logged. */
static void refused(struct session *s, struct proxy_filter *p, const char *where, const char *rcpt)
{
	relay(s, &p->resp);
	session_log_event(s, "proxy-reject", where, summary(p), rcpt, NULL);
}

int proxy_filter_mail(struct session *s)
{
	if (!proxy_filter_enabled(s->cfg) || s->cfg->proxy_speed_adjust)
		return 0;
	proxy_filter_close(s);
	struct proxy_filter *p = proxy_open(s);
	s->proxy = p;
	if (!p->broken) {
		mail_command(s, p, 0);
		command(p, str_cstr(&p->cmd), "sending MAIL FROM");
	}
	if (p->broken) {
		fail(s, p, "MAIL", NULL);
		proxy_filter_close(s);
		return -1;
	}
	if (p->resp.code / 100 != 2) {
		refused(s, p, "MAIL", NULL);
		proxy_filter_close(s);
		return -1;
	}
	relay(s, &p->resp);
	return 1;
}

int proxy_filter_rcpt(struct session *s, const char *address, const char *orcpt, const char *notify)
{
	struct proxy_filter *p = s->proxy;
	if (p == NULL)
		return 0;
	if (!p->broken) {
		rcpt_command(p, address, orcpt, notify);
		command(p, str_cstr(&p->cmd), "sending RCPT TO");
	}
	if (p->broken) {
		fail(s, p, "RCPT", address);
		return -1;
	}
	if (p->resp.code / 100 != 2) {
		refused(s, p, "RCPT", address);
		return -1;
	}
	p->rcpts++;
	relay(s, &p->resp);
	return 1;
}

/* DATA, and the content's encoding set up: 0 on 354; -1 otherwise (p is
 * broken, or the filter's refusal is in p->resp). */
static int start_content(struct proxy_filter *p)
{
	if (command(p, "DATA", "sending DATA") != 0 || p->resp.code / 100 != 3)
		return -1;
	p->in_content = true;
	wire_lines_init(&p->wire, true, 0);
	return 0;
}

int proxy_filter_data(struct session *s, struct proxy_filter **proxy_r)
{
	*proxy_r = NULL;
	struct proxy_filter *p = s->proxy;
	if (p == NULL || s->milters != NULL)
		return 0;
	if (start_content(p) == 0) {
		*proxy_r = p;
		return 1;
	}
	if (p->broken)
		fail(s, p, "DATA", last_rcpt(s));
	else
		refused(s, p, "DATA", last_rcpt(s));
	return -1;
}

void proxy_filter_put(struct proxy_filter *p, const char *data, size_t len)
{
	if (p->broken || !p->in_content || len == 0)
		return;
	p->size += (long long)len;
	str_clear(&p->wire_out);
	wire_lines_put(&p->wire, data, len, &p->wire_out);
	enum stream_status st = stream_write(p->stream, p->wire_out.data, p->wire_out.len);
	if (st != STREAM_OK)
		broken(p, "%s while sending the message", io_problem(st));
}

/* speed_adjust: the transaction, now that the message is complete
 * (size bytes). 0, or -1 with p broken or the refusal in p->resp. */
static int replay(struct session *s, struct proxy_filter *p, long long size)
{
	if (p->broken)
		return -1;
	mail_command(s, p, size);
	if (command(p, str_cstr(&p->cmd), "sending MAIL FROM") != 0 || p->resp.code / 100 != 2)
		return -1;
	for (size_t i = 0; i < s->env.rcpt_count; i++) {
		const struct queue_rcpt *r = &s->env.rcpts[i];
		rcpt_command(p, r->address, r->orcpt, r->notify);
		if (command(p, str_cstr(&p->cmd), "sending RCPT TO") != 0 ||
		    p->resp.code / 100 != 2)
			return -1;
		p->rcpts++;
	}
	return 0;
}

/* Live mode with milters: what they changed in the envelope after MAIL
 * and RCPT went to the filter cannot follow. */
static void warn_envelope_changes(struct session *s, struct proxy_filter *p)
{
	if (p->rcpts != s->env.rcpt_count || (p->sender && strcmp(p->sender, s->env.sender) != 0))
		log_warn("%s: a milter changed the envelope after it went to proxy filter %s: the "
		         "change is not passed on (smtpd_proxy_options = speed_adjust would)",
		         log_id(s), s->cfg->proxy_filter);
}

void proxy_filter_end(struct session *s, const char *head, size_t head_len, const char *body,
                      size_t body_len)
{
	struct proxy_filter *p = s->proxy;
	const char *where = "END-OF-MESSAGE";
	if (p == NULL) {
		p = proxy_open(s);
		s->proxy = p;
		if (replay(s, p, (long long)(head_len + body_len)) != 0) {
			if (p->broken)
				fail(s, p, where, last_rcpt(s));
			else
				refused(s, p, where, last_rcpt(s));
			return;
		}
	} else if (!p->in_content) {
		warn_envelope_changes(s, p);
	}
	if (!p->in_content && start_content(p) != 0) {
		if (p->broken)
			fail(s, p, where, last_rcpt(s));
		else
			refused(s, p, where, last_rcpt(s));
		return;
	}
	proxy_filter_put(p, head, head_len);
	proxy_filter_put(p, body, body_len);
	if (!p->broken) {
		str_clear(&p->wire_out);
		wire_lines_end(&p->wire, &p->wire_out);
		str_append_cstr(&p->wire_out, ".\r\n");
		stream_write(p->stream, p->wire_out.data, p->wire_out.len);
		p->in_content = false;
		/* command() with the "." already queued. */
		enum stream_status st = stream_flush(p->stream);
		if (st != STREAM_OK)
			broken(p, "%s while sending the end of the message", io_problem(st));
		else
			read_reply(p, "receiving the reply to the end of the message");
	}
	if (p->broken) {
		fail(s, p, where, last_rcpt(s));
		return;
	}
	relay(s, &p->resp);
	if (p->resp.code / 100 != 2) {
		session_log_event(s, "proxy-reject", where, summary(p), last_rcpt(s), NULL);
		return;
	}
	char queued_as[QUEUED_AS_MAX + 1];
	smtp_reply_queued_as(p->resp.text.data ? p->resp.text.data : "", p->resp.text.len,
	                     queued_as, sizeof(queued_as));
	/* smtpd's usual line for a message taken, saying where it went. */
	log_info("%s: from=<%s>, size=%lld, nrcpt=%zu (proxied to %s%s%s)", log_id(s),
	         s->env.sender, p->size, p->rcpts, s->cfg->proxy_filter,
	         queued_as[0] ? ", queued as " : "", queued_as);
}

void proxy_filter_close(struct session *s)
{
	struct proxy_filter *p = s->proxy;
	if (p == NULL)
		return;
	s->proxy = NULL;
	if (p->stream != NULL) {
		/* In the middle of the content, QUIT would be content: only the
		 * close, and the filter drops the message. */
		if (!p->broken && !p->in_content) {
			/* The client's reply first: it need not wait for this. */
			stream_flush(s->stream);
			int timeout = s->cfg->proxy_timeout_ms < QUIT_TIMEOUT_MS
			                  ? (int)s->cfg->proxy_timeout_ms
			                  : QUIT_TIMEOUT_MS;
			stream_set_timeout(p->stream, timeout);
			command(p, "QUIT", "sending QUIT");
		}
		stream_close(p->stream);
	}
	smtp_ehlo_free(&p->ehlo);
	smtp_resp_free(&p->resp);
	str_free(&p->line);
	str_free(&p->cmd);
	str_free(&p->wire_out);
	free(p->error);
	free(p->sender);
	free(p);
}

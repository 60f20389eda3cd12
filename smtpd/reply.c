/*
 * smtpd's replies: one line or several, with smtpd_reject_footer after a
 * 4NN/5NN reply, soft_bounce, a waiting DEFER_IF_REJECT in place of a
 * refusal, and each line in the session's transcript (notice.c). Also
 * the session's names for the log ("name[addr]", the protocol), the log
 * lines of refusals in Postfix's form, and the error count that slows
 * down and then ends a session.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mail/notify_classes.h"
#include "smtp/smtp_resp.h"
#include "smtpd/smtpd.h"
#include "util/log.h"
#include "util/var_expand.h"

static bool name_is(const char *name, size_t len, const char *want)
{
	return strlen(want) == len && memcmp(name, want, len) == 0;
}

/* A $name of smtpd_reject_footer (Postfix's: client_address,
 * client_name, client_port, helo_name, localtime, server_name); another
 * is kept as written. */
static void footer_lookup(struct var_expansion *x, const char *name, size_t len, struct str *out)
{
	const struct session *s = x->context;
	char when[64];
	const char *value = NULL;
	if (name_is(name, len, "client_address")) {
		value = s->client_addr;
	} else if (name_is(name, len, "client_name")) {
		value = s->client_name;
	} else if (name_is(name, len, "client_port")) {
		value = s->client_port;
	} else if (name_is(name, len, "helo_name")) {
		value = s->helo ? s->helo : "";
	} else if (name_is(name, len, "server_name")) {
		value = s->cfg->hostname;
	} else if (name_is(name, len, "localtime")) {
		time_t now = time(NULL);
		struct tm tm;
		localtime_r(&now, &tm);
		strftime(when, sizeof(when), "%b %e %H:%M:%S", &tm);
		value = when;
	}
	if (value == NULL) {
		var_expand_unknown(x, name, len);
		return;
	}
	/* Client-given text (the HELO name) stays one line. */
	size_t at = out->len;
	var_expand_emit(x, out, value, strlen(value));
	for (size_t i = at; i < out->len; i++)
		if ((unsigned char)out->data[i] < 0x20)
			out->data[i] = ' ';
}

/* smtpd_reject_footer, one reply line per "\\n"-separated part, into
 * lines. Only its own $names, as $name or ${name}, are replaced: other
 * '$' text ($$, ${name?text}, unknown names) is kept as it is. */
static void footer_lines(const struct session *s, struct str *lines)
{
	const char *text = s->cfg->reject_footer;
	for (;;) {
		const char *nl = strstr(text, "\\n");
		struct var_expansion x;
		var_expansion_init(&x, footer_lookup, (void *)s);
		x.flags = VAR_EXPAND_LENIENT | VAR_EXPAND_NO_CONDITIONS | VAR_EXPAND_NO_ESCAPE;
		var_expand(&x, text, nl ? (size_t)(nl - text) : strlen(text), lines);
		var_expansion_free(&x);
		str_append_char(lines, '\n');
		if (nl == NULL)
			break;
		text = nl + 2;
	}
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

/*
 * sendmail -bs: a small SMTP server on stdin and stdout for programs that
 * submit mail that way (HELO/EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT).
 * Commands are parsed by lib/smtp; each message is finished like one from
 * the command line (missing headers added) and handed to postdrop before
 * the 250 reply. The peer is the local user, so bare line ends in DATA
 * are accepted and made CRLF.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "sendmail/sendmail.h"
#include "smtp/smtp_command.h"
#include "smtp/smtp_data.h"
#include "util/alloc.h"
#include "util/stream.h"

#define SMTP_LINE_MAX 4096
#define SMTP_TIMEOUT_MS (300 * 1000)

struct session {
	const struct sendmail *sm;
	struct stream *in;
	struct stream *out;
	bool esmtp;
	bool quit;
	bool in_transaction;
	struct drop_envelope env;
	long long rcpt_limit;
};

static void reply(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void reply(struct session *s, const char *fmt, ...)
{
	struct str line = STR_INIT;
	va_list ap;
	va_start(ap, fmt);
	str_vprintf(&line, fmt, ap);
	va_end(ap);
	str_append_cstr(&line, "\r\n");
	if (stream_write(s->out, line.data, line.len) != STREAM_OK ||
	    stream_flush(s->out) != STREAM_OK)
		s->quit = true;
	str_free(&line);
}

static void reply_error(struct session *s, const struct smtp_reply *r)
{
	struct str text = STR_INIT;
	smtp_reply_format(r, &text);
	reply(s, "%s", str_cstr(&text));
	str_free(&text);
}

static void reset(struct session *s)
{
	if (s->in_transaction)
		drop_envelope_free(&s->env);
	s->in_transaction = false;
}

static void cmd_ehlo(struct session *s, bool esmtp, const char *arg)
{
	if (*arg == '\0') {
		reply(s, "501 5.5.4 Syntax: %s hostname", esmtp ? "EHLO" : "HELO");
		return;
	}
	reset(s);
	s->esmtp = esmtp;
	if (!esmtp) {
		reply(s, "250 %s", s->sm->myhostname);
		return;
	}
	reply(s, "250-%s", s->sm->myhostname);
	reply(s, "250-PIPELINING");
	if (s->sm->size_limit > 0)
		reply(s, "250-SIZE %lld", s->sm->size_limit);
	else
		reply(s, "250-SIZE");
	reply(s, "250-8BITMIME");
	reply(s, "250-DSN");
	reply(s, "250-SMTPUTF8");
	reply(s, "250 ENHANCEDSTATUSCODES");
}

static void cmd_mail(struct session *s, const char *arg)
{
	if (s->in_transaction) {
		reply(s, "503 5.5.1 Error: nested MAIL command");
		return;
	}
	struct smtp_mail_params p;
	struct smtp_reply r;
	if (smtp_parse_mail_from_local(arg, s->sm->myorigin, &p, &r) != 0) {
		reply_error(s, &r);
		return;
	}
	if (smtp_mail_params_has_extensions(&p) && !s->esmtp) {
		reply(s, "555 5.5.4 Error: MAIL parameters need EHLO");
	} else if (p.has_size && s->sm->size_limit > 0 && p.size > s->sm->size_limit) {
		reply(s, "552 5.3.4 Error: message size exceeds the limit of %lld bytes",
		      s->sm->size_limit);
	} else if (p.body && strcmp(p.body, "BINARYMIME") == 0) {
		reply(s, "555 5.5.4 Error: BODY=BINARYMIME needs BDAT, which is not offered");
	} else {
		sendmail_envelope_init(s->sm, &s->env);
		drop_envelope_set(&s->env.sender, p.address);
		drop_envelope_set(&s->env.ret, p.ret);
		drop_envelope_set(&s->env.envid, p.envid);
		drop_envelope_set(&s->env.body, p.body);
		s->env.smtputf8 = p.smtputf8;
		s->in_transaction = true;
		reply(s, "250 2.1.0 Ok");
	}
	smtp_mail_params_free(&p);
}

static void cmd_rcpt(struct session *s, const char *arg)
{
	if (!s->in_transaction) {
		reply(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	struct smtp_rcpt_params p;
	struct smtp_reply r;
	if (smtp_parse_rcpt_to_local(arg, s->sm->myorigin, &p, &r) != 0) {
		reply_error(s, &r);
		return;
	}
	char *address =
	    p.postmaster ? xasprintf("postmaster@%s", s->sm->myorigin) : xstrdup(p.address);
	if ((p.notify || p.orcpt) && !s->esmtp) {
		reply(s, "555 5.5.4 Error: RCPT parameters need EHLO");
	} else if (!address_is_ascii(&p.addr) && !s->env.smtputf8) {
		reply(s, "553 5.6.7 Error: non-ASCII address needs SMTPUTF8");
	} else if ((long long)s->env.rcpt_count >= s->rcpt_limit) {
		reply(s, "452 4.5.3 Error: too many recipients");
	} else {
		drop_envelope_add_rcpt(&s->env, address, p.orcpt, p.notify);
		reply(s, "250 2.1.5 Ok");
	}
	free(address);
	smtp_rcpt_params_free(&p);
}

/* Read the DATA stream; false if the input ended before its end. */
static bool read_data(struct session *s, struct str *msg, bool *too_big)
{
	struct smtp_data_decoder dec;
	smtp_data_init(&dec);
	struct str decoded = STR_INIT;
	bool ok = true;
	while (!dec.done) {
		const char *data;
		size_t len;
		if (stream_peek(s->in, &data, &len) != STREAM_OK) {
			ok = false;
			break;
		}
		size_t used = smtp_data_feed(&dec, data, len, &decoded);
		stream_consume(s->in, used);
		if (!*too_big)
			str_append(msg, decoded.data, decoded.len);
		str_clear(&decoded);
		if (s->sm->size_limit > 0 && (long long)msg->len > s->sm->size_limit) {
			*too_big = true;
			str_clear(msg);
		}
	}
	str_free(&decoded);
	return ok;
}

static void cmd_data(struct session *s)
{
	if (!s->in_transaction) {
		reply(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (s->env.rcpt_count == 0) {
		reply(s, "554 5.5.1 Error: no valid recipients");
		return;
	}
	reply(s, "354 End data with <CR><LF>.<CR><LF>");
	struct str msg = STR_INIT;
	bool too_big = false;
	if (!read_data(s, &msg, &too_big)) {
		str_free(&msg);
		s->quit = true;
		return;
	}
	const char *error = NULL;
	struct message_options mo = {false, false, s->env.sender, s->sm->full_name,
	                             s->sm->myhostname};
	if (too_big) {
		reply(s, "552 5.3.4 Error: message size exceeds the limit of %lld bytes",
		      s->sm->size_limit);
	} else if (message_finish(&msg, &mo, NULL, &error) != 0) {
		reply(s, "554 5.6.0 Error: %s", error);
	} else if (submit_message(s->sm, &s->env, &msg) != EX_OK) {
		reply(s, "451 4.3.0 Error: queue file write error");
	} else {
		reply(s, "250 2.0.0 Ok: queued");
	}
	str_free(&msg);
	reset(s);
}

static void dispatch(struct session *s, const char *line)
{
	const char *arg;
	enum smtp_verb verb = smtp_command_parse(line, &arg);
	switch (verb) {
	case SMTP_VERB_HELO:
	case SMTP_VERB_EHLO:
		cmd_ehlo(s, verb == SMTP_VERB_EHLO, arg);
		break;
	case SMTP_VERB_MAIL:
		cmd_mail(s, arg);
		break;
	case SMTP_VERB_RCPT:
		cmd_rcpt(s, arg);
		break;
	case SMTP_VERB_DATA:
		cmd_data(s);
		break;
	case SMTP_VERB_RSET:
		reset(s);
		reply(s, "250 2.0.0 Ok");
		break;
	case SMTP_VERB_NOOP:
		reply(s, "250 2.0.0 Ok");
		break;
	case SMTP_VERB_QUIT:
		reply(s, "221 2.0.0 Bye");
		s->quit = true;
		break;
	case SMTP_VERB_HELP:
		reply(s, "214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA RSET NOOP QUIT");
		break;
	case SMTP_VERB_VRFY:
	case SMTP_VERB_EXPN:
		reply(s, "502 5.5.1 Error: %s is not offered", smtp_verb_name(verb));
		break;
	case SMTP_VERB_BDAT:
	case SMTP_VERB_STARTTLS:
	case SMTP_VERB_AUTH:
	case SMTP_VERB_ETRN:
	case SMTP_VERB_XFORWARD:
		reply(s, "502 5.5.1 Error: %s is not offered here", smtp_verb_name(verb));
		break;
	case SMTP_VERB_UNKNOWN:
		reply(s, "502 5.5.2 Error: command not recognized");
		break;
	}
}

int smtp_session_run(const struct sendmail *sm)
{
	struct session s = {0};
	s.sm = sm;
	s.in = stream_new(STDIN_FILENO, SMTP_TIMEOUT_MS);
	s.out = stream_new(STDOUT_FILENO, SMTP_TIMEOUT_MS);
	s.rcpt_limit = conf_get_int(sm->conf, "smtpd_recipient_limit");
	if (s.rcpt_limit <= 0 || s.rcpt_limit > DROP_MAX_RCPTS)
		s.rcpt_limit = DROP_MAX_RCPTS;
	reply(&s, "220 %s", conf_get(sm->conf, "smtpd_banner"));
	struct str line = STR_INIT;
	while (!s.quit) {
		enum stream_status st = stream_read_line(s.in, &line, SMTP_LINE_MAX, NULL);
		if (st == STREAM_TOO_LONG) {
			reply(&s, "500 5.5.2 Error: line too long");
			continue;
		}
		if (st != STREAM_OK)
			break;
		if (memchr(line.data ? line.data : "", '\0', line.len) != NULL ||
		    memchr(line.data ? line.data : "", '\r', line.len) != NULL) {
			reply(&s, "500 5.5.2 Error: bad character in command");
			continue;
		}
		dispatch(&s, str_cstr(&line));
	}
	reset(&s);
	str_free(&line);
	stream_free(s.in);
	stream_free(s.out);
	return EX_OK;
}

/*
 * One mail transaction on an open session: MAIL, RCPT, DATA or BDAT (RFC
 * 3030), pipelined when offered (RFC 2920), with SIZE, BODY, SMTPUTF8 and
 * the DSN parameters passed on (RFC 1870, 6152, 6531, 3461), and the
 * outcome of each recipient from the server's replies. Refusals that can
 * be decided before sending (size, SMTPUTF8, 8-bit content) come first.
 * 8-bit content for a server without 8BITMIME is converted to 7-bit MIME
 * on the way out (lib/mail/mime_7bit.h) unless
 * disable_mime_output_conversion is set. With smtp_generic_maps the
 * envelope addresses and the header section sent are generic.c's
 * rewrites; the content is read through content_read, which puts the
 * rewritten header section in place of the original one. With
 * smtp_send_xforward_command, XFORWARD commands (Postfix's XFORWARD_README)
 * go ahead of MAIL in every transaction to a server that offers XFORWARD,
 * naming the message's original client; pipelined with the rest when the
 * server offers PIPELINING.
 *
 * LMTP (RFC 2033 4.2): after the content (DATA's final dot, or the last
 * BDAT chunk) the server answers once for every recipient it accepted,
 * in RCPT order, and each reply decides its own recipient; when the
 * connection fails among those replies, the recipients not answered yet
 * are deferred and the ones answered keep their outcome.
 *
 * An address verification probe (msg->verify, the request's verify = 1)
 * is the same transaction up to and including the RCPT replies, and no
 * further: no DATA or BDAT, no content. Each RCPT reply decides its
 * recipient, for LMTP too: 2xx delivered (status from the reply, reason
 * "host ... said: <reply>" as for a refusal), 4xx deferred, 5xx bounced;
 * a refused MAIL answers them all, as in a delivery. The transaction is
 * left open: a kept session gets RSET before its next MAIL (session.c,
 * session_reset), another one QUIT.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "mail/mime_7bit.h"
#include "smtp/session.h"
#include "smtp/wire_lines.h"
#include "smtp/xforward.h"
#include "smtp/xtext.h"
#include "util/alloc.h"
#include "util/log.h"

#define BODY_BLOCK (64 * 1024)
#define BDAT_CHUNK (1024 * 1024)

/* The size of the content as sent (with the header section generic.c
 * rewrote). */
static int64_t content_size(const struct smtp_message *msg)
{
	return msg->size - msg->head_used + (msg->head_used > 0 ? (int64_t)msg->head.len : 0);
}

/* Read up to want bytes of the content as sent, from off on: the
 * rewritten header section, then the queue file after the part it
 * replaces. As pread. */
static ssize_t content_read(const struct smtp_message *msg, int64_t off, void *buf, size_t want)
{
	int64_t head = msg->head_used > 0 ? (int64_t)msg->head.len : 0;
	if (off < head) {
		size_t n = (size_t)(head - off) < want ? (size_t)(head - off) : want;
		memcpy(buf, msg->head.data + off, n);
		return (ssize_t)n;
	}
	return pread(msg->fd, buf, want, msg->offset + msg->head_used + (off - head));
}

/* True if the message content has any byte >= 0x80. */
static bool message_has_8bit(const struct smtp_message *msg)
{
	unsigned char buf[BODY_BLOCK];
	int64_t size = content_size(msg);
	for (int64_t off = 0; off < size;) {
		size_t want = (size_t)(size - off < BODY_BLOCK ? size - off : BODY_BLOCK);
		ssize_t n = content_read(msg, off, buf, want);
		if (n <= 0)
			return true; /* unreadable: the send will fail anyway */
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] & 0x80)
				return true;
		off += n;
	}
	return false;
}

/* The first pass of the 7-bit conversion over the whole content. 0, or
 * -1 with the session error set. */
static int scan_mime(struct smtp_session *s, const struct smtp_message *msg, struct mime_7bit *conv)
{
	char buf[BODY_BLOCK];
	int64_t size = content_size(msg);
	for (int64_t off = 0; off < size;) {
		size_t want = (size_t)(size - off < BODY_BLOCK ? size - off : BODY_BLOCK);
		ssize_t n = content_read(msg, off, buf, want);
		if (n <= 0) {
			session_fail(s, "4.3.0", "cannot read the queue file: %s",
			             n < 0 ? strerror(errno) : "short file");
			return -1;
		}
		mime_7bit_scan(conv, buf, (size_t)n);
		off += n;
	}
	mime_7bit_scan_end(conv);
	return 0;
}

/* Read content bytes [off, off + want) in wire form (wire_lines.h) onto
 * out, converted to 7-bit first when conv is set (plain is scratch
 * space). 0, or -1 with the session error set. */
static int read_wire(struct smtp_session *s, const struct smtp_message *msg, int64_t off,
                     size_t want, struct wire_lines *w, struct mime_7bit *conv, struct str *plain,
                     struct str *out)
{
	char buf[BODY_BLOCK];
	for (size_t done = 0; done < want;) {
		size_t n0 = want - done < sizeof(buf) ? want - done : sizeof(buf);
		ssize_t n = content_read(msg, off + (int64_t)done, buf, n0);
		if (n <= 0) {
			session_fail(s, "4.3.0", "cannot read the queue file: %s",
			             n < 0 ? strerror(errno) : "short file");
			return -1;
		}
		if (conv != NULL) {
			str_clear(plain);
			mime_7bit_put(conv, buf, (size_t)n, plain);
			wire_lines_put(w, plain->data, plain->len, out);
		} else {
			wire_lines_put(w, buf, (size_t)n, out);
		}
		done += (size_t)n;
	}
	return 0;
}

/* Send the content in wire form: every line ending in CRLF whatever the
 * queue file holds, dot-stuffed and terminated for DATA, in BDAT chunks
 * otherwise (reading the chunk replies); converted to 7-bit MIME when
 * convert is set. 0, or -1 with the session error set (or *reply_failed
 * when a BDAT chunk was refused). */
static int send_content(struct smtp_session *s, const struct smtp_message *msg, bool bdat,
                        bool convert, bool *reply_failed)
{
	static const char stage[] = "sending message body";
	struct str out = STR_INIT, plain = STR_INIT;
	struct wire_lines w;
	wire_lines_init(&w, !bdat, smtp_cfg.line_length_limit);
	stream_set_timeout(s->stream, smtp_cfg.data_xfer_timeout_ms);
	struct mime_7bit *conv = convert ? mime_7bit_new() : NULL;
	int rc = conv != NULL ? scan_mime(s, msg, conv) : 0;
	int64_t size = content_size(msg);
	for (int64_t off = 0; rc == 0 && (off < size || bdat);) {
		size_t block = bdat ? BDAT_CHUNK : BODY_BLOCK;
		size_t want = (size_t)(size - off < (int64_t)block ? size - off : (int64_t)block);
		bool is_last = off + (int64_t)want >= size;
		str_clear(&out);
		if (read_wire(s, msg, off, want, &w, conv, &plain, &out) != 0) {
			rc = -1;
			break;
		}
		off += (int64_t)want;
		if (is_last && conv != NULL) {
			str_clear(&plain);
			mime_7bit_end(conv, &plain);
			wire_lines_put(&w, plain.data, plain.len, &out);
		}
		if (is_last)
			wire_lines_end(&w, &out);
		if (!bdat) {
			if (stream_write(s->stream, out.data, out.len) != STREAM_OK)
				break;
			continue;
		}
		/* The chunk's size is that of its wire form. */
		char head[64];
		snprintf(head, sizeof(head), "BDAT %zu%s\r\n", out.len, is_last ? " LAST" : "");
		stream_puts(s->stream, head);
		stream_write(s->stream, out.data, out.len);
		int tmo = is_last ? smtp_cfg.data_done_timeout_ms : smtp_cfg.data_xfer_timeout_ms;
		if (session_flush(s, smtp_cfg.data_xfer_timeout_ms, stage) != 0 ||
		    session_read_reply(
		        s, tmo,
		        is_last ? "sending end of data -- message may be sent more than once"
		                : stage) != 0) {
			rc = -1;
			break;
		}
		if (!is_last && s->resp.code / 100 != 2) {
			*reply_failed = true;
			rc = -1;
			break;
		}
		if (is_last)
			break;
	}
	str_free(&out);
	str_free(&plain);
	mime_7bit_free(conv);
	if (rc != 0 || bdat)
		return rc;
	stream_puts(s->stream, ".\r\n");
	if (session_flush(s, smtp_cfg.data_xfer_timeout_ms, stage) != 0)
		return -1;
	return session_read_reply(s, smtp_cfg.data_done_timeout_ms,
	                          "sending end of data -- message may be sent more than once");
}

static enum rcpt_outcome outcome_of(int code)
{
	return code / 100 == 2 ? OUT_DELIVERED : code / 100 == 5 ? OUT_BOUNCED : OUT_DEFERRED;
}

/* Give every recipient still open (pending or deferred, accepted or not
 * when all) the current reply. */
static void answer_open(struct smtp_session *s, struct smtp_rcpt *rcpts, size_t count,
                        bool accepted_only, enum rcpt_outcome outcome, const char *status,
                        const char *reason, const char *diagnostic)
{
	for (size_t i = 0; i < count; i++) {
		struct smtp_rcpt *r = &rcpts[i];
		if (!rcpt_open(r))
			continue;
		if (accepted_only && !r->accepted)
			continue;
		rcpt_set(r, outcome, status, reason);
		/* Remote-MTA goes with the reply of that server (a report
		 * reads "host X said: ..."). */
		r->remote_mta = diagnostic ? xstrdup(s->host) : NULL;
		r->diagnostic = diagnostic ? xstrdup(diagnostic) : NULL;
		/* A server that offers DSN got the NOTIFY and ORCPT (RFC 3461
		 * 4.1): its own reports replace a "relayed" one from us. */
		r->dsn_passed = outcome == OUT_DELIVERED && s->esmtp && s->ehlo.dsn;
		free(r->relay);
		r->relay = xstrdup(s->relay);
		free(r->tls);
		r->tls = xstrdup(s->tls_text);
	}
}

static void answer_reply(struct smtp_session *s, struct smtp_rcpt *rcpts, size_t count,
                         bool accepted_only)
{
	enum rcpt_outcome o = outcome_of(s->resp.code);
	const char *dflt = o == OUT_DELIVERED ? "2.0.0" : o == OUT_BOUNCED ? "5.0.0" : "4.0.0";
	char *reason = xasprintf("host %s said: %s", s->relay, str_cstr(&s->summary));
	char *diagnostic = xasprintf("smtp; %s", str_cstr(&s->summary));
	answer_open(s, rcpts, count, accepted_only, o, smtp_resp_status(&s->resp, dflt),
	            o == OUT_DELIVERED ? str_cstr(&s->summary) : reason, diagnostic);
	free(reason);
	free(diagnostic);
}

/* LMTP: the replies after the content, one per accepted recipient in
 * order; the first is in s->resp already. False when the session failed
 * among them: the recipients not answered yet are deferred. */
static bool lmtp_replies(struct smtp_session *s, struct smtp_rcpt *rcpts, size_t count)
{
	bool first = true;
	for (size_t i = 0; i < count; i++) {
		if (!rcpts[i].accepted)
			continue;
		if (!first &&
		    session_read_reply(
		        s, smtp_cfg.data_done_timeout_ms,
		        "sending end of data -- message may be sent more than once") != 0) {
			for (size_t j = i; j < count; j++)
				if (rcpts[j].accepted)
					answer_open(s, &rcpts[j], 1, true, OUT_DEFERRED,
					            s->error_status ? s->error_status : "4.4.2",
					            s->error ? s->error : "session failed", NULL);
			return false;
		}
		first = false;
		answer_reply(s, &rcpts[i], 1, true);
	}
	return true;
}

/* The reply (or replies, LMTP) that end the content. */
static bool content_replies(struct smtp_session *s, struct smtp_rcpt *rcpts, size_t count)
{
	if (smtp_cfg.lmtp)
		return lmtp_replies(s, rcpts, count);
	answer_reply(s, rcpts, count, true);
	return true;
}

/* The reply to one RCPT in s->resp. A refusal decides the recipient at
 * once; an acceptance waits for the content, except in a probe (verify),
 * where it is the answer: delivered, with the reply as a refusal has it. */
static void rcpt_reply(struct smtp_session *s, struct smtp_rcpt *r, bool verify)
{
	if (s->resp.code / 100 != 2) {
		answer_reply(s, r, 1, false);
		return;
	}
	if (!verify) {
		r->accepted = true;
		return;
	}
	char *reason = xasprintf("host %s said: %s", s->relay, str_cstr(&s->summary));
	char *diagnostic = xasprintf("smtp; %s", str_cstr(&s->summary));
	answer_open(s, r, 1, false, OUT_DELIVERED, smtp_resp_status(&s->resp, "2.0.0"), reason,
	            diagnostic);
	r->dsn_passed = false; /* no message went anywhere */
	free(reason);
	free(diagnostic);
}

static void mail_command(struct smtp_session *s, const struct smtp_message *msg, bool send_body,
                         struct str *cmd)
{
	const struct queue_envelope *env = msg->env;
	str_clear(cmd);
	str_printf(cmd, "MAIL FROM:<%s>", msg->generic_sender ? msg->generic_sender : env->sender);
	if (!s->esmtp)
		return;
	if (s->ehlo.size)
		str_printf(cmd, " SIZE=%lld", (long long)content_size(msg));
	if (send_body && s->ehlo.eightbitmime && env->body && *env->body)
		str_printf(cmd, " BODY=%s",
		           strcasecmp(env->body, "BINARYMIME") == 0 ? "8BITMIME" : env->body);
	if (env->smtputf8 && s->ehlo.smtputf8)
		str_append_cstr(cmd, " SMTPUTF8");
	if (s->ehlo.dsn) {
		if (env->ret && *env->ret)
			str_printf(cmd, " RET=%s", env->ret);
		if (env->envid && *env->envid) {
			str_append_cstr(cmd, " ENVID=");
			xtext_encode(env->envid, strlen(env->envid), cmd);
		}
	}
}

static void rcpt_command(struct smtp_session *s, const struct smtp_rcpt *r, struct str *cmd)
{
	str_clear(cmd);
	str_printf(cmd, "RCPT TO:<%s>", r->generic_address ? r->generic_address : r->address);
	if (!s->esmtp || !s->ehlo.dsn)
		return;
	if (r->notify && *r->notify)
		str_printf(cmd, " NOTIFY=%s", r->notify);
	if (r->orcpt && strncasecmp(r->orcpt, "rfc822;", 7) == 0) {
		str_append_cstr(cmd, " ORCPT=rfc822;");
		xtext_encode(r->orcpt + 7, strlen(r->orcpt + 7), cmd);
	} else if (r->orcpt && strncasecmp(r->orcpt, "utf-8;", 6) == 0) {
		str_append_cstr(cmd, " ORCPT=utf-8;");
		(void)unitext_encode(r->orcpt + 6, strlen(r->orcpt + 6), !s->ehlo.smtputf8, cmd);
	}
}

static bool has_8bit(const char *text)
{
	for (; *text; text++)
		if ((unsigned char)*text & 0x80)
			return true;
	return false;
}

/* Whether a message sent with SMTPUTF8 really needs it (RFC 6531 3.2): a
 * UTF-8 envelope address (the sender, a recipient still open) or a UTF-8
 * byte in the header section. Mail that only asked for it goes on as it
 * is to a server without SMTPUTF8, as Postfix does. */
static bool needs_smtputf8(const struct smtp_message *msg, const struct smtp_rcpt *rcpts,
                           size_t count)
{
	if (has_8bit(msg->generic_sender ? msg->generic_sender : msg->env->sender))
		return true;
	for (size_t i = 0; i < count; i++)
		if (rcpts[i].outcome != OUT_DELIVERED && rcpts[i].outcome != OUT_BOUNCED &&
		    has_8bit(rcpts[i].generic_address ? rcpts[i].generic_address
		                                      : rcpts[i].address))
			return true;
	char buf[BODY_BLOCK];
	bool line_start = true; /* an empty line ends the header section */
	int64_t size = content_size(msg);
	for (int64_t off = 0; off < size;) {
		size_t want = (size_t)(size - off < BODY_BLOCK ? size - off : BODY_BLOCK);
		ssize_t n = content_read(msg, off, buf, want);
		if (n <= 0)
			return true; /* unreadable: the send will fail anyway */
		for (ssize_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)buf[i];
			if (c & 0x80)
				return true;
			if (c == '\n') {
				if (line_start)
					return false;
				line_start = true;
			} else if (c != '\r') {
				line_start = false;
			}
		}
		off += n;
	}
	return false;
}

/* Refusals decided before talking: size, SMTPUTF8, 8-bit content. Sets
 * whether BODY= goes with MAIL, and whether the content is converted to
 * 7-bit. */
static bool refuse_early(struct smtp_session *s, const struct smtp_message *msg,
                         struct smtp_rcpt *rcpts, size_t count, bool *send_body_r, bool *convert_r)
{
	const struct queue_envelope *env = msg->env;
	*send_body_r = true;
	*convert_r = false;
	char *reason = NULL;
	const char *status = NULL;
	if (s->ehlo.size_limit > 0 && content_size(msg) > s->ehlo.size_limit) {
		status = "5.3.4";
		reason = xasprintf("message size %lld exceeds size limit %lld of server %s",
		                   (long long)content_size(msg), (long long)s->ehlo.size_limit,
		                   s->relay);
	} else if (env->smtputf8 && !s->ehlo.smtputf8 && needs_smtputf8(msg, rcpts, count)) {
		status = "5.6.7";
		reason =
		    xasprintf("SMTPUTF8 is required, but was not offered by host %s", s->relay);
	} else if (!s->ehlo.eightbitmime && env->body && *env->body &&
	           strcasecmp(env->body, "7BIT") != 0) {
		/* RFC 6152: without 8BITMIME, 8-bit content cannot be sent
		 * as it is. It is converted to 7-bit MIME (section 3, as
		 * Postfix does), unless that is turned off or the body is
		 * binary; content that is 7-bit after all, or converted, goes
		 * without BODY=. */
		bool binary = strcasecmp(env->body, "BINARYMIME") == 0;
		bool has_8bit = message_has_8bit(msg);
		if (has_8bit && !binary && !smtp_cfg.disable_mime_output_conversion) {
			*convert_r = true;
		} else if (has_8bit) {
			status = "5.6.3";
			reason = xasprintf("message has 8-bit content, but host %s does not offer "
			                   "8BITMIME",
			                   s->relay);
		}
		*send_body_r = false;
	}
	if (reason == NULL)
		return false;
	answer_open(s, rcpts, count, false, OUT_BOUNCED, status, reason, NULL);
	free(reason);
	return true;
}

/* A reply to XFORWARD other than 2xx is only logged, as Postfix does: the
 * mail goes on without it. */
static void xforward_reply(struct smtp_session *s)
{
	if (s->resp.code / 100 != 2)
		log_warn("host %s said: %s (in reply to XFORWARD command)", s->relay,
		         str_cstr(&s->summary));
}

/* smtp_send_xforward_command: the client attributes of the message's
 * envelope (what the server that queued it recorded: the original
 * client's, when that server was given them by XFORWARD too), for the
 * attributes the server announced; IDENT is the queue id, SOURCE LOCAL
 * for mail that did not come by SMTP (pickup, notifications). Without
 * pipelining each command is answered before the next; with it they are
 * queued ahead of MAIL and *pending_r says how many replies to read
 * first. 0, or -1 with the session error set. */
static int send_xforward(struct smtp_session *s, const struct smtp_message *msg, bool pipelining,
                         size_t *pending_r)
{
	*pending_r = 0;
	if (!smtp_cfg.send_xforward || !s->esmtp || s->ehlo.xforward == 0)
		return 0;
	const struct queue_envelope *env = msg->env;
	const char *source = NULL;
	if (env->origin != NULL && *env->origin != '\0')
		source = strcmp(env->origin, "smtp") == 0 ? "REMOTE" : "LOCAL";
	/* In slot order: NAME ADDR PORT PROTO HELO IDENT SOURCE LOGIN. */
	const char *values[XFORWARD_ATTR_COUNT] = {
	    env->client_name, env->client_addr, env->client_port, env->protocol,
	    env->helo,        env->id,          source,           env->auth_user,
	};
	char **lines = xforward_commands(values, s->ehlo.xforward);
	int rc = 0;
	for (char **l = lines; rc == 0 && *l; l++) {
		session_put_line(s, *l);
		if (pipelining) {
			(*pending_r)++;
			continue;
		}
		rc = session_flush(s, smtp_cfg.mail_timeout_ms, "sending XFORWARD");
		if (rc == 0)
			rc = session_read_reply(s, smtp_cfg.mail_timeout_ms, "sending XFORWARD");
		if (rc == 0)
			xforward_reply(s);
	}
	xforward_commands_free(lines);
	return rc;
}

/* A kept session's queued RSET, sent and answered on its own when no
 * transaction follows it; false if the session cannot be used. */
static bool rset_alone(struct smtp_session *s)
{
	if (!s->rset_queued)
		return true;
	s->rset_queued = false;
	return session_flush(s, smtp_cfg.rset_timeout_ms, "sending RSET") == 0 &&
	       session_read_reply(s, smtp_cfg.rset_timeout_ms, "sending RSET") == 0 &&
	       s->resp.code / 100 == 2;
}

bool session_deliver(struct smtp_session *s, const struct smtp_message *msg,
                     struct smtp_rcpt *rcpts, size_t count)
{
	bool send_body, convert;
	if (refuse_early(s, msg, rcpts, count, &send_body, &convert))
		return rset_alone(s);
	bool pipelining = s->esmtp && s->ehlo.pipelining;
	bool bdat = s->esmtp && s->ehlo.chunking;
	struct str cmd = STR_INIT;
	bool ok = false;
	size_t open = 0;
	for (size_t i = 0; i < count; i++) {
		rcpts[i].accepted = false;
		rcpts[i].sent = false;
		if (rcpt_open(&rcpts[i]))
			open++;
	}
	if (open == 0)
		return rset_alone(s);
	size_t xforwards;
	if (send_xforward(s, msg, pipelining, &xforwards) != 0)
		goto broken;
	/* MAIL */
	mail_command(s, msg, send_body, &cmd);
	session_put_line(s, str_cstr(&cmd));
	if (!pipelining &&
	    (session_flush(s, smtp_cfg.mail_timeout_ms, "sending MAIL FROM") != 0 ||
	     session_read_reply(s, smtp_cfg.mail_timeout_ms, "sending MAIL FROM") != 0))
		goto broken;
	if (!pipelining && s->resp.code / 100 != 2) {
		answer_reply(s, rcpts, count, false);
		str_free(&cmd);
		return true;
	}
	/* RCPT (and DATA when pipelining) */
	for (size_t i = 0; i < count; i++) {
		struct smtp_rcpt *r = &rcpts[i];
		if (!rcpt_open(r))
			continue;
		rcpt_command(s, r, &cmd);
		session_put_line(s, str_cstr(&cmd));
		r->sent = true;
		if (pipelining)
			continue;
		if (session_flush(s, smtp_cfg.rcpt_timeout_ms, "sending RCPT TO") != 0 ||
		    session_read_reply(s, smtp_cfg.rcpt_timeout_ms, "sending RCPT TO") != 0)
			goto broken;
		rcpt_reply(s, r, msg->verify);
	}
	if (pipelining) {
		if (!bdat && !msg->verify)
			session_put_line(s, "DATA");
		if (session_flush(s, smtp_cfg.mail_timeout_ms, "sending MAIL FROM") != 0)
			goto broken;
		if (s->rset_queued) {
			s->rset_queued = false;
			if (session_read_reply(s, smtp_cfg.rset_timeout_ms, "sending RSET") != 0)
				goto broken;
			if (s->resp.code / 100 != 2) {
				session_fail(s, "4.4.2", "RSET refused on a kept session");
				goto broken;
			}
		}
		for (; xforwards > 0; xforwards--) {
			if (session_read_reply(s, smtp_cfg.mail_timeout_ms, "sending XFORWARD") !=
			    0)
				goto broken;
			xforward_reply(s);
		}
		if (session_read_reply(s, smtp_cfg.mail_timeout_ms, "sending MAIL FROM") != 0)
			goto broken;
		bool mail_ok = s->resp.code / 100 == 2;
		if (!mail_ok)
			answer_reply(s, rcpts, count, false);
		for (size_t i = 0; i < count; i++) {
			struct smtp_rcpt *r = &rcpts[i];
			if (!r->sent)
				continue;
			/* After a failed MAIL the RCPT replies only need reading. */
			if (session_read_reply(s, smtp_cfg.rcpt_timeout_ms, "sending RCPT TO") != 0)
				goto broken;
			if (!mail_ok)
				continue;
			rcpt_reply(s, r, msg->verify);
		}
	}
	if (msg->verify) {
		/* A probe ends here: the RCPT replies were the answers. */
		ok = true;
		goto out;
	}
	size_t accepted = 0;
	for (size_t i = 0; i < count; i++)
		accepted += rcpts[i].accepted;
	if (bdat) {
		if (accepted == 0) {
			ok = true;
			goto out;
		}
		bool chunk_refused = false;
		if (send_content(s, msg, true, convert, &chunk_refused) != 0) {
			if (!chunk_refused)
				goto broken;
			/* A chunk before the last was refused: one reply for all. */
			answer_reply(s, rcpts, count, true);
			ok = true;
			goto out;
		}
		ok = content_replies(s, rcpts, count);
		goto out;
	}
	/* DATA */
	if (!pipelining) {
		if (accepted == 0) {
			ok = true;
			goto out;
		}
		session_put_line(s, "DATA");
		if (session_flush(s, smtp_cfg.data_init_timeout_ms, "sending DATA command") != 0)
			goto broken;
	}
	if (session_read_reply(s, smtp_cfg.data_init_timeout_ms, "sending DATA command") != 0)
		goto broken;
	if (s->resp.code != 354) {
		if (accepted > 0)
			answer_reply(s, rcpts, count, true);
		ok = true;
		goto out;
	}
	if (accepted == 0) {
		/* A server that said 354 with no recipients: end the empty message. */
		session_put_line(s, ".");
		ok = session_flush(s, smtp_cfg.data_done_timeout_ms, "sending end of data") == 0 &&
		     session_read_reply(s, smtp_cfg.data_done_timeout_ms, "sending end of data") ==
		         0;
		if (!ok)
			goto broken;
		goto out;
	}
	bool unused = false;
	if (send_content(s, msg, false, convert, &unused) != 0)
		goto broken;
	ok = content_replies(s, rcpts, count);
out:
	str_free(&cmd);
	return ok;
broken:
	answer_open(s, rcpts, count, false, OUT_DEFERRED,
	            s->error_status ? s->error_status : "4.4.2",
	            s->error ? s->error : "session failed", NULL);
	str_free(&cmd);
	return false;
}

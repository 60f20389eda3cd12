/*
 * Postfix's smtpd postmaster notices: notify_classes policy, protocol,
 * resource and software. smtpd keeps a transcript of each session (the
 * commands in, the replies out) and notes the classes of its error
 * replies; when a session ends that had an error in a class of
 * notify_classes, one notice goes to error_notice_recipient, as Postfix's
 * smtpd_chat_notify() writes it:
 *   From: MAILER-DAEMON@$myhostname, envelope sender <>
 *   Subject: Postern SMTP server: errors from name[addr]
 *   Transcript of session follows.
 *   Out: 220 ...
 *   In:  EHLO ...
 * The notice is queued here with the queue writer (origin "double-bounce":
 * if it cannot be delivered, qmgr logs and drops it), never through SMTP,
 * so it cannot cause another.
 *
 * The class of a reply: the one its sender gave (s->reply_class: the
 * queue file write errors are resource, "too many errors" protocol),
 * else by its enhanced status code, as Postfix's smtpd classes them:
 *   X.7.Y (relay, access, blocklist, rate limit, TLS/AUTH required), and
 *   X.5.3 (too many recipients)                            policy
 *   other X.5.Y (syntax, unknown or out-of-order command), and 500..504
 *   without an enhanced code                               protocol
 *   X.3.1 (insufficient system storage)                    resource
 *   other 4.3.Y (temporary lookup failure, server
 *   configuration error)                                   software
 * Anything else (unknown user 5.1.1, message too big 5.3.4, ...) is none.
 *
 * The transcript is bounded: NOTICE_MAX_LINES lines, NOTICE_MAX_BYTES in
 * all, each line at most NOTICE_LINE_MAX characters, non-printable bytes
 * shown as '?'. When it is full before any notifiable error, it starts
 * again (the session so far had nothing worth a notice); after one, it
 * stops, marked "(transcript truncated)". Message content (DATA, BDAT
 * chunks) and SASL responses never pass through here; an AUTH command's
 * initial response is shown as "*".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mail/dsn.h"
#include "mail/notify_classes.h"
#include "mail/queue.h"
#include "mail/wakeup.h"
#include "smtpd/smtpd.h"
#include "util/alloc.h"
#include "util/log.h"

#define NOTICE_MAX_LINES 100
#define NOTICE_MAX_BYTES 10240
#define NOTICE_LINE_MAX 512
#define NOTICE_CLASSES (NOTIFY_POLICY | NOTIFY_PROTOCOL | NOTIFY_RESOURCE | NOTIFY_SOFTWARE)

unsigned notice_reply_class(const char *line)
{
	if (strlen(line) < 3 || (line[0] != '4' && line[0] != '5'))
		return 0;
	const char *e = line + 4;
	if (strlen(line) > 4 && (e[0] == '4' || e[0] == '5') && e[1] == '.') {
		int subject = atoi(e + 2);
		const char *dot = strchr(e + 2, '.');
		int detail = dot != NULL ? atoi(dot + 1) : -1;
		if (subject == 7 || (subject == 5 && detail == 3))
			return NOTIFY_POLICY;
		if (subject == 5)
			return NOTIFY_PROTOCOL;
		if (subject == 3 && detail == 1)
			return NOTIFY_RESOURCE;
		if (subject == 3 && e[0] == '4')
			return NOTIFY_SOFTWARE;
		return 0;
	}
	int code = atoi(line);
	return code >= 500 && code <= 504 ? NOTIFY_PROTOCOL : 0;
}

static bool notice_due(const struct session *s)
{
	return (s->error_classes & s->cfg->notify_classes & NOTICE_CLASSES) != 0;
}

static void append(struct session *s, const char *prefix, const char *text, size_t len)
{
	if (s->transcript_full)
		return;
	if (len > NOTICE_LINE_MAX)
		len = NOTICE_LINE_MAX;
	if (s->transcript_lines + 1 >= NOTICE_MAX_LINES ||
	    s->transcript.len + len + 8 >= NOTICE_MAX_BYTES) {
		if (notice_due(s)) {
			str_append_cstr(&s->transcript, "(transcript truncated)\n");
			s->transcript_full = true;
			return;
		}
		/* Nothing so far is worth a notice: keep the newest lines. */
		str_clear(&s->transcript);
		str_append_cstr(&s->transcript, "(earlier lines left out)\n");
		s->transcript_lines = 1;
	}
	str_append_cstr(&s->transcript, prefix);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		str_append_char(&s->transcript, c < 0x20 || c >= 0x7f ? '?' : (char)c);
	}
	str_append_char(&s->transcript, '\n');
	s->transcript_lines++;
}

void notice_record_in(struct session *s, const char *line, size_t len)
{
	/* "AUTH mechanism initial-response": the response is a credential. */
	if (len > 5 && strncasecmp(line, "AUTH ", 5) == 0) {
		size_t start = 5 + strspn(line + 5, " ");
		size_t mech = start + strcspn(line + start, " ");
		if (mech < len) {
			struct str masked = STR_INIT;
			str_append(&masked, line, mech);
			str_append_cstr(&masked, " *");
			append(s, "In:  ", masked.data, masked.len);
			str_free(&masked);
			return;
		}
	}
	append(s, "In:  ", line, len);
}

void notice_record_out(struct session *s, const char *line, size_t len, unsigned error_class)
{
	append(s, "Out: ", line, len);
	s->error_classes |= error_class;
}

static const char *class_names(unsigned classes)
{
	static char buf[64];
	snprintf(buf, sizeof(buf), "%s%s%s%s", classes & NOTIFY_POLICY ? " policy" : "",
	         classes & NOTIFY_PROTOCOL ? " protocol" : "",
	         classes & NOTIFY_RESOURCE ? " resource" : "",
	         classes & NOTIFY_SOFTWARE ? " software" : "");
	return buf + 1;
}

static void queue_notice(struct session *s, unsigned classes)
{
	const struct smtpd_settings *cfg = s->cfg;
	struct queue_envelope env;
	queue_envelope_init(&env);
	env.arrival = (int64_t)time(NULL);
	env.sender = xstrdup("");
	env.origin = xstrdup("double-bounce");
	env.protocol = xstrdup("local");
	env.client_name = xstrdup("localhost");
	queue_envelope_add_rcpt(&env, cfg->error_notice_recipient, NULL, NULL);

	struct str text = STR_INIT, date = STR_INIT;
	dsn_format_date(env.arrival, &date);
	str_printf(&text, "Date: %s\r\n", str_cstr(&date));
	str_printf(&text, "From: MAILER-DAEMON@%s (Mail Delivery System)\r\n", cfg->hostname);
	str_printf(&text, "To: <%s> (Postmaster)\r\n", cfg->error_notice_recipient);
	str_printf(&text, "Subject: Postern SMTP server: errors from %s\r\n", session_client(s));
	str_printf(&text, "Auto-Submitted: auto-generated\r\n\r\n");
	str_append_cstr(&text, "Transcript of session follows.\r\n\r\n");
	for (const char *p = str_cstr(&s->transcript); *p;) {
		const char *nl = strchr(p, '\n');
		str_append(&text, p, (size_t)(nl - p));
		str_append(&text, "\r\n", 2);
		p = nl + 1;
	}
	str_printf(&text, "\r\nError classes: %s\r\n", class_names(classes));
	str_append_cstr(&text, "For other details, see the local mail logfile\r\n");

	const char *error = "cannot be queued";
	struct queue_writer *w = queue_writer_open(cfg->queue_dir, &env, &error);
	if (w != NULL && queue_writer_write(w, text.data, text.len, &error) == 0 &&
	    queue_writer_commit(w, "incoming", &error) == 0) {
		log_info("%s: postmaster notice of %s errors from %s to <%s>", queue_writer_id(w),
		         class_names(classes), session_client(s), cfg->error_notice_recipient);
		(void)mail_wakeup(cfg->qmgr_socket, false, 100);
	} else {
		log_warn("postmaster notice of errors from %s: %s", session_client(s), error);
	}
	if (w != NULL)
		queue_writer_abort(w);
	str_free(&date);
	str_free(&text);
	queue_envelope_free(&env);
}

void notice_session_end(struct session *s)
{
	if (notice_due(s))
		queue_notice(s, s->error_classes & s->cfg->notify_classes & NOTICE_CLASSES);
	str_free(&s->transcript);
	s->transcript_lines = 0;
	s->transcript_full = false;
	s->error_classes = 0;
}

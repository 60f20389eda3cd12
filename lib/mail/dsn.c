/*
 * Builder of RFC 3464 delivery status notifications as complete RFC 5322
 * messages (format in dsn.h). Pure: takes the envelope, the per-recipient
 * results and the original content, and appends the message to a string.
 */
#include "mail/dsn.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "util/alloc.h"
#include "util/str.h"

#define FOLD_WIDTH 78
/* Longer peer texts are cut, so no line can exceed RFC 5322's 998 bytes. */
#define MAX_LINE_TEXT 900

enum dsn_kind { DSN_KIND_FAILED, DSN_KIND_DELAYED, DSN_KIND_SUCCESS, DSN_KIND_VERIFY };

static const char *const action_names[] = {"failed",   "delayed",     "delivered",    "relayed",
                                           "expanded", "deliverable", "undeliverable"};

void dsn_format_date(int64_t t, struct str *out)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t tt = (time_t)t;
	struct tm tm;
	if (gmtime_r(&tt, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	str_printf(out, "%s, %d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday % 7], tm.tm_mday,
	           months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Append s with control characters (CR, LF, TAB, DEL ...) as spaces. */
static void append_clean(struct str *out, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		str_append_char(out, *p < 0x20 || *p == 0x7f ? ' ' : (char)*p);
}

static bool has_8bit(const void *data, size_t len)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < len; i++)
		if (p[i] >= 0x80)
			return true;
	return false;
}

/* Append "line" (no line end) folded before spaces so that lines stay near
 * FOLD_WIDTH; continuation lines start with indent. Ends with CRLF. */
static void append_folded(struct str *out, const char *line, const char *indent)
{
	size_t col = 0, len = strlen(line), pos = 0;
	while (pos < len) {
		size_t word_end = pos + 1;
		while (word_end < len && line[word_end] != ' ')
			word_end++;
		if (col > 0 && col + (word_end - pos) > FOLD_WIDTH && line[pos] == ' ') {
			str_append_cstr(out, "\r\n");
			str_append_cstr(out, indent);
			col = strlen(indent);
			pos++; /* the space is replaced by the line break + indent */
			continue;
		}
		str_append(out, line + pos, word_end - pos);
		col += word_end - pos;
		pos = word_end;
	}
	str_append_cstr(out, "\r\n");
}

static void append_field(struct str *out, const char *name, const char *value)
{
	struct str line = STR_INIT;
	str_printf(&line, "%s: ", name);
	append_clean(&line, value);
	if (line.len > MAX_LINE_TEXT)
		str_truncate(&line, MAX_LINE_TEXT);
	append_folded(out, str_cstr(&line), " ");
	str_free(&line);
}

static bool valid_status(const char *s)
{
	if (s == NULL || (s[0] != '2' && s[0] != '4' && s[0] != '5'))
		return false;
	s++;
	for (int part = 0; part < 2; part++) {
		if (*s++ != '.')
			return false;
		int digits = 0;
		while (*s >= '0' && *s <= '9' && digits < 4)
			s++, digits++;
		if (digits == 0 || digits > 3)
			return false;
	}
	return *s == '\0';
}

/* A host name or address literal: no white space, controls or specials. */
static bool valid_host(const char *s)
{
	if (s == NULL || *s == '\0' || strlen(s) > 255)
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f || strchr("<>()\",;@\\", *p) != NULL)
			return false;
	return true;
}

static int check_report(const struct dsn_report *r, const char **error_r)
{
	if (r->env == NULL || r->env->sender == NULL) {
		*error_r = "no envelope";
		return -1;
	}
	if (r->notify_to == NULL && r->env->sender[0] == '\0') {
		*error_r = "no notification is sent to the null sender";
		return -1;
	}
	if (r->notify_to != NULL && r->notify_to[0] == '\0') {
		*error_r = "no recipient for the notification";
		return -1;
	}
	if (r->rcpt_count == 0) {
		*error_r = "delivery status notification without recipients";
		return -1;
	}
	if (!valid_host(r->reporting_mta)) {
		*error_r = "invalid reporting MTA name";
		return -1;
	}
	for (size_t i = 0; i < r->rcpt_count; i++) {
		const struct dsn_rcpt *rc = &r->rcpts[i];
		if (rc->final_rcpt == NULL || rc->final_rcpt[0] == '\0') {
			*error_r = "recipient without an address";
			return -1;
		}
		if ((unsigned)rc->action > DSN_ACTION_UNDELIVERABLE) {
			*error_r = "invalid recipient action";
			return -1;
		}
		if (!valid_status(rc->status)) {
			*error_r = "invalid recipient status code";
			return -1;
		}
		if (rc->remote_mta != NULL && !valid_host(rc->remote_mta)) {
			*error_r = "invalid remote MTA name";
			return -1;
		}
	}
	return 0;
}

static enum dsn_kind report_kind(const struct dsn_report *r)
{
	if (r->requested)
		return DSN_KIND_VERIFY;
	for (size_t i = 0; i < r->rcpt_count; i++)
		if (r->rcpts[i].action == DSN_ACTION_DELIVERABLE ||
		    r->rcpts[i].action == DSN_ACTION_UNDELIVERABLE)
			return DSN_KIND_VERIFY;
	bool delayed = false;
	for (size_t i = 0; i < r->rcpt_count; i++) {
		if (r->rcpts[i].action == DSN_ACTION_FAILED)
			return DSN_KIND_FAILED;
		if (r->rcpts[i].action == DSN_ACTION_DELAYED)
			delayed = true;
	}
	return delayed ? DSN_KIND_DELAYED : DSN_KIND_SUCCESS;
}

/* The report's template, or NULL for the built-in texts. */
static const struct bounce_template *template_of(const struct dsn_report *r, enum dsn_kind kind)
{
	static const enum bounce_template_kind kinds[] = {
	    [DSN_KIND_FAILED] = BOUNCE_TEMPLATE_FAILURE,
	    [DSN_KIND_DELAYED] = BOUNCE_TEMPLATE_DELAY,
	    [DSN_KIND_SUCCESS] = BOUNCE_TEMPLATE_SUCCESS,
	    [DSN_KIND_VERIFY] = BOUNCE_TEMPLATE_VERIFY};
	if (r->templates == NULL || !r->templates->t[kinds[kind]].set)
		return NULL;
	return &r->templates->t[kinds[kind]];
}

/* ---- part 1: the text for people ---- */

static void append_intro(struct str *t, const struct dsn_report *r, enum dsn_kind kind)
{
	const char *postmaster = r->postmaster != NULL ? r->postmaster : "postmaster";
	str_append_cstr(t, "This is the mail system at host ");
	append_clean(t, r->reporting_mta);
	str_append_cstr(t, ".\r\n\r\n");
	if (kind == DSN_KIND_FAILED) {
		str_append_cstr(
		    t, "I'm sorry to have to inform you that your message could not\r\n"
		       "be delivered to one or more recipients. It's attached below.\r\n\r\n"
		       "For further assistance, please send mail to ");
		append_clean(t, postmaster);
		str_append_cstr(
		    t, ".\r\n\r\nIf you do so, please include this problem report. You can\r\n"
		       "delete your own text from the attached returned message.\r\n");
	} else if (kind == DSN_KIND_DELAYED) {
		int64_t hours = r->now > r->env->arrival ? (r->now - r->env->arrival) / 3600 : 0;
		int64_t until = 0;
		for (size_t i = 0; i < r->rcpt_count; i++)
			if (r->rcpts[i].retry_until > until)
				until = r->rcpts[i].retry_until;
		str_append_cstr(
		    t, "####################################################################\r\n"
		       "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\r\n"
		       "####################################################################\r\n"
		       "\r\n");
		str_printf(t, "Your message could not be delivered for %lld hour%s.\r\n",
		           (long long)hours, hours == 1 ? "" : "s");
		if (until > r->env->arrival && r->env->arrival > 0) {
			int64_t days = (until - r->env->arrival + 43200) / 86400;
			str_printf(t, "It will be retried until it is %lld day%s old.\r\n",
			           (long long)days, days == 1 ? "" : "s");
		}
		str_append_cstr(t, "\r\nFor further assistance, please send mail to ");
		append_clean(t, postmaster);
		str_append_cstr(t, ".\r\n");
	} else if (kind == DSN_KIND_VERIFY) {
		str_append_cstr(t, "Enclosed is the mail delivery report that you requested.\r\n");
	} else {
		str_append_cstr(
		    t, "Your message was successfully delivered to the destination(s)\r\n"
		       "listed below. If the message was delivered to mailbox you will\r\n"
		       "receive no further notifications. Otherwise you may still receive\r\n"
		       "notifications of mail delivery errors from other systems.\r\n");
	}
	str_append_cstr(t, "\r\n                   The mail system\r\n");
}

/* The diagnostic text without its "type; " prefix. */
static const char *diagnostic_text(const char *diag)
{
	const char *semi = strchr(diag, ';');
	if (semi == NULL || strcspn(diag, " ;") != (size_t)(semi - diag))
		return diag;
	semi++;
	while (*semi == ' ')
		semi++;
	return semi;
}

static void append_rcpt_text(struct str *t, const struct dsn_rcpt *rc)
{
	struct str line = STR_INIT;
	str_append_char(&line, '<');
	append_clean(&line, rc->final_rcpt);
	str_append_cstr(&line, ">: ");
	if (rc->remote_mta != NULL) {
		str_append_cstr(&line, "host ");
		append_clean(&line, rc->remote_mta);
		str_append_cstr(&line, " said: ");
	}
	if (rc->diagnostic != NULL && rc->diagnostic[0] != '\0')
		append_clean(&line, diagnostic_text(rc->diagnostic));
	else
		str_printf(&line, "%s (status %s)", action_names[rc->action], rc->status);
	if (line.len > MAX_LINE_TEXT)
		str_truncate(&line, MAX_LINE_TEXT);
	str_append_cstr(t, "\r\n");
	append_folded(t, str_cstr(&line), "    ");
	str_free(&line);
}

/* A template's text, LF line ends made CRLF. */
static void append_template_text(struct str *t, const char *text)
{
	for (const char *p = text; *p; p++) {
		if (*p == '\n')
			str_append_char(t, '\r');
		str_append_char(t, *p);
	}
}

static void build_text_part(struct str *t, const struct dsn_report *r, enum dsn_kind kind)
{
	const struct bounce_template *tpl = template_of(r, kind);
	if (tpl != NULL)
		append_template_text(t, tpl->text);
	else
		append_intro(t, r, kind);
	for (size_t i = 0; i < r->rcpt_count; i++)
		append_rcpt_text(t, &r->rcpts[i]);
}

/* ---- part 2: message/delivery-status ---- */

static void append_address_field(struct str *d, const char *name, const char *addr)
{
	struct str v = STR_INIT;
	str_printf(&v, "%s; %s", has_8bit(addr, strlen(addr)) ? "utf-8" : "rfc822", addr);
	append_field(d, name, str_cstr(&v));
	str_free(&v);
}

static void append_date_field(struct str *d, const char *name, int64_t t)
{
	struct str v = STR_INIT;
	dsn_format_date(t, &v);
	append_field(d, name, str_cstr(&v));
	str_free(&v);
}

static void append_rcpt_status(struct str *d, const struct dsn_rcpt *rc)
{
	str_append_cstr(d, "\r\n");
	append_address_field(d, "Final-Recipient", rc->final_rcpt);
	if (rc->orcpt != NULL && rc->orcpt[0] != '\0') {
		if (strchr(rc->orcpt, ';') != NULL)
			append_field(d, "Original-Recipient", rc->orcpt);
		else
			append_address_field(d, "Original-Recipient", rc->orcpt);
	}
	append_field(d, "Action", action_names[rc->action]);
	append_field(d, "Status", rc->status);
	if (rc->remote_mta != NULL) {
		struct str v = STR_INIT;
		str_printf(&v, "dns; %s", rc->remote_mta);
		append_field(d, "Remote-MTA", str_cstr(&v));
		str_free(&v);
	}
	if (rc->diagnostic != NULL && rc->diagnostic[0] != '\0') {
		struct str v = STR_INIT;
		if (diagnostic_text(rc->diagnostic) == rc->diagnostic)
			str_append_cstr(&v, "x-postern; ");
		str_append_cstr(&v, rc->diagnostic);
		append_field(d, "Diagnostic-Code", str_cstr(&v));
		str_free(&v);
	}
	if (rc->last_attempt > 0)
		append_date_field(d, "Last-Attempt-Date", rc->last_attempt);
	if (rc->action == DSN_ACTION_DELAYED && rc->retry_until > 0)
		append_date_field(d, "Will-Retry-Until", rc->retry_until);
}

/* The per-message fields in RFC 3464's order (section 2.2): Original-
 * Envelope-Id, Reporting-MTA, (DSN-Gateway, Received-From-MTA: not
 * written,) Arrival-Date, then extension fields; then each recipient's. */
static void build_status_part(struct str *d, const struct dsn_report *r)
{
	const struct queue_envelope *env = r->env;
	if (env->envid != NULL && env->envid[0] != '\0')
		append_field(d, "Original-Envelope-Id", env->envid);
	struct str v = STR_INIT;
	str_printf(&v, "dns; %s", r->reporting_mta);
	append_field(d, "Reporting-MTA", str_cstr(&v));
	str_free(&v);
	if (env->arrival > 0)
		append_date_field(d, "Arrival-Date", env->arrival);
	if (env->id[0] != '\0')
		append_field(d, "X-Postern-Queue-ID", env->id);
	append_address_field(d, "X-Postern-Sender", env->sender);
	for (size_t i = 0; i < r->rcpt_count; i++)
		append_rcpt_status(d, &r->rcpts[i]);
}

/* ---- part 3: the original message ---- */

/* Length of the header section (without the empty line ending it). */
static size_t header_length(const char *p, size_t len)
{
	size_t pos = 0;
	while (pos < len) {
		const char *nl = memchr(p + pos, '\n', len - pos);
		size_t line_len = nl ? (size_t)(nl - (p + pos)) : len - pos;
		if (line_len == 0 || (line_len == 1 && p[pos] == '\r'))
			return pos;
		pos += line_len + (nl ? 1 : 0);
	}
	return len;
}

/* Append p[0..len) with bare LF as CRLF, ending with a line end. */
static void append_crlf(struct str *out, const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			str_append_char(out, '\r');
		str_append_char(out, p[i]);
	}
	if (len > 0 && p[len - 1] != '\n')
		str_append_cstr(out, "\r\n");
}

static void build_content_part(struct str *c, const struct dsn_report *r, bool full)
{
	const char *p = r->content != NULL ? r->content : "";
	size_t len = r->content != NULL ? r->content_len : 0;
	if (!full)
		len = header_length(p, len);
	if (len > r->content_limit) {
		size_t cut = r->content_limit;
		while (cut > 0 && p[cut - 1] != '\n')
			cut--;
		len = cut;
	}
	append_crlf(c, p, len);
}

/* ---- the whole message ---- */

/* A boundary that occurs in none of the parts. */
static char *choose_boundary(const struct dsn_report *r, const struct str *parts[3])
{
	for (unsigned n = 0;; n++) {
		char *b = xasprintf("%s.%lld.%u/postern", r->env->id[0] ? r->env->id : "dsn",
		                    (long long)r->now, n);
		bool found = false;
		for (int i = 0; i < 3 && !found; i++)
			found = parts[i]->len > 0 &&
			        memmem(parts[i]->data, parts[i]->len, b, strlen(b)) != NULL;
		if (!found)
			return b;
		free(b);
	}
}

static const char *const subjects[] = {
    "Undelivered Mail Returned to Sender", "Delayed Mail (still being retried)",
    "Successful Mail Delivery Report", "Mail Delivery Status Report"};

static void append_headers(struct str *out, const struct dsn_report *r, enum dsn_kind kind,
                           const char *boundary, bool eight_bit)
{
	struct str v = STR_INIT;
	dsn_format_date(r->now, &v);
	append_field(out, "Date", str_cstr(&v));
	str_clear(&v);
	const struct bounce_template *tpl = template_of(r, kind);
	if (tpl != NULL && tpl->from != NULL) {
		/* An address without a domain (MAILER-DAEMON) gets ours, as
		 * Postfix's cleanup qualifies the template's. */
		size_t word = strcspn(tpl->from, " \t<(");
		if (memchr(tpl->from, '@', word) == NULL && word > 0 && tpl->from[word] != '<')
			str_printf(&v, "%.*s@%s%s", (int)word, tpl->from, r->reporting_mta,
			           tpl->from + word);
		else
			str_append_cstr(&v, tpl->from);
	} else {
		str_printf(&v, "MAILER-DAEMON@%s (Mail Delivery System)", r->reporting_mta);
	}
	append_field(out, "From", str_cstr(&v));
	str_clear(&v);
	str_append_char(&v, '<');
	append_clean(&v, r->notify_to != NULL ? r->notify_to : r->env->sender);
	str_append_char(&v, '>');
	append_field(out, "To", str_cstr(&v));
	const char *subject = subjects[kind];
	if (tpl != NULL && r->postmaster_copy && tpl->postmaster_subject != NULL)
		subject = tpl->postmaster_subject;
	else if (tpl != NULL && tpl->subject != NULL)
		subject = tpl->subject;
	append_field(out, "Subject", subject);
	time_t tt = (time_t)r->now;
	struct tm tm;
	if (gmtime_r(&tt, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	str_clear(&v);
	str_printf(&v, "<%04d%02d%02d%02d%02d%02d.%s.%c@%s>", tm.tm_year + 1900, tm.tm_mon + 1,
	           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, r->env->id[0] ? r->env->id : "dsn",
	           "FDSV"[kind], r -> reporting_mta);
	append_field(out, "Message-ID", str_cstr(&v));
	append_field(out, "Auto-Submitted", "auto-replied");
	append_field(out, "MIME-Version", "1.0");
	str_clear(&v);
	str_printf(&v, "multipart/report; report-type=delivery-status; boundary=\"%s\"", boundary);
	append_field(out, "Content-Type", str_cstr(&v));
	append_field(out, "Content-Transfer-Encoding", eight_bit ? "8bit" : "7bit");
	str_free(&v);
	str_append_cstr(out, "\r\nThis is a MIME-encapsulated message.\r\n");
}

static void append_part(struct str *out, const char *boundary, const char *description,
                        const char *type, const struct str *body)
{
	str_printf(out, "\r\n--%s\r\n", boundary);
	str_printf(out, "Content-Description: %s\r\nContent-Type: %s\r\n", description, type);
	if (has_8bit(body->data, body->len))
		str_append_cstr(out, "Content-Transfer-Encoding: 8bit\r\n");
	str_append_cstr(out, "\r\n");
	str_append(out, body->data, body->len);
}

int dsn_build(const struct dsn_report *report, struct str *out, const char **error_r)
{
	if (check_report(report, error_r) < 0)
		return -1;
	struct dsn_report r = *report;
	if (r.now == 0)
		r.now = (int64_t)time(NULL);
	enum dsn_kind kind = report_kind(&r);
	bool full =
	    kind == DSN_KIND_FAILED && (r.env->ret == NULL || strcasecmp(r.env->ret, "HDRS") != 0);
	struct str text = STR_INIT, status = STR_INIT, content = STR_INIT;
	build_text_part(&text, &r, kind);
	build_status_part(&status, &r);
	build_content_part(&content, &r, full);
	const struct str *parts[3] = {&text, &status, &content};
	char *boundary = choose_boundary(&r, parts);
	bool eight_bit = has_8bit(text.data, text.len) || has_8bit(status.data, status.len) ||
	                 has_8bit(content.data, content.len);

	append_headers(out, &r, kind, boundary, eight_bit);
	const struct bounce_template *tpl = template_of(&r, kind);
	char *text_type =
	    xasprintf("text/plain; charset=%s", tpl != NULL && tpl->charset != NULL ? tpl->charset
	                                        : has_8bit(text.data, text.len)     ? "utf-8"
	                                                                            : "us-ascii");
	append_part(out, boundary, "Notification", text_type, &text);
	free(text_type);
	append_part(out, boundary, "Delivery report", "message/delivery-status", &status);
	if (full)
		append_part(out, boundary, "Undelivered Message", "message/rfc822", &content);
	else
		append_part(out, boundary,
		            kind == DSN_KIND_FAILED ? "Undelivered Message Headers"
		                                    : "Message Headers",
		            "text/rfc822-headers", &content);
	str_printf(out, "\r\n--%s--\r\n", boundary);
	free(boundary);
	str_free(&text);
	str_free(&status);
	str_free(&content);
	return 0;
}

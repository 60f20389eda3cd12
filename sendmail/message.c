/*
 * The message as sendmail queues it: read from stdin with its line ends
 * made CRLF, then finished the way Postfix's cleanup finishes local mail:
 * Bcc fields removed, recipients taken from the header with -t, and From,
 * Date and Message-ID added when they are missing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "mail/queue.h"
#include "sendmail/sendmail.h"
#include "util/alloc.h"
#include "util/base64.h"
#include "util/utf8.h"

#define READ_CHUNK 65536

/* ---- reading ---- */

struct line_reader {
	struct str line;
	struct str *out;
	bool dot_ends;
	bool first_line;
	bool pending_cr;
	bool done;
	long long limit;
	bool too_big;
};

/* One complete line (without its line end). */
static void end_line(struct line_reader *r)
{
	const char *text = str_cstr(&r->line);
	bool first = r->first_line;
	r->first_line = false;
	/* By length: a line may hold NUL bytes (".\0..." is no end). */
	if (r->dot_ends && r->line.len == 1 && text[0] == '.') {
		r->done = true;
	} else if (first && r->line.len >= 5 && memcmp(text, "From ", 5) == 0) {
		/* A UNIX mailbox separator, not a header: dropped as Postfix does. */
	} else {
		str_append(r->out, r->line.data, r->line.len);
		str_append(r->out, "\r\n", 2);
		if (r->limit > 0 && (long long)r->out->len > r->limit)
			r->too_big = true;
	}
	str_clear(&r->line);
}

static void feed(struct line_reader *r, const char *p, size_t len)
{
	for (size_t i = 0; i < len && !r->done && !r->too_big; i++) {
		char c = p[i];
		if (r->pending_cr) {
			r->pending_cr = false;
			end_line(r);
			if (c == '\n' || r->done)
				continue;
		}
		if (c == '\r')
			r->pending_cr = true;
		else if (c == '\n')
			end_line(r);
		else
			str_append_char(&r->line, c);
	}
	/* A line that alone exceeds the limit fails before it ends. */
	if (r->limit > 0 && (long long)(r->out->len + r->line.len) > r->limit)
		r->too_big = true;
}

int message_read(int fd, bool dot_ends, long long limit, struct str *out, const char **error_r)
{
	struct line_reader r = {STR_INIT, out, dot_ends, true, false, false, limit, false};
	char buf[READ_CHUNK];
	int rc = 0;
	while (!r.done && !r.too_big) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*error_r = "read error on standard input";
			rc = -1;
			break;
		}
		if (n == 0) {
			if (r.pending_cr || r.line.len > 0) {
				r.pending_cr = false;
				end_line(&r);
			}
			break;
		}
		feed(&r, buf, (size_t)n);
	}
	if (rc == 0 && r.too_big) {
		*error_r = "message too large (message_size_limit)";
		rc = -1;
	}
	str_free(&r.line);
	return rc;
}

/* ---- the header section ---- */

/* Length of a field name at the start of a line ("name:"), or 0. */
static size_t field_name_len(const char *p, size_t len)
{
	size_t i = 0;
	while (i < len && p[i] > 32 && p[i] < 127 && p[i] != ':')
		i++;
	return i > 0 && i < len && p[i] == ':' ? i : 0;
}

void header_section_scan(const char *text, size_t len, struct header_section *hs)
{
	memset(hs, 0, sizeof(*hs));
	size_t pos = 0;
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t line_end = nl ? (size_t)(nl - text) + 1 : len;
		size_t content_len = line_end - pos;
		while (content_len > 0 &&
		       (text[pos + content_len - 1] == '\n' || text[pos + content_len - 1] == '\r'))
			content_len--;
		if (content_len == 0) {
			hs->has_blank = true;
			break;
		}
		char c = text[pos];
		if ((c == ' ' || c == '\t') && hs->count > 0) {
			hs->fields[hs->count - 1].len = line_end - hs->fields[hs->count - 1].start;
		} else {
			size_t name_len = field_name_len(text + pos, content_len);
			if (name_len == 0)
				break;
			if (hs->count == hs->cap) {
				hs->cap = hs->cap ? hs->cap * 2 : 16;
				hs->fields =
				    xreallocarray(hs->fields, hs->cap, sizeof(*hs->fields));
			}
			hs->fields[hs->count++] =
			    (struct header_field){pos, line_end - pos, name_len};
		}
		pos = line_end;
	}
	hs->end = pos;
}

void header_section_free(struct header_section *hs)
{
	free(hs->fields);
	memset(hs, 0, sizeof(*hs));
}

bool header_field_is(const char *text, const struct header_field *f, const char *name)
{
	return strlen(name) == f->name_len && strncasecmp(text + f->start, name, f->name_len) == 0;
}

/* ---- finishing ---- */

static bool is_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static void encode_words(const char *name, size_t len, struct str *out)
{
	/* Each encoded word stays within 75 characters: at most 45 bytes of
	 * text, cut between UTF-8 characters. */
	size_t pos = 0;
	while (pos < len) {
		size_t take = 0;
		while (pos + take < len) {
			size_t n = utf8_char_len(name + pos + take, len - pos - take, NULL);
			if (n == 0)
				n = 1;
			if (take + n > 45)
				break;
			take += n;
		}
		if (pos > 0)
			str_append_char(out, ' ');
		str_append_cstr(out, "=?UTF-8?B?");
		base64_encode(name + pos, take, out);
		str_append_cstr(out, "?=");
		pos += take;
	}
}

void format_phrase(const char *name, struct str *out)
{
	size_t len = strlen(name);
	bool plain = len > 0 && name[0] != ' ' && name[len - 1] != ' ';
	bool ascii = true;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c >= 0x80)
			ascii = false;
		if (!is_atext(c) && !(c == ' ' && name[i + 1] != ' '))
			plain = false;
	}
	if (!ascii) {
		encode_words(name, len, out);
		return;
	}
	if (plain) {
		str_append(out, name, len);
		return;
	}
	str_append_char(out, '"');
	for (size_t i = 0; i < len; i++) {
		if (name[i] == '"' || name[i] == '\\')
			str_append_char(out, '\\');
		str_append_char(out, name[i]);
	}
	str_append_char(out, '"');
}

static void format_date(struct str *out)
{
	char date[64];
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	str_append_cstr(out, date);
}

static void add_missing(const struct message_options *opts, bool has_from, bool has_date,
                        bool has_msgid, struct str *added)
{
	if (!has_from) {
		str_append_cstr(added, "From: ");
		if (*opts->from_addr == '\0') {
			str_printf(added, "MAILER-DAEMON@%s", opts->msgid_host);
		} else if (opts->full_name && *opts->full_name) {
			format_phrase(opts->full_name, added);
			str_printf(added, " <%s>", opts->from_addr);
		} else {
			str_append_cstr(added, opts->from_addr);
		}
		str_append_cstr(added, "\r\n");
	}
	if (!has_date) {
		str_append_cstr(added, "Date: ");
		format_date(added);
		str_append_cstr(added, "\r\n");
	}
	if (!has_msgid) {
		char id[QUEUE_ID_LEN + 1];
		char stamp[32];
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm);
		queue_id_new(id);
		str_printf(added, "Message-ID: <%s.%s@%s>\r\n", stamp, id, opts->msgid_host);
	}
}

static bool is_bcc(const char *text, const struct header_field *f)
{
	return header_field_is(text, f, "Bcc") || header_field_is(text, f, "Resent-Bcc");
}

static int extract_recipients(const char *text, const struct header_section *hs,
                              struct addrlist *rcpts, const char **error_r)
{
	bool resent = false;
	for (size_t i = 0; i < hs->count; i++)
		if (hs->fields[i].name_len > 7 &&
		    strncasecmp(text + hs->fields[i].start, "Resent-", 7) == 0)
			resent = true;
	static const char *const plain[] = {"To", "Cc", "Bcc"};
	static const char *const resent_names[] = {"Resent-To", "Resent-Cc", "Resent-Bcc"};
	const char *const *names = resent ? resent_names : plain;
	for (size_t i = 0; i < hs->count; i++) {
		const struct header_field *f = &hs->fields[i];
		for (int k = 0; k < 3; k++) {
			if (!header_field_is(text, f, names[k]))
				continue;
			const char *value = text + f->start + f->name_len + 1;
			size_t value_len = f->len - f->name_len - 1;
			if (addrlist_parse(value, value_len, rcpts, error_r) != 0) {
				static char why[128];
				snprintf(why, sizeof(why), "bad address in the %s: header: %s",
				         names[k], *error_r);
				*error_r = why;
				return -1;
			}
		}
	}
	return 0;
}

int message_finish(struct str *msg, const struct message_options *opts, struct addrlist *rcpts,
                   const char **error_r)
{
	struct header_section hs;
	header_section_scan(msg->data ? msg->data : "", msg->len, &hs);
	const char *text = msg->data ? msg->data : "";
	if (opts->extract && extract_recipients(text, &hs, rcpts, error_r) != 0) {
		header_section_free(&hs);
		return -1;
	}
	bool has_from = false, has_date = false, has_msgid = false;
	struct str out = STR_INIT;
	for (size_t i = 0; i < hs.count; i++) {
		const struct header_field *f = &hs.fields[i];
		if (header_field_is(text, f, "From"))
			has_from = true;
		else if (header_field_is(text, f, "Date"))
			has_date = true;
		else if (header_field_is(text, f, "Message-ID"))
			has_msgid = true;
		if (!(opts->remove_bcc && is_bcc(text, f)))
			str_append(&out, text + f->start, f->len);
	}
	add_missing(opts, has_from, has_date, has_msgid, &out);
	/* A body that starts without an empty line gets one. */
	if (!hs.has_blank && hs.end < msg->len)
		str_append_cstr(&out, "\r\n");
	str_append(&out, text + hs.end, msg->len - hs.end);
	header_section_free(&hs);
	str_free(msg);
	*msg = out;
	return 0;
}

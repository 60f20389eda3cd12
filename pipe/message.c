/*
 * The standard input of a pipe command, as Postfix's pipe writes it: a
 * "From SENDER DATE" line (flag F), Return-Path: <SENDER> (R),
 * X-Original-To: ORIGINAL (O), Delivered-To: RECIPIENT (D), then the
 * message, each line with eol= as its end (default LF; the queue's CRLF
 * becomes LF first), a '.' before each line that starts with one (flag
 * '.'), a '>' before each that starts with "From " (flag '>'), and one
 * empty line at the end (flag B). The whole input is built in memory (the
 * message is at most message_size_limit).
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mail/lf_lines.h"
#include "pipe/pipe.h"

/* The content in LF form into out. */
static int read_content(const struct pipe_message *msg, struct str *out, const char **error_r)
{
	char buf[65536];
	struct lf_lines lf;
	lf_lines_init(&lf);
	int64_t pos = 0, size = msg->env->size;
	while (pos < size) {
		size_t want = sizeof(buf);
		if ((int64_t)want > size - pos)
			want = (size_t)(size - pos);
		ssize_t n = pread(msg->fd, buf, want, (off_t)(msg->offset + pos));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*error_r = n < 0 ? strerror(errno) : "queue file is truncated";
			return -1;
		}
		lf_lines_put(&lf, buf, (size_t)n, out);
		pos += n;
	}
	lf_lines_end(&lf, out);
	return 0;
}

/* One line (without its LF) with the flags' quoting and the eol. */
static void put_line(const struct pipe_service *svc, const char *line, size_t len, struct str *out)
{
	unsigned flags = svc->args.flags;
	if ((flags & PIPE_FLAG_DOT_STUFF) && len > 0 && line[0] == '.')
		str_append_char(out, '.');
	if ((flags & PIPE_FLAG_QUOTE_FROM) && len >= 5 && memcmp(line, "From ", 5) == 0)
		str_append_char(out, '>');
	str_append(out, line, len);
	str_append_cstr(out, svc->args.eol);
}

static void put_text(const struct pipe_service *svc, const char *text, struct str *out)
{
	put_line(svc, text, strlen(text), out);
}

int pipe_message_input(const struct pipe_service *svc, const struct pipe_message *msg,
                       const char *recipient, const char *original, struct str *out,
                       const char **error_r)
{
	unsigned flags = svc->args.flags;
	const char *sender = msg->env->sender;
	struct str line = STR_INIT;
	if (flags & PIPE_FLAG_FROM_LINE) {
		time_t now = time(NULL);
		struct tm tm;
		char date[64];
		gmtime_r(&now, &tm);
		strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", &tm);
		str_printf(&line, "From %s  %s", sender[0] ? sender : "MAILER-DAEMON", date);
		str_append(out, line.data, line.len); /* never '>'-quoted */
		str_append_cstr(out, svc->args.eol);
	}
	if (flags & PIPE_FLAG_RETURN_PATH) {
		str_clear(&line);
		str_printf(&line, "Return-Path: <%s>", sender);
		put_text(svc, str_cstr(&line), out);
	}
	if ((flags & PIPE_FLAG_ORIGINAL_TO) && original != NULL) {
		str_clear(&line);
		str_printf(&line, "X-Original-To: %s", original);
		put_text(svc, str_cstr(&line), out);
	}
	if ((flags & PIPE_FLAG_DELIVERED_TO) && recipient != NULL) {
		str_clear(&line);
		str_printf(&line, "Delivered-To: %s", recipient);
		put_text(svc, str_cstr(&line), out);
	}
	str_free(&line);
	struct str content = STR_INIT;
	if (read_content(msg, &content, error_r) != 0) {
		str_free(&content);
		return -1;
	}
	const char *p = content.data, *end = content.data + content.len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		put_line(svc, p, len, out);
		p += len + (nl ? 1 : 0);
	}
	if (flags & PIPE_FLAG_BLANK)
		str_append_cstr(out, svc->args.eol);
	str_free(&content);
	return 0;
}

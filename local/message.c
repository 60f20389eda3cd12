/*
 * The message in the queue file as local sees it: its header section (for
 * the Delivered-To loop check), its content, read in pieces with pread so
 * that every delivery of one request can share the descriptor, and what
 * its envelope says about a recipient.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "local/local.h"

/* Stop looking for the end of the header section after this many bytes. */
#define MAX_HEADER_BYTES (1024 * 1024)

/* Length of the header section in h (without the empty line that ends it),
 * or -1 if that empty line is not there yet. */
static long header_section_length(const struct str *h)
{
	if ((h->len >= 1 && h->data[0] == '\n') || (h->len >= 2 && memcmp(h->data, "\r\n", 2) == 0))
		return 0;
	const char *crlf = memmem(h->data, h->len, "\r\n\r\n", 4);
	const char *lf = memmem(h->data, h->len, "\n\n", 2);
	if (lf && (!crlf || lf < crlf))
		return lf - h->data + 1;
	if (crlf)
		return crlf - h->data + 2;
	return -1;
}

/* Read the message from its start in pieces, at most limit bytes (in whole
 * pieces), handing each to piece: it returns 0 to go on, 1 to stop, -1 with
 * *error_r on failure. 0, or -1 with *error_r. */
static int read_pieces(const struct local_message *msg, int64_t limit,
                       int (*piece)(void *arg, const char *data, size_t len, const char **error_r),
                       void *arg, const char **error_r)
{
	char buf[65536];
	int64_t pos = 0;
	while (pos < msg->size && pos < limit) {
		size_t want = sizeof(buf);
		if ((int64_t)want > msg->size - pos)
			want = (size_t)(msg->size - pos);
		ssize_t n = pread(msg->fd, buf, want, (off_t)(msg->offset + pos));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*error_r = n < 0 ? strerror(errno) : "queue file is truncated";
			return -1;
		}
		int rc = piece(arg, buf, (size_t)n, error_r);
		if (rc != 0)
			return rc < 0 ? -1 : 0;
		pos += n;
	}
	return 0;
}

/* A piece of the header section: 1 once its end is in. */
static int header_piece(void *arg, const char *data, size_t len, const char **error_r)
{
	(void)error_r;
	struct str *headers = arg;
	str_append(headers, data, len);
	long section = header_section_length(headers);
	if (section < 0)
		return 0;
	str_truncate(headers, (size_t)section);
	return 1;
}

int local_read_headers(struct local_message *msg, const char **error_r)
{
	str_clear(&msg->headers);
	return read_pieces(msg, MAX_HEADER_BYTES, header_piece, &msg->headers, error_r);
}

/* Compare one unfolded header value with address. */
static bool value_is_address(const char *value, size_t len, const char *address)
{
	while (len > 0 && (*value == ' ' || *value == '\t' || *value == '<')) {
		value++;
		len--;
	}
	while (len > 0 && strchr(" \t\r\n>", value[len - 1]) != NULL)
		len--;
	return len == strlen(address) && strncasecmp(value, address, len) == 0;
}

bool local_has_delivered_to(const struct str *headers, const char *address)
{
	static const char name[] = "Delivered-To:";
	const size_t name_len = sizeof(name) - 1;
	const char *p = headers->data, *end = headers->data + headers->len;
	struct str value = STR_INIT;
	bool found = false;
	while (p && p < end && !found) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = eol ? eol + 1 : end;
		if ((size_t)(line_end - p) > name_len && strncasecmp(p, name, name_len) == 0) {
			str_set(&value, "");
			str_append(&value, p + name_len, (size_t)(line_end - p - (long)name_len));
			/* continuation lines belong to the same header */
			while (line_end < end && (*line_end == ' ' || *line_end == '\t')) {
				const char *next = memchr(line_end, '\n', (size_t)(end - line_end));
				const char *next_end = next ? next + 1 : end;
				str_append(&value, line_end, (size_t)(next_end - line_end));
				line_end = next_end;
			}
			/* unfold: the value without its line breaks */
			struct str flat = STR_INIT;
			for (size_t i = 0; i < value.len; i++)
				if (value.data[i] != '\r' && value.data[i] != '\n')
					str_append_char(&flat, value.data[i]);
			found = value_is_address(str_cstr(&flat), flat.len, address);
			str_free(&flat);
		}
		p = line_end;
	}
	str_free(&value);
	return found;
}

int local_copy_content(const struct local_message *msg,
                       int (*out)(void *arg, const char *data, size_t len, const char **error_r),
                       void *arg, const char **error_r)
{
	return read_pieces(msg, msg->size, out, arg, error_r);
}

const struct queue_rcpt *local_message_rcpt(const struct local_message *msg, const char *address)
{
	/* qmgr sends the address as the queue file has it (local.c checked) */
	const struct queue_envelope *env = msg->env;
	for (size_t i = 0; env != NULL && i < env->rcpt_count; i++)
		if (strcasecmp(env->rcpts[i].address, address) == 0)
			return &env->rcpts[i];
	return NULL;
}

const char *local_original_recipient(const struct local_message *msg, const char *address)
{
	const struct queue_rcpt *rcpt = local_message_rcpt(msg, address);
	if (rcpt == NULL)
		return address;
	/* "rfc822;ADDRESS" or "utf-8;ADDRESS", stored decoded */
	const char *semi = rcpt->orcpt ? strchr(rcpt->orcpt, ';') : NULL;
	if (semi && semi[1] != '\0')
		return semi + 1;
	return rcpt->address;
}

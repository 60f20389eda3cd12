/*
 * Removing Return-Path and Content-Length from a header section
 * (drop_headers.h).
 */
#include "mail/drop_headers.h"

#include <string.h>
#include <strings.h>

bool drop_headers_field(const char *line, size_t len)
{
	static const char *const names[] = {"Return-Path", "Content-Length"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t n = strlen(names[i]);
		if (len <= n || strncasecmp(line, names[i], n) != 0)
			continue;
		while (n < len && (line[n] == ' ' || line[n] == '\t'))
			n++;
		if (n < len && line[n] == ':')
			return true;
	}
	return false;
}

size_t drop_headers_remove(struct str *s, size_t header_len)
{
	char *head = s->data;
	size_t kept = 0; /* end of the lines kept so far */
	bool dropping = false;
	for (size_t at = 0; at < header_len;) {
		const char *line = head + at;
		const char *nl = memchr(line, '\n', header_len - at);
		size_t n = nl ? (size_t)(nl - line) + 1 : header_len - at;
		/* A continuation line belongs to the field before it. */
		if (line[0] != ' ' && line[0] != '\t')
			dropping = drop_headers_field(line, n);
		if (!dropping) {
			if (kept != at)
				memmove(head + kept, line, n);
			kept += n;
		}
		at += n;
	}
	if (kept < header_len) {
		memmove(head + kept, head + header_len, s->len - header_len);
		str_truncate(s, s->len - (header_len - kept));
	}
	return kept;
}

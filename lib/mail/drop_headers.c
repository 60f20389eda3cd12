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

size_t drop_headers_filter(const char *head, size_t len, struct str *out)
{
	size_t before = out->len;
	bool dropping = false;
	for (size_t at = 0; at < len;) {
		const char *line = head + at;
		const char *nl = memchr(line, '\n', len - at);
		size_t n = nl ? (size_t)(nl - line) + 1 : len - at;
		/* A continuation line belongs to the field before it. */
		if (line[0] != ' ' && line[0] != '\t')
			dropping = drop_headers_field(line, n);
		if (!dropping)
			str_append(out, line, n);
		at += n;
	}
	return out->len - before;
}

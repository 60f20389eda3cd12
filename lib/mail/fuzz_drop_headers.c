/* Fuzz target: removing Return-Path and Content-Length from any header
 * section in place keeps the rest byte for byte: the result is never
 * longer, no field that starts a line in it is one to remove, and
 * removing again changes nothing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/drop_headers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct str once = STR_INIT, twice = STR_INIT;
	str_append(&once, data, size);
	size_t n = drop_headers_remove(&once, size);
	if (n != once.len || n > size)
		abort();
	for (size_t at = 0; at < once.len;) {
		const char *line = once.data + at;
		const char *nl = memchr(line, '\n', once.len - at);
		size_t len = nl ? (size_t)(nl - line) + 1 : once.len - at;
		if (line[0] != ' ' && line[0] != '\t' && drop_headers_field(line, len))
			abort();
		at += len;
	}
	str_append(&twice, once.data ? once.data : "", once.len);
	if (drop_headers_remove(&twice, twice.len) != once.len ||
	    (once.len && memcmp(twice.data, once.data, once.len) != 0))
		abort();
	str_free(&once);
	str_free(&twice);
	return 0;
}

/* Fuzz target: the wire form of any content, cut anywhere, has every CR
 * followed by LF and every LF preceded by CR, ends in CRLF when not empty,
 * and, dot-stuffed, has no line that is a lone "." (which would end DATA);
 * with a line limit no line is longer. The first byte picks the piece
 * size, whether to dot-stuff and the limit. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/wire_lines.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	bool stuff = data[0] & 1;
	size_t step = (size_t)(data[0] >> 1) % 16 + 1;
	size_t max_line = data[0] & 0x40 ? (size_t)(data[0] & 0x0f) + 1 : 0;
	data++;
	size--;
	struct wire_lines w;
	wire_lines_init(&w, stuff, max_line);
	struct str out = STR_INIT;
	for (size_t at = 0; at < size; at += step)
		wire_lines_put(&w, data + at, size - at < step ? size - at : step, &out);
	wire_lines_end(&w, &out);
	const char *p = out.data;
	for (size_t i = 0; i < out.len; i++) {
		if (p[i] == '\r' && (i + 1 >= out.len || p[i + 1] != '\n'))
			abort();
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			abort();
		bool line_start = i == 0 || p[i - 1] == '\n';
		if (max_line > 0 && p[i] == '\r') {
			/* No line longer than max_line (a dot added by stuffing aside). */
			size_t begin = i;
			while (begin > 0 && p[begin - 1] != '\n')
				begin--;
			if (i - begin > max_line + 1)
				abort();
		}
		if (stuff && line_start && i + 2 < out.len && memcmp(p + i, ".\r\n", 3) == 0)
			abort();
	}
	if (size > 0 && (out.len < 2 || memcmp(p + out.len - 2, "\r\n", 2) != 0))
		abort();
	str_free(&out);
	return 0;
}

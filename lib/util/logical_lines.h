/*
 * Logical lines of configuration-style text (main.conf, master.conf, and
 * table sources): blank lines and lines whose first non-blank character is
 * '#' are skipped, and a line that starts with a space or tab continues the
 * logical line before it (joined with one space). Trailing white space is
 * dropped. Each logical line knows the physical line it starts on.
 */
#ifndef POSTERN_UTIL_LOGICAL_LINES_H
#define POSTERN_UTIL_LOGICAL_LINES_H

#include <stdbool.h>
#include <stddef.h>

#include "util/str.h"

struct logical_lines {
	const char *pos, *end;
	int lineno;      /* physical lines consumed */
	struct str text; /* the current logical line */
	int line;        /* the physical line it starts on (1-based) */
	bool has_nul;    /* it contains a NUL byte */
	bool continues;  /* it starts with white space: there was nothing to continue */
};

void logical_lines_init(struct logical_lines *r, const char *text, size_t len);
void logical_lines_free(struct logical_lines *r);
/* Advance to the next logical line; false at the end of the text. */
bool logical_lines_next(struct logical_lines *r);

#endif

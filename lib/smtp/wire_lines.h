/*
 * Message content made safe for the wire (RFC 5321 2.3.8, 4.5.2): every
 * line ends in CRLF, whatever the queue file holds — a bare LF or a bare
 * CR becomes CRLF, so no <CR>.<CR><LF>-style sequence can reach a server
 * that reads line ends loosely (SMTP smuggling) — and, for DATA, a line
 * starting with "." gets another. A line longer than max_line bytes is
 * broken by inserting CRLF and a space, as Postfix's smtp_line_length_limit
 * does (RFC 5321 4.5.3.1.6 allows 998; the space keeps a header folded).
 * Fed in pieces of any size.
 */
#ifndef POSTERN_SMTP_WIRE_LINES_H
#define POSTERN_SMTP_WIRE_LINES_H

#include <stdbool.h>
#include <stddef.h>

#include "util/str.h"

struct wire_lines {
	bool dot_stuff;  /* DATA: double a leading "." */
	bool line_start; /* the next byte starts a line */
	bool pending_cr; /* the last byte fed was a CR */
	size_t max_line; /* longest line sent as it is; 0: no limit */
	size_t column;   /* bytes of the current line so far */
};

void wire_lines_init(struct wire_lines *w, bool dot_stuff, size_t max_line);

/* Append the wire form of in[0..len) to out. */
void wire_lines_put(struct wire_lines *w, const void *in, size_t len, struct str *out);

/* The end of the content: a trailing CR becomes CRLF, and an unfinished
 * last line gets its CRLF, so what follows (".", BDAT's end) starts a line. */
void wire_lines_end(struct wire_lines *w, struct str *out);

#endif

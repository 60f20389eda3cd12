/*
 * The SMTP DATA stream decoder (RFC 5321 4.5.2), safe against SMTP
 * smuggling: only <CR><LF>.<CR><LF> ends the message. A line that began
 * after a bare <LF> or bare <CR> can never end it, whatever follows.
 * Dot-stuffing is removed; line ends are written as CRLF. Bare <LF> and
 * bare <CR> are counted, so the caller can reject the message (the
 * default) or accept it normalized (each bare one becomes CRLF).
 * Pure: no I/O, fed with whatever bytes arrive.
 */
#ifndef POSTERN_SMTP_SMTP_DATA_H
#define POSTERN_SMTP_SMTP_DATA_H

#include <stdbool.h>
#include <stddef.h>

#include "util/str.h"

struct smtp_data_decoder {
	int state;
	bool line_after_crlf; /* the current line began after a real CRLF */
	bool done;
	size_t bare_lf;  /* bare <LF> seen */
	size_t bare_cr;  /* bare <CR> seen */
	size_t max_line; /* longest line seen, without its line end */
	size_t line_len;
};

/* Start decoding right after the DATA command's CRLF. */
void smtp_data_init(struct smtp_data_decoder *d);

/* Decode from in; decoded content is appended to out. Returns the number
 * of bytes consumed: once the end sequence is seen, d->done is set and the
 * bytes after it (pipelined commands) are left unconsumed. */
size_t smtp_data_feed(struct smtp_data_decoder *d, const char *in, size_t len, struct str *out);

#endif

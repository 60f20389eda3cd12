/*
 * A stored message as POP3 sends it (RFC 1939 section 3): every line ends
 * in CRLF whatever the file uses (a bare LF becomes CRLF; a CR not before
 * LF is kept as data), a line starting with '.' gets one more '.', and the
 * caller ends the response with ".\r\n". For TOP, the header section, the
 * empty line after it and then at most N body lines are sent.
 *
 * The encoder is fed the file in chunks of any size and keeps its state
 * between them, so a message is never held in memory whole.
 */
#ifndef POSTERN_POP3_POP3_MESSAGE_H
#define POSTERN_POP3_POP3_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/str.h"

struct pop3_encoder {
	bool line_start; /* the next byte starts a line */
	bool pending_cr; /* a CR was seen and not yet written */
	bool line_empty; /* nothing but the line end so far on this line */
	bool in_body;    /* past the empty line after the headers */
	bool limited;    /* TOP */
	unsigned long body_lines_left;
	bool done; /* TOP's limit reached: the rest is ignored */
};

/* body_lines < 0: the whole message (RETR); else TOP's line count. */
void pop3_encoder_init(struct pop3_encoder *e, long body_lines);
/* Append the encoded form of data to out. Returns false once TOP's limit
 * is reached (the caller may stop reading the file). */
bool pop3_encoder_feed(struct pop3_encoder *e, const char *data, size_t len, struct str *out);
/* End the message: a CRLF if the last line had no line end, then ".\r\n". */
void pop3_encoder_finish(struct pop3_encoder *e, struct str *out);

#endif

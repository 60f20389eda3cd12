/*
 * Message content in the local form that mailbox files and commands get,
 * as Postfix's and Dovecot's deliveries write it: lines end in LF. The
 * queue holds CRLF; each CR before an LF is dropped, any other byte (a
 * lone CR too) is kept. Fed in pieces of any size: a CR at the end of a
 * piece waits for the next one.
 */
#ifndef POSTERN_MAIL_LF_LINES_H
#define POSTERN_MAIL_LF_LINES_H

#include <stdbool.h>
#include <stddef.h>

#include "util/str.h"

struct lf_lines {
	bool pending_cr; /* the last byte fed was a CR, not yet written */
};

void lf_lines_init(struct lf_lines *l);
/* Append the local form of in[0..len) to out. */
void lf_lines_put(struct lf_lines *l, const void *in, size_t len, struct str *out);
/* The end of the content: a CR still held goes out as it is. */
void lf_lines_end(struct lf_lines *l, struct str *out);

#endif

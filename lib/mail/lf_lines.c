/*
 * CRLF to LF on the way into a mailbox (lf_lines.h).
 */
#include "mail/lf_lines.h"

void lf_lines_init(struct lf_lines *l)
{
	l->pending_cr = false;
}

void lf_lines_put(struct lf_lines *l, const void *in, size_t len, struct str *out)
{
	const char *p = in;
	size_t run = 0; /* start of the bytes to copy as they are */
	for (size_t i = 0; i < len; i++) {
		if (l->pending_cr) {
			l->pending_cr = false;
			/* The CR was held from the last piece: kept unless an LF follows. */
			if (i == 0 && p[0] != '\n')
				str_append_char(out, '\r');
		}
		if (p[i] != '\r')
			continue;
		if (i + 1 == len) {
			str_append(out, p + run, i - run);
			run = len;
			l->pending_cr = true;
		} else if (p[i + 1] == '\n') {
			str_append(out, p + run, i - run);
			run = i + 1;
		}
	}
	str_append(out, p + run, len - run);
}

void lf_lines_end(struct lf_lines *l, struct str *out)
{
	if (l->pending_cr)
		str_append_char(out, '\r');
	l->pending_cr = false;
}

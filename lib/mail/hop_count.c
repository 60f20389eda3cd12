/*
 * Streaming count of Received headers (hop_count.h). A header line starts
 * at a line start that is not blank, space or tab (those continue the
 * previous header); its name is compared as it comes, so a name split
 * between two chunks counts the same as one that is not.
 */
#include "mail/hop_count.h"

#include <ctype.h>

void hop_count_init(struct hop_count *h)
{
	*h = (struct hop_count){0};
}

void hop_count_feed(struct hop_count *h, const void *data, size_t len)
{
	static const char name[] = HOP_COUNT_NAME;
	const unsigned char *p = data;
	for (size_t i = 0; i < len && !h->done; i++) {
		unsigned char c = p[i];
		if (c == '\n') {
			/* An empty line (LF or CRLF) ends the header section. */
			if (!h->mid_line && (h->matched == 0 || h->blank_cr))
				h->done = true;
			h->mid_line = false;
			h->matched = 0;
			h->blank_cr = false;
			continue;
		}
		if (h->mid_line)
			continue;
		if (h->matched == 0 && !h->blank_cr && c == '\r') {
			h->blank_cr = true;
			continue;
		}
		if (h->blank_cr) {
			/* A CR not followed by LF: just a line with a CR in it. */
			h->blank_cr = false;
			h->mid_line = true;
			continue;
		}
		if (tolower(c) == (unsigned char)name[h->matched]) {
			if (++h->matched == sizeof(name) - 1) {
				h->received++;
				h->mid_line = true;
			}
			continue;
		}
		h->mid_line = true;
	}
}

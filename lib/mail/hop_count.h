/*
 * Counting a message's hops while it streams by: the Received headers of
 * its primary header section (the lines before the first empty line), fed
 * in chunks of any size. hopcount_limit compares this count; smtpd counts
 * its own way, on the header lines it holds anyway, and pickup uses this.
 */
#ifndef POSTERN_MAIL_HOP_COUNT_H
#define POSTERN_MAIL_HOP_COUNT_H

#include <stdbool.h>
#include <stddef.h>

#define HOP_COUNT_NAME "received:"

struct hop_count {
	int received;   /* Received headers seen so far */
	bool done;      /* the header section has ended */
	bool mid_line;  /* inside a line whose start has been judged */
	size_t matched; /* bytes of HOP_COUNT_NAME matched at this line's start */
	bool blank_cr;  /* the line so far is a lone CR */
};

void hop_count_init(struct hop_count *h);

/* Feed the next bytes of the message (header section first). */
void hop_count_feed(struct hop_count *h, const void *data, size_t len);

#endif

/*
 * Tests of the streaming Received-header count: names in any case, folded
 * headers, the end of the header section (LF and CRLF), lines that only
 * look like Received, and every way of cutting the input into chunks.
 */
#include <string.h>

#include "mail/hop_count.h"
#include "util/testing.h"

/* The count for msg fed in chunks of size step (0: all at once). */
static int count_in_steps(const char *msg, size_t step)
{
	struct hop_count h;
	hop_count_init(&h);
	size_t len = strlen(msg);
	if (step == 0)
		step = len;
	for (size_t at = 0; at < len; at += step)
		hop_count_feed(&h, msg + at, len - at < step ? len - at : step);
	return h.received;
}

/* The same count however the input is cut. */
static int count(const char *msg)
{
	int whole = count_in_steps(msg, 0);
	for (size_t step = 1; step < 12; step++)
		if (count_in_steps(msg, step) != whole)
			return -1;
	return whole;
}

TEST(counts_received_headers)
{
	CHECK(count("Received: from a\r\nReceived: from b\r\nSubject: x\r\n\r\nbody\r\n") == 2);
	CHECK(count("RECEIVED: a\nreceived:b\nSubject: x\n\nbody\n") == 2);
	CHECK(count("Subject: x\r\n\r\n") == 0);
	CHECK(count("") == 0);
}

TEST(folded_and_lookalike_lines_do_not_count)
{
	/* A continuation line that starts with "Received:" continues Subject. */
	CHECK(count("Subject: x\r\n Received: no\r\n\tReceived: no\r\nReceived: yes\r\n\r\n") == 1);
	CHECK(count("X-Received: no\r\nReceived-SPF: pass\r\nReceivedx: no\r\n\r\n") == 0);
	CHECK(count("Received : obsolete space is not counted\r\n\r\n") == 0);
}

TEST(body_does_not_count)
{
	CHECK(count("Received: a\r\n\r\nReceived: in the body\r\nReceived: too\r\n") == 1);
	CHECK(count("Received: a\n\nReceived: in the body\n") == 1);
	/* No empty line: everything is header. */
	CHECK(count("Received: a\r\nReceived: b") == 2);
}

TEST(stray_cr_is_not_an_empty_line)
{
	CHECK(count("Received: a\r\n\rX\r\nReceived: b\r\n\r\nReceived: body\r\n") == 2);
	CHECK(count("\r\r\nReceived: a\r\n\r\n") == 1);
}

TEST(done_after_the_header_section)
{
	struct hop_count h;
	hop_count_init(&h);
	hop_count_feed(&h, "Received: a\r\n", 13);
	CHECK(!h.done);
	hop_count_feed(&h, "\r\n", 2);
	CHECK(h.done);
	hop_count_feed(&h, "Received: b\r\n", 13);
	CHECK(h.received == 1);
}

int main(void)
{
	RUN(counts_received_headers);
	RUN(folded_and_lookalike_lines_do_not_count);
	RUN(body_does_not_count);
	RUN(stray_cr_is_not_an_empty_line);
	RUN(done_after_the_header_section);
	return TESTING_DONE();
}

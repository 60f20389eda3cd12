/*
 * Tests of CRLF to LF for mailbox files: CRLF pairs become LF, lone CRs
 * and bare LFs stay, a CR at the end of a piece waits for the next, and
 * every way of cutting the input gives the same result.
 */
#include <stdlib.h>
#include <string.h>

#include "mail/lf_lines.h"
#include "util/testing.h"

static char *lf_in_steps(const char *in, size_t step)
{
	struct lf_lines l;
	lf_lines_init(&l);
	struct str out = STR_INIT;
	size_t len = strlen(in);
	if (step == 0)
		step = len ? len : 1;
	for (size_t at = 0; at < len; at += step)
		lf_lines_put(&l, in + at, len - at < step ? len - at : step, &out);
	lf_lines_end(&l, &out);
	str_append(&out, "", 0);
	return str_steal(&out);
}

static char *result;

static const char *lf(const char *in)
{
	free(result);
	result = lf_in_steps(in, 0);
	for (size_t step = 1; step < 8; step++) {
		char *other = lf_in_steps(in, step);
		bool same = strcmp(other ? other : "", result ? result : "") == 0;
		free(other);
		if (!same)
			return "(differs)";
	}
	return result ? result : "";
}

TEST(crlf_becomes_lf)
{
	CHECK_STR(lf("Subject: x\r\n\r\nbody\r\n"), "Subject: x\n\nbody\n");
	CHECK_STR(lf(""), "");
}

TEST(other_bytes_stay)
{
	CHECK_STR(lf("a\nb\r\n"), "a\nb\n");
	CHECK_STR(lf("a\rb\r\n"), "a\rb\n");
	CHECK_STR(lf("a\r\r\nb"), "a\r\nb");
	CHECK_STR(lf("ends in cr\r"), "ends in cr\r");
	CHECK_STR(lf("\r\r\r\n"), "\r\r\n");
}

int main(void)
{
	RUN(crlf_becomes_lf);
	RUN(other_bytes_stay);
	free(result);
	return TESTING_DONE();
}

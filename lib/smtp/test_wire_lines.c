/*
 * Tests of the wire form of message content: CRLF kept, bare LF and bare
 * CR made CRLF (the SMTP smuggling sequences among them), dot-stuffing for
 * DATA only, the end of content, and every way of cutting the input.
 */
#include <string.h>

#include "smtp/wire_lines.h"
#include "util/testing.h"

/* The wire form of in, fed in pieces of step bytes (0: at once). */
static size_t max_line;

static char *wire_in_steps(const char *in, bool stuff, size_t step)
{
	struct wire_lines w;
	wire_lines_init(&w, stuff, max_line);
	struct str out = STR_INIT;
	size_t len = strlen(in);
	if (step == 0)
		step = len ? len : 1;
	for (size_t at = 0; at < len; at += step)
		wire_lines_put(&w, in + at, len - at < step ? len - at : step, &out);
	wire_lines_end(&w, &out);
	return str_steal(&out);
}

static char *result;

/* The same for every cut, or "(differs)". */
static const char *wire(const char *in, bool stuff)
{
	free(result);
	result = wire_in_steps(in, stuff, 0);
	for (size_t step = 1; step < 8; step++) {
		char *other = wire_in_steps(in, stuff, step);
		bool same = strcmp(other, result) == 0;
		free(other);
		if (!same)
			return "(differs)";
	}
	return result;
}

TEST(crlf_lines_pass_unchanged)
{
	CHECK_STR(wire("Subject: x\r\n\r\nbody\r\n", true), "Subject: x\r\n\r\nbody\r\n");
	CHECK_STR(wire("", true), "");
}

TEST(bare_line_ends_become_crlf)
{
	CHECK_STR(wire("a\nb\r\n", false), "a\r\nb\r\n");
	CHECK_STR(wire("a\rb\r\n", false), "a\r\nb\r\n");
	CHECK_STR(wire("a\r\r\nb\r\n", false), "a\r\n\r\nb\r\n");
	CHECK_STR(wire("a\n\r\n", false), "a\r\n\r\n");
}

TEST(smuggling_sequences_are_defused)
{
	/* Each would end DATA early at a server that reads line ends loosely. */
	CHECK_STR(wire("x\r.\r\nMAIL FROM:<a@b>\r\n", true), "x\r\n..\r\nMAIL FROM:<a@b>\r\n");
	CHECK_STR(wire("x\n.\r\nRCPT\r\n", true), "x\r\n..\r\nRCPT\r\n");
	CHECK_STR(wire("x\r\n.\nQUIT\r\n", true), "x\r\n..\r\nQUIT\r\n");
	CHECK_STR(wire("x\n.\nQUIT\n", true), "x\r\n..\r\nQUIT\r\n");
}

TEST(dot_stuffing_for_data_only)
{
	CHECK_STR(wire(".hidden\r\n..two\r\na.b\r\n", true), "..hidden\r\n...two\r\na.b\r\n");
	CHECK_STR(wire(".hidden\r\n", false), ".hidden\r\n");
}

TEST(end_of_content)
{
	CHECK_STR(wire("no line end", true), "no line end\r\n");
	CHECK_STR(wire("trailing cr\r", true), "trailing cr\r\n");
	CHECK_STR(wire(".", true), "..\r\n");
}

TEST(long_lines_are_broken)
{
	max_line = 4;
	CHECK_STR(wire("abcd\r\nabcdefghij\r\n", true), "abcd\r\nabcd\r\n efg\r\n hij\r\n");
	/* The continuation starts with a space: no dot to stuff there. */
	CHECK_STR(wire("abcd.ef\n", true), "abcd\r\n .ef\r\n");
	CHECK_STR(wire("abcde\r", false), "abcd\r\n e\r\n");
	max_line = 0;
	CHECK_STR(wire("abcdefghij\r\n", true), "abcdefghij\r\n");
}

int main(void)
{
	RUN(crlf_lines_pass_unchanged);
	RUN(bare_line_ends_become_crlf);
	RUN(smuggling_sequences_are_defused);
	RUN(dot_stuffing_for_data_only);
	RUN(end_of_content);
	RUN(long_lines_are_broken);
	free(result);
	return TESTING_DONE();
}

/* Unit tests for util/logical_lines. */
#include "util/logical_lines.h"
#include "util/testing.h"

#include <string.h>

TEST(joins_and_skips)
{
	const char *text = "# comment\n\na = 1  \n  b\n\t c\n   # inner comment\nd = 2\n x";
	struct logical_lines r;
	logical_lines_init(&r, text, strlen(text));
	CHECK(logical_lines_next(&r));
	CHECK_STR(str_cstr(&r.text), "a = 1 b c");
	CHECK(r.line == 3 && !r.continues && !r.has_nul);
	CHECK(logical_lines_next(&r));
	CHECK_STR(str_cstr(&r.text), "d = 2 x");
	CHECK(r.line == 7);
	CHECK(!logical_lines_next(&r));
	logical_lines_free(&r);
}

TEST(leading_continuation_and_nul)
{
	const char text[] = "  orphan\r\nbad\0byte\n";
	struct logical_lines r;
	logical_lines_init(&r, text, sizeof(text) - 1);
	CHECK(logical_lines_next(&r));
	CHECK(r.continues && r.line == 1);
	CHECK_STR(str_cstr(&r.text), "orphan");
	CHECK(logical_lines_next(&r));
	CHECK(r.has_nul && r.line == 2);
	CHECK(!logical_lines_next(&r));
	logical_lines_free(&r);
}

int main(void)
{
	RUN(joins_and_skips);
	RUN(leading_continuation_and_nul);
	return TESTING_DONE();
}

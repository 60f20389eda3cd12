/* Unit test of keyword lists as bit masks (lib/util/word_flags.c). */
#include "util/word_flags.h"

#include "util/testing.h"

static const struct word_flag table[] = {{"one", 1}, {"two", 2}, {"four", 4}};

TEST(parse)
{
	unsigned flags = 99;
	const char *bad = NULL;
	char *words[] = {"ONE", "four", "one", NULL};
	CHECK(word_flags_parse(words, table, 3, &flags, &bad) == 0);
	CHECK(flags == 5);
	CHECK(word_flags_parse(NULL, table, 3, &flags, &bad) == 0);
	CHECK(flags == 0);
	char *unknown[] = {"two", "three", NULL};
	CHECK(word_flags_parse(unknown, table, 3, &flags, &bad) == -1);
	CHECK_STR(bad, "three");
}

int main(void)
{
	RUN(parse);
	return TESTING_DONE();
}

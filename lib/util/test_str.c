/* Unit tests for util/str and util/alloc. */
#include "util/alloc.h"
#include "util/str.h"
#include "util/testing.h"

#include <stdlib.h>

TEST(append_and_printf)
{
	struct str s = STR_INIT;
	CHECK_STR(str_cstr(&s), "");
	str_append_cstr(&s, "abc");
	str_append_char(&s, '-');
	str_printf(&s, "%d/%s", 42, "x");
	CHECK_STR(str_cstr(&s), "abc-42/x");
	CHECK(s.len == 8);
	str_consume(&s, 4);
	CHECK_STR(str_cstr(&s), "42/x");
	str_truncate(&s, 2);
	CHECK(str_equal_cstr(&s, "42"));
	str_free(&s);
}

TEST(growth_and_binary)
{
	struct str s = STR_INIT;
	for (int i = 0; i < 10000; i++)
		str_append(&s, "\0z", 2);
	CHECK(s.len == 20000);
	CHECK(s.data[19999] == 'z' && s.data[19998] == '\0' && s.data[20000] == '\0');
	char *p = str_steal(&s);
	CHECK(s.len == 0 && s.data == NULL);
	free(p);
}

TEST(alloc_helpers)
{
	char *a = xasprintf("%s=%d", "n", 7);
	CHECK_STR(a, "n=7");
	char *b = xstrndup("hello", 3);
	CHECK_STR(b, "hel");
	free(a);
	free(b);
}

TEST(list_contains)
{
	char *list[] = {"example.com", "Mail.Example.ORG", NULL};
	CHECK(str_list_contains_nocase(list, "example.com"));
	CHECK(str_list_contains_nocase(list, "EXAMPLE.com"));
	CHECK(str_list_contains_nocase(list, "mail.example.org"));
	CHECK(!str_list_contains_nocase(list, "example"));
	CHECK(!str_list_contains_nocase(list, ""));
	CHECK(!str_list_contains_nocase(NULL, "example.com"));
}

TEST(lower_dup)
{
	char *lower = str_lower_dup("Bob+Tag@Mail.EXAMPLE.org \xc3\x84");
	CHECK(strcmp(lower, "bob+tag@mail.example.org \xc3\x84") == 0); /* ASCII only */
	free(lower);
	lower = str_lower_dup("");
	CHECK(strcmp(lower, "") == 0);
	free(lower);
}

int main(void)
{
	RUN(append_and_printf);
	RUN(growth_and_binary);
	RUN(alloc_helpers);
	RUN(list_contains);
	RUN(lower_dup);
	return TESTING_DONE();
}

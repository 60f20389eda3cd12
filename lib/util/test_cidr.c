/* Unit tests for util/cidr. */
#include "util/cidr.h"
#include "util/testing.h"

#include <stdlib.h>

TEST(match)
{
	char *words[] = {"127.0.0.0/8",     "[::1]/128", "192.0.2.0/25",
	                 "[2001:db8::]/32", "10.1.2.3",  NULL};
	char *bad = NULL;
	struct cidr_list *l = cidr_list_parse(words, &bad);
	CHECK(l != NULL);
	CHECK(cidr_list_match(l, "127.1.2.3"));
	CHECK(cidr_list_match(l, "::1"));
	CHECK(cidr_list_match(l, "::ffff:127.0.0.1"));
	CHECK(cidr_list_match(l, "192.0.2.127"));
	CHECK(!cidr_list_match(l, "192.0.2.128"));
	CHECK(cidr_list_match(l, "2001:db8:ffff::1"));
	CHECK(!cidr_list_match(l, "2001:db9::1"));
	CHECK(cidr_list_match(l, "10.1.2.3"));
	CHECK(!cidr_list_match(l, "10.1.2.4"));
	CHECK(!cidr_list_match(l, "not an address"));
	cidr_list_free(l);
}

TEST(bad_entries)
{
	char *cases[] = {"127.0.0.0/33", "1.2.3.4/", "hostname", "[::1", "::1/129", "1.2.3.4/x"};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *words[] = {cases[i], NULL};
		char *bad = NULL;
		CHECK(cidr_list_parse(words, &bad) == NULL);
		CHECK_STR(bad, cases[i]);
		free(bad);
	}
}

int main(void)
{
	RUN(match);
	RUN(bad_entries);
	return TESTING_DONE();
}

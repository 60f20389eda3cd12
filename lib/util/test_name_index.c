/* Unit tests for util/name_index. */
#include "util/alloc.h"
#include "util/name_index.h"
#include "util/testing.h"

#include <stdlib.h>

TEST(add_and_find)
{
	struct name_index ix;
	name_index_init(&ix);
	size_t v = 0;
	for (size_t i = 0; i < 1000; i++) {
		char *name = xasprintf("name%zu", i);
		CHECK(!name_index_get_or_add(&ix, name, i, &v));
		free(name);
	}
	CHECK(name_index_get_or_add(&ix, "name0", 99, &v) && v == 0);
	CHECK(name_index_get_or_add(&ix, "name999", 99, &v) && v == 999);
	CHECK(!name_index_get_or_add(&ix, "", 5, &v));
	CHECK(name_index_get_or_add(&ix, "", 6, &v) && v == 5);
	name_index_free(&ix);
}

int main(void)
{
	RUN(add_and_find);
	return TESTING_DONE();
}

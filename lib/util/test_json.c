/* Unit tests for util/json. */
#include "util/json.h"
#include "util/testing.h"

TEST(escaping)
{
	struct str s = STR_INIT;
	json_append_cstr(&s, "a\"b\\c\nd\x01");
	CHECK_STR(str_cstr(&s), "\"a\\\"b\\\\c\\nd\\u0001\"");
	str_clear(&s);
	json_append_string(&s, "x\0y", 3);
	CHECK_STR(str_cstr(&s), "\"x\\u0000y\"");
	str_free(&s);
}

int main(void)
{
	RUN(escaping);
	return TESTING_DONE();
}

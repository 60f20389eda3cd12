/* Unit tests for util/base64. */
#include "util/base64.h"
#include "util/testing.h"

#include <string.h>

TEST(round_trip)
{
	const char *cases[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	const char *encoded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
	for (size_t i = 0; i < 7; i++) {
		struct str e = STR_INIT, d = STR_INIT;
		base64_encode(cases[i], strlen(cases[i]), &e);
		CHECK_STR(str_cstr(&e), encoded[i]);
		CHECK(base64_decode(e.data ? e.data : "", e.len, &d) == 0);
		CHECK_STR(str_cstr(&d), cases[i]);
		str_free(&e);
		str_free(&d);
	}
	struct str d = STR_INIT;
	CHECK(base64_decode("AHVzZXIAcGFzcw==", 16, &d) == 0);
	CHECK(d.len == 10 && memcmp(d.data, "\0user\0pass", 10) == 0);
	str_free(&d);
}

TEST(rejects)
{
	const char *bad[] = {"Zg=", "Zg=a", "Z===", "Zm9v\n", "Zm 9", "=Zg=", "Zg==Zg==", "Zm9*"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct str d = STR_INIT;
		CHECK(base64_decode(bad[i], strlen(bad[i]), &d) == -1);
		str_free(&d);
	}
}

int main(void)
{
	RUN(round_trip);
	RUN(rejects);
	return TESTING_DONE();
}

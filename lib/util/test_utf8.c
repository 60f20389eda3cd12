/* Unit tests for util/utf8: well-formedness and encoding. */
#include <stdlib.h>

#include "util/testing.h"
#include "util/utf8.h"

static bool valid(const char *s)
{
	return utf8_valid(s, strlen(s));
}

TEST(valid_sequences)
{
	CHECK(valid(""));
	CHECK(valid("plain ascii"));
	CHECK(valid("\xC3\xA9"));         /* é */
	CHECK(valid("\xE2\x82\xAC"));     /* € */
	CHECK(valid("\xF0\x9F\x98\x80")); /* U+1F600 */
	CHECK(valid("\xF4\x8F\xBF\xBF")); /* U+10FFFF */
	CHECK(valid("\xEF\xBF\xBF"));     /* U+FFFF */
	CHECK(valid("\xED\x9F\xBF"));     /* U+D7FF, just below surrogates */
	CHECK(utf8_valid("a\0b", 3));
}

TEST(invalid_sequences)
{
	CHECK(!valid("\x80"));             /* lone continuation */
	CHECK(!valid("\xC3"));             /* truncated */
	CHECK(!valid("\xC3\x28"));         /* bad continuation */
	CHECK(!valid("\xC0\xAF"));         /* overlong '/' */
	CHECK(!valid("\xC1\xBF"));         /* overlong */
	CHECK(!valid("\xE0\x80\xAF"));     /* overlong 3-byte */
	CHECK(!valid("\xF0\x80\x80\xAF")); /* overlong 4-byte */
	CHECK(!valid("\xED\xA0\x80"));     /* surrogate U+D800 */
	CHECK(!valid("\xED\xBF\xBF"));     /* surrogate U+DFFF */
	CHECK(!valid("\xF4\x90\x80\x80")); /* U+110000 */
	CHECK(!valid("\xF5\x80\x80\x80"));
	CHECK(!valid("\xFF"));
	CHECK(!valid("\xE2\x82")); /* truncated 3-byte */
	CHECK(!valid("ok\xE2\x82\xACok\xC3"));
}

TEST(char_len_and_code_point)
{
	uint32_t cp = 0;
	CHECK(utf8_char_len("\xE2\x82\xAC", 3, &cp) == 3 && cp == 0x20AC);
	CHECK(utf8_char_len("\xF0\x9F\x98\x80", 4, &cp) == 4 && cp == 0x1F600);
	CHECK(utf8_char_len("A", 1, &cp) == 1 && cp == 'A');
	CHECK(utf8_char_len("\xE2\x82\xAC", 2, &cp) == 0);
	CHECK(utf8_char_len("", 0, &cp) == 0);
	CHECK(utf8_has_non_ascii("ab\xC3\xA9", 4));
	CHECK(!utf8_has_non_ascii("abc", 3));
}

TEST(encode)
{
	struct str s = STR_INIT;
	CHECK(utf8_encode('A', &s));
	CHECK(utf8_encode(0xE9, &s));
	CHECK(utf8_encode(0x20AC, &s));
	CHECK(utf8_encode(0x1F600, &s));
	CHECK(utf8_encode(0x10FFFF, &s));
	CHECK_STR(str_cstr(&s), "A\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF");
	CHECK(!utf8_encode(0xD800, &s));
	CHECK(!utf8_encode(0x110000, &s));
	CHECK(s.len == 14);
	/* Every scalar value round-trips through encode and char_len. */
	bool all_ok = true;
	for (uint32_t cp = 1; cp <= 0x10FFFF; cp += (cp < 0x3000 ? 1 : 97)) {
		if (cp >= 0xD800 && cp <= 0xDFFF)
			continue;
		str_clear(&s);
		uint32_t back = 0;
		if (!utf8_encode(cp, &s) || utf8_char_len(s.data, s.len, &back) != s.len ||
		    back != cp)
			all_ok = false;
	}
	CHECK(all_ok);
	str_free(&s);
}

int main(void)
{
	RUN(valid_sequences);
	RUN(invalid_sequences);
	RUN(char_len_and_code_point);
	RUN(encode);
	return TESTING_DONE();
}

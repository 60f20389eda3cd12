/* Unit tests for smtp/xtext: RFC 3461 xtext and RFC 6533 unitext. */
#include <stdlib.h>

#include "smtp/xtext.h"
#include "util/testing.h"

/* Decoded text, or "ERR" if decoding failed. */
static char *xdecode(const char *text)
{
	struct str out = STR_INIT;
	const char *error = NULL;
	if (xtext_decode(text, strlen(text), &out, &error) != 0) {
		CHECK(error != NULL);
		str_free(&out);
		return strdup("ERR");
	}
	return str_steal(&out);
}

static char *udecode(const char *text)
{
	struct str out = STR_INIT;
	const char *error = NULL;
	if (unitext_decode(text, strlen(text), &out, &error) != 0) {
		CHECK(error != NULL);
		str_free(&out);
		return strdup("ERR");
	}
	return str_steal(&out);
}

#define CHECK_DECODE(fn, in, want)                                                                 \
	do {                                                                                       \
		char *got_ = fn(in);                                                               \
		CHECK_STR(got_, want);                                                             \
		free(got_);                                                                        \
	} while (0)

TEST(xtext_decode_good)
{
	CHECK_DECODE(xdecode, "", "");
	CHECK_DECODE(xdecode, "abc", "abc");
	CHECK_DECODE(xdecode, "user+2Btag@example.com", "user+tag@example.com");
	CHECK_DECODE(xdecode, "a+3Db", "a=b");
	CHECK_DECODE(xdecode, "+20", " ");
	CHECK_DECODE(xdecode, "+2b", "+"); /* lower-case hex, as Postfix */
	CHECK_DECODE(xdecode, "+C3+A9", "\xC3\xA9");
	CHECK_DECODE(xdecode, "<>", "<>");
	CHECK_DECODE(xdecode, "!~", "!~");
}

TEST(xtext_decode_bad)
{
	CHECK_DECODE(xdecode, "+", "ERR");
	CHECK_DECODE(xdecode, "+2", "ERR");
	CHECK_DECODE(xdecode, "a+G0", "ERR");
	CHECK_DECODE(xdecode, "+00", "ERR"); /* NUL */
	CHECK_DECODE(xdecode, "a=b", "ERR"); /* '=' is not an xchar */
	CHECK_DECODE(xdecode, "a b", "ERR"); /* nor is space */
	CHECK_DECODE(xdecode, "a\tb", "ERR");
	CHECK_DECODE(xdecode, "caf\xC3\xA9", "ERR"); /* 8-bit */
	CHECK_DECODE(xdecode, "\x7F", "ERR");
	CHECK_DECODE(xdecode, "ab+", "ERR");
}

TEST(xtext_encode_roundtrip)
{
	struct str out = STR_INIT;
	xtext_encode("a+b=c d\x01\xFF", 9, &out);
	CHECK_STR(str_cstr(&out), "a+2Bb+3Dc+20d+01+FF");
	struct str back = STR_INIT;
	const char *error;
	CHECK(xtext_decode(out.data, out.len, &back, &error) == 0);
	CHECK(back.len == 9 && memcmp(back.data, "a+b=c d\x01\xFF", 9) == 0);
	str_free(&out);
	str_free(&back);
}

TEST(unitext_decode_good)
{
	CHECK_DECODE(udecode, "user@example.com", "user@example.com");
	CHECK_DECODE(udecode, "caf\xC3\xA9@example.com", "caf\xC3\xA9@example.com");
	CHECK_DECODE(udecode, "caf\\x{E9}@example.com", "caf\xC3\xA9@example.com");
	CHECK_DECODE(udecode, "caf\\x{e9}@example.com", "caf\xC3\xA9@example.com");
	CHECK_DECODE(udecode, "\\x{20AC}", "\xE2\x82\xAC");
	CHECK_DECODE(udecode, "\\x{1F600}", "\xF0\x9F\x98\x80");
	CHECK_DECODE(udecode, "\\x{10FFFF}", "\xF4\x8F\xBF\xBF");
	CHECK_DECODE(udecode, "a\\x{2B}b", "a+b");
	CHECK_DECODE(udecode, "a\\x{3D}b", "a=b");
	CHECK_DECODE(udecode, "a\\x{5C}b", "a\\b");
	CHECK_DECODE(udecode, "a\\x{20}b", "a b");
	CHECK_DECODE(udecode, "\\x{100}", "\xC4\x80");
}

TEST(unitext_decode_bad)
{
	CHECK_DECODE(udecode, "a+b", "ERR"); /* '+' must be escaped */
	CHECK_DECODE(udecode, "a=b", "ERR");
	CHECK_DECODE(udecode, "a\\b", "ERR"); /* lone backslash */
	CHECK_DECODE(udecode, "a b", "ERR");
	CHECK_DECODE(udecode, "\\x{41}", "ERR");      /* escaped printable ASCII */
	CHECK_DECODE(udecode, "\\x{00}", "ERR");      /* NUL */
	CHECK_DECODE(udecode, "\\x{0E9}", "ERR");     /* leading zero */
	CHECK_DECODE(udecode, "\\x{E}", "ERR");       /* one digit */
	CHECK_DECODE(udecode, "\\x{D800}", "ERR");    /* surrogate */
	CHECK_DECODE(udecode, "\\x{110000}", "ERR");  /* too large */
	CHECK_DECODE(udecode, "\\x{1000000}", "ERR"); /* seven digits */
	CHECK_DECODE(udecode, "\\x{}", "ERR");
	CHECK_DECODE(udecode, "\\x{E9", "ERR");
	CHECK_DECODE(udecode, "\\x{G9}", "ERR");
	CHECK_DECODE(udecode, "\\y{E9}", "ERR");
	CHECK_DECODE(udecode, "\\x", "ERR");
	CHECK_DECODE(udecode, "caf\xC3", "ERR");      /* truncated UTF-8 */
	CHECK_DECODE(udecode, "\xC0\xAF", "ERR");     /* overlong */
	CHECK_DECODE(udecode, "\xED\xA0\x80", "ERR"); /* encoded surrogate */
}

TEST(unitext_encode)
{
	struct str out = STR_INIT;
	CHECK(unitext_encode("caf\xC3\xA9+x=y\\z", 11, true, &out) == 0);
	CHECK_STR(str_cstr(&out), "caf\\x{E9}\\x{2B}x\\x{3D}y\\x{5C}z");
	str_clear(&out);
	CHECK(unitext_encode("caf\xC3\xA9 \xE2\x82\xAC", 9, false, &out) == 0);
	CHECK_STR(str_cstr(&out), "caf\xC3\xA9\\x{20}\xE2\x82\xAC");
	str_clear(&out);
	CHECK(unitext_encode("\xF0\x9F\x98\x80", 4, true, &out) == 0);
	CHECK_STR(str_cstr(&out), "\\x{1F600}");
	CHECK(unitext_encode("bad\xC3", 4, true, &out) == -1);
	CHECK(unitext_encode("a\0b", 3, true, &out) == -1);
	/* Encoding then decoding gives the text back. */
	const char *text = "\xC3\xA9t\xC3\xA9+\xE2\x82\xAC=\\ \xF0\x9F\x98\x80~";
	for (int ascii = 0; ascii < 2; ascii++) {
		struct str enc = STR_INIT, dec = STR_INIT;
		const char *error;
		CHECK(unitext_encode(text, strlen(text), ascii, &enc) == 0);
		CHECK(unitext_decode(enc.data, enc.len, &dec, &error) == 0);
		CHECK_STR(str_cstr(&dec), text);
		str_free(&enc);
		str_free(&dec);
	}
	str_free(&out);
}

int main(void)
{
	RUN(xtext_decode_good);
	RUN(xtext_decode_bad);
	RUN(xtext_encode_roundtrip);
	RUN(unitext_decode_good);
	RUN(unitext_decode_bad);
	RUN(unitext_encode);
	return TESTING_DONE();
}

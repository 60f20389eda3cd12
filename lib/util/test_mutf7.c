/* Unit tests for util/mutf7: RFC 3501's examples, both directions, and
 * the forms a strict decoder must refuse. */
#include "util/mutf7.h"
#include "util/testing.h"

#include <stdint.h>
#include <string.h>

struct pair {
	const char *utf8;
	size_t utf8_len; /* 0: strlen */
	const char *mutf7;
};

static const struct pair pairs[] = {
    {"", 0, ""},
    {"INBOX", 0, "INBOX"},
    {"~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 0,
     "~peter/mail/&U,BTFw-/&ZeVnLIqe-"},
    {"&", 0, "&-"},
    {"a&b&&", 0, "a&-b&-&-"},
    {"\xc3\x84rger", 0, "&AMQ-rger"},
    {"\xe2\x98\xba!", 0, "&Jjo-!"},
    {"\xc3\xa9\xc3\xa8", 0, "&AOkA6A-"},
    {"\xc3\xa9 \xc3\xa8", 0, "&AOk- &AOg-"},
    {"\xc3\xa9&\xc3\xa8", 0, "&AOk-&-&AOg-"},
    {"\xf0\x9f\x98\x80", 0, "&2D3eAA-"},
    {"\xe4\xb8\xad\xf0\x9f\x98\x80", 0, "&Ti3YPd4A-"},
    {"\x1f", 0, "&AB8-"},
    {"\0", 1, "&AAA-"},
    {"~!\"#$%'()*+,-./:;<=>?@[\\]^_`{|}", 0, "~!\"#$%'()*+,-./:;<=>?@[\\]^_`{|}"},
};

TEST(rfc_examples)
{
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		const struct pair *p = &pairs[i];
		size_t len = p->utf8_len ? p->utf8_len : strlen(p->utf8);
		struct str e = STR_INIT, d = STR_INIT;
		const char *error = NULL;
		CHECK(mutf7_encode(p->utf8, len, &e, &error) == 0);
		CHECK_STR(str_cstr(&e), p->mutf7);
		CHECK(mutf7_decode(p->mutf7, strlen(p->mutf7), &d, &error) == 0);
		CHECK(d.len == len && memcmp(str_cstr(&d), p->utf8, len) == 0);
		str_free(&e);
		str_free(&d);
	}
}

TEST(appends)
{
	struct str s = STR_INIT;
	const char *error = NULL;
	str_set(&s, "x.");
	CHECK(mutf7_encode("\xc3\x84", 2, &s, &error) == 0);
	CHECK_STR(str_cstr(&s), "x.&AMQ-");
	/* A failure leaves what was there. */
	CHECK(mutf7_encode("ok\xff", 3, &s, &error) == -1);
	CHECK_STR(str_cstr(&s), "x.&AMQ-");
	CHECK(mutf7_decode("ok&AMR-", 7, &s, &error) == -1);
	CHECK_STR(str_cstr(&s), "x.&AMQ-");
	str_free(&s);
}

TEST(encode_rejects)
{
	static const char *const bad[] = {
	    "\xff",             /* never in UTF-8 */
	    "\x80",             /* a lone continuation byte */
	    "\xc3",             /* truncated */
	    "a\xe6\x97",        /* truncated at the end */
	    "\xc0\x80",         /* overlong NUL */
	    "\xe0\x80\xaf",     /* overlong '/' */
	    "\xed\xa0\x80",     /* a surrogate (U+D800) */
	    "\xf4\x90\x80\x80", /* past U+10FFFF */
	    "\xc3\x28",         /* bad continuation */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct str e = STR_INIT;
		const char *error = NULL;
		CHECK(mutf7_encode(bad[i], strlen(bad[i]), &e, &error) == -1);
		CHECK(error != NULL && e.len == 0);
		str_free(&e);
	}
}

TEST(decode_rejects)
{
	static const char *const bad[] = {
	    "&",          /* "&" at the end */
	    "a&",         /* the same */
	    "&U,BTFw",    /* unterminated shift */
	    "&&",         /* "&" neither "-" nor base64 */
	    "&*-",        /* the same */
	    "&AG*-",      /* bad character inside a shift */
	    "&AGE-",      /* 'a' encoded: printable ASCII must stand for itself */
	    "&ACY-",      /* '&' encoded: must be "&-" */
	    "&ACA-",      /* ' ' encoded */
	    "&AMQ-&AMQ-", /* a shift right after another (canonical: &AMQAxA-) */
	    "&AMR-",      /* padding bits not zero */
	    "&AMQA-",     /* a whole base64 character of padding */
	    "&A-",        /* six bits: no code unit at all */
	    "&2D0-",      /* high surrogate at the end */
	    "&3gA-",      /* low surrogate alone */
	    "&2D3YPQ-",   /* high surrogate followed by another */
	    "&2D0AQQ-",   /* high surrogate followed by a BMP character */
	    "\xc3\xa4",   /* raw 8-bit */
	    "a\tb",       /* control character */
	    "a\x7f",      /* DEL */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct str d = STR_INIT;
		const char *error = NULL;
		if (mutf7_decode(bad[i], strlen(bad[i]), &d, &error) != -1)
			fprintf(stderr, "accepted: %s\n", bad[i]);
		CHECK(error != NULL && d.len == 0);
		str_free(&d);
	}
	/* A NUL byte in the input is not printable ASCII either. */
	struct str d = STR_INIT;
	const char *error = NULL;
	CHECK(mutf7_decode("a\0b", 3, &d, &error) == -1);
	/* But a shift then a literal "&" is canonical. */
	CHECK(mutf7_decode("&AMQ-&-", 7, &d, &error) == 0);
	CHECK_STR(str_cstr(&d), "\xc3\x84&");
	str_free(&d);
}

/* Every BMP character outside printable ASCII (surrogates aside) and some
 * beyond survive the round trip, alone and in runs of one to four. */
TEST(round_trip_all)
{
	for (uint32_t cp = 0; cp < 0x110000; cp += cp < 0x10000 ? 1 : 0x1001) {
		if ((cp >= 0x20 && cp <= 0x7e) || (cp >= 0xd800 && cp <= 0xdfff))
			continue;
		struct str u = STR_INIT, e = STR_INIT, d = STR_INIT;
		const char *error = NULL;
		for (int n = 1; n <= 4; n++) {
			char buf[4];
			size_t len;
			if (cp < 0x80) {
				buf[0] = (char)cp;
				len = 1;
			} else if (cp < 0x800) {
				buf[0] = (char)(0xc0 | (cp >> 6));
				buf[1] = (char)(0x80 | (cp & 0x3f));
				len = 2;
			} else if (cp < 0x10000) {
				buf[0] = (char)(0xe0 | (cp >> 12));
				buf[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
				buf[2] = (char)(0x80 | (cp & 0x3f));
				len = 3;
			} else {
				buf[0] = (char)(0xf0 | (cp >> 18));
				buf[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
				buf[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
				buf[3] = (char)(0x80 | (cp & 0x3f));
				len = 4;
			}
			str_append(&u, buf, len);
			str_clear(&e);
			str_clear(&d);
			if (mutf7_encode(u.data, u.len, &e, &error) != 0 ||
			    mutf7_decode(e.data, e.len, &d, &error) != 0 || d.len != u.len ||
			    memcmp(d.data, u.data, u.len) != 0) {
				fprintf(stderr, "round trip of U+%04X x%d failed\n", (unsigned)cp,
				        n);
				CHECK(false);
				break;
			}
		}
		str_free(&u);
		str_free(&e);
		str_free(&d);
	}
	CHECK(true);
}

int main(void)
{
	RUN(rfc_examples);
	RUN(appends);
	RUN(encode_rejects);
	RUN(decode_rejects);
	RUN(round_trip_all);
	return TESTING_DONE();
}

/* Unit tests for smtp/address: RFC 5321 mailboxes, canonical form, HELO. */
#include <stdlib.h>

#include "smtp/address.h"
#include "util/alloc.h"
#include "util/testing.h"

static const char *last_error;

/* The canonical form of text, or "ERR" (with last_error set). */
static char *canon(const char *text, bool utf8)
{
	struct address a;
	last_error = NULL;
	if (address_parse(text, strlen(text), utf8, &a, &last_error) != 0) {
		CHECK(last_error != NULL && a.local == NULL && a.domain == NULL);
		return xstrdup("ERR");
	}
	char *s = address_to_string(&a);
	/* The canonical form parses back to itself. */
	struct address b;
	const char *error;
	CHECK(address_parse(s, strlen(s), utf8, &b, &error) == 0);
	if (b.local) {
		CHECK_STR(b.local, a.local);
		CHECK_STR(b.domain, a.domain);
		address_free(&b);
	}
	address_free(&a);
	return s;
}

#define CHECK_CANON(text, utf8, want)                                                              \
	do {                                                                                       \
		char *got_ = canon(text, utf8);                                                    \
		CHECK_STR(got_, want);                                                             \
		free(got_);                                                                        \
	} while (0)
#define CHECK_BAD(text, utf8, why)                                                                 \
	do {                                                                                       \
		CHECK_CANON(text, utf8, "ERR");                                                    \
		CHECK_STR(last_error, why);                                                        \
	} while (0)

/* A string of n copies of c. */
static char *repeat(char c, size_t n)
{
	char *s = xmalloc(n + 1);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

TEST(dot_string)
{
	CHECK_CANON("user@example.com", false, "user@example.com");
	CHECK_CANON("First.Last@Example.COM", false, "First.Last@example.com");
	CHECK_CANON("a.b.c@x", false, "a.b.c@x");
	CHECK_CANON("!#$%&'*+-/=?^_`{|}~@example.com", false, "!#$%&'*+-/=?^_`{|}~@example.com");
	CHECK_CANON("user+tag@sub.example.co.uk", false, "user+tag@sub.example.co.uk");
	CHECK_BAD(".user@example.com", false, "local part starts with a dot");
	CHECK_BAD("user.@example.com", false, "local part ends with a dot");
	CHECK_BAD("us..er@example.com", false, "consecutive dots in local part");
	CHECK_BAD("@example.com", false, "empty local part");
	CHECK_BAD("user", false, "missing domain");
	CHECK_BAD("user@", false, "empty domain");
	CHECK_BAD("us er@example.com", false, "invalid character in local part");
	CHECK_BAD("us(er)@example.com", false, "invalid character in local part");
	CHECK_BAD("a@b@example.com", false, "invalid character in domain");
	CHECK_BAD("us\"er\"@example.com", false, "invalid character in local part");
	CHECK_BAD("user@example.com ", false, "invalid character in domain");
}

TEST(quoted_string)
{
	CHECK_CANON("\"john doe\"@example.com", false, "\"john doe\"@example.com");
	CHECK_CANON("\"plain\"@example.com", false, "plain@example.com"); /* no need to quote */
	CHECK_CANON("\"a.b\"@example.com", false, "a.b@example.com");
	CHECK_CANON("\"a..b\"@example.com", false, "\"a..b\"@example.com");
	CHECK_CANON("\".a\"@example.com", false, "\".a\"@example.com");
	CHECK_CANON("\"\"@example.com", false, "\"\"@example.com");
	CHECK_CANON("\"a\\\"b\"@example.com", false, "\"a\\\"b\"@example.com");
	CHECK_CANON("\"a\\\\b\"@example.com", false, "\"a\\\\b\"@example.com");
	CHECK_CANON("\"\\a\\b\"@example.com", false, "ab@example.com"); /* needless escapes */
	CHECK_CANON("\"a@b\"@example.com", false, "\"a@b\"@example.com");
	CHECK_CANON("\"<a>\"@example.com", false, "\"<a>\"@example.com");
	CHECK_BAD("\"unterminated@example.com", false, "unterminated quoted local part");
	CHECK_BAD("\"a\"b@example.com", false, "invalid character in local part");
	CHECK_BAD("\"a\"", false, "missing domain");
	CHECK_BAD("\"a\tb\"@example.com", false, "invalid character in quoted local part");
	CHECK_BAD("\"a\\\tb\"@example.com", false, "bad quoted pair in local part");
	CHECK_BAD("\"a\\", false, "bad quoted pair in local part");

	struct address a;
	const char *error;
	CHECK(address_parse("\"a\\\"b c\"@x.org", 14, false, &a, &error) == 0);
	CHECK_STR(a.local, "a\"b c");
	CHECK_STR(a.domain, "x.org");
	address_free(&a);
}

TEST(lengths)
{
	char *local64 = repeat('a', 64), *local65 = repeat('a', 65);
	char *text = xasprintf("%s@example.com", local64);
	CHECK_CANON(text, false, text);
	free(text);
	text = xasprintf("%s@example.com", local65);
	CHECK_BAD(text, false, "local part too long");
	free(text);
	/* A quoted local part counts as sent: 62 + 2 quotes fits, 63 + 2 does not. */
	char *q62 = repeat(' ', 62), *q63 = repeat(' ', 63);
	text = xasprintf("\"%s\"@x.org", q62);
	CHECK_CANON(text, false, text);
	free(text);
	text = xasprintf("\"%s\"@x.org", q63);
	CHECK_BAD(text, false, "local part too long");
	free(text);

	char *label63 = repeat('b', 63), *label64 = repeat('b', 64);
	text = xasprintf("u@%s.com", label63);
	CHECK_CANON(text, false, text);
	free(text);
	text = xasprintf("u@%s.com", label64);
	CHECK_BAD(text, false, "domain label too long");
	free(text);
	/* The whole mailbox: 254 octets at most. */
	char *last60 = repeat('c', 60), *last61 = repeat('c', 61);
	text = xasprintf("u@%s.%s.%s.%s", label63, label63, label63, last60);
	CHECK(strlen(text) == 254);
	CHECK_CANON(text, false, text);
	free(text);
	text = xasprintf("u@%s.%s.%s.%s", label63, label63, label63, last61);
	CHECK(strlen(text) == 255);
	CHECK_BAD(text, false, "address too long");
	free(text);
	free(last60);
	free(last61);
	/* A domain on its own: 255 octets at most. */
	const char *error;
	text = xasprintf("%s.%s.%s.%s", label63, label63, label63, label63);
	CHECK(strlen(text) == 255);
	CHECK(address_check_domain(text, strlen(text), false, &error) == 0);
	free(text);
	text = xasprintf("%s.%s.%s.%s.a", label63, label63, label63, label63);
	CHECK(address_check_domain(text, strlen(text), false, &error) == -1);
	CHECK_STR(error, "domain too long");
	free(text);
	free(local64);
	free(local65);
	free(q62);
	free(q63);
	free(label63);
	free(label64);
}

TEST(domains)
{
	CHECK_CANON("u@localhost", false, "u@localhost");
	CHECK_CANON("u@a-b.example", false, "u@a-b.example");
	CHECK_CANON("u@123.example", false, "u@123.example");
	CHECK_CANON("u@EXAMPLE.Com", false, "u@example.com");
	CHECK_CANON("u@xn--caf-dma.example", false, "u@xn--caf-dma.example");
	CHECK_BAD("u@-a.example", false, "domain label starts or ends with a hyphen");
	CHECK_BAD("u@a-.example", false, "domain label starts or ends with a hyphen");
	CHECK_BAD("u@a..example", false, "empty label in domain");
	CHECK_BAD("u@.example", false, "empty label in domain");
	CHECK_BAD("u@example.com.", false, "empty label in domain");
	CHECK_BAD("u@a_b.example", false, "invalid character in domain");
	CHECK_BAD("u@a b.example", false, "invalid character in domain");
	CHECK_BAD("u@exa mple", false, "invalid character in domain");
}

TEST(address_literals)
{
	CHECK_CANON("u@[192.0.2.1]", false, "u@[192.0.2.1]");
	CHECK_CANON("u@[0.0.0.0]", false, "u@[0.0.0.0]");
	CHECK_CANON("u@[255.255.255.255]", false, "u@[255.255.255.255]");
	CHECK_CANON("u@[IPv6:2001:db8::1]", false, "u@[IPv6:2001:db8::1]");
	CHECK_CANON("u@[ipv6:2001:DB8::A]", false, "u@[IPv6:2001:db8::a]");
	CHECK_CANON("u@[IPv6:::1]", false, "u@[IPv6:::1]");
	CHECK_CANON("u@[IPv6:::]", false, "u@[IPv6:::]");
	CHECK_CANON("u@[IPv6:::ffff:192.0.2.1]", false, "u@[IPv6:::ffff:192.0.2.1]");
	CHECK_CANON("u@[IPv6:2001:db8:0:0:0:0:0:1]", false, "u@[IPv6:2001:db8:0:0:0:0:0:1]");
	CHECK_BAD("u@[256.0.0.1]", false, "bad address literal");
	CHECK_BAD("u@[1.2.3]", false, "bad address literal");
	CHECK_BAD("u@[1.2.3.4.5]", false, "bad address literal");
	CHECK_BAD("u@[1.2.3.4", false, "bad address literal");
	CHECK_BAD("u@[1.2.3.1234]", false, "bad address literal");
	CHECK_BAD("u@[]", false, "bad address literal");
	CHECK_BAD("u@[2001:db8::1]", false, "bad address literal"); /* tag missing */
	CHECK_BAD("u@[IPv6:2001:db8:::1]", false, "bad address literal");
	CHECK_BAD("u@[IPv6:1:2:3:4:5:6:7:8:9]", false, "bad address literal");
	CHECK_BAD("u@[IPv6:fe80::1%eth0]", false, "bad address literal");
	CHECK_BAD("u@[IPv6:]", false, "bad address literal");
	CHECK_BAD("u@[IPv6:12345::1]", false, "bad address literal");
	CHECK_BAD("u@[x-tag:whatever]", false, "bad address literal");
	CHECK_BAD("u@[1.2.3.4]x", false, "bad address literal");
}

TEST(utf8)
{
	const char *both = "jos\xC3\xA9@b\xC3\xBC"
	                   "cher.example";
	CHECK_CANON(both, true, both);
	CHECK_BAD(both, false, "non-ASCII character in address");
	CHECK_BAD("u@b\xC3\xBC"
	          "cher.example",
	          false, "non-ASCII character in address");
	CHECK_CANON("\xE7\x94\xA8\xE6\x88\xB7@\xE4\xBE\x8B\xE5\xAD\x90.\xE5\x85\xAC\xE5\x8F\xB8",
	            true,
	            "\xE7\x94\xA8\xE6\x88\xB7@\xE4\xBE\x8B\xE5\xAD\x90.\xE5\x85\xAC\xE5\x8F\xB8");
	/* Quoted UTF-8 that does not need quoting loses its quotes. */
	CHECK_CANON("\"jos\xC3\xA9\"@x.org", true, "jos\xC3\xA9@x.org");
	CHECK_CANON("\"jos\xC3\xA9 m\"@x.org", true, "\"jos\xC3\xA9 m\"@x.org");
	/* Only the ASCII letters of a U-label are lower-cased. */
	CHECK_CANON("u@B\xC3\x9C"
	            "CHER.Example",
	            true,
	            "u@b\xC3\x9C"
	            "cher.example");
	CHECK_BAD("jos\xC3@x.org", true, "invalid UTF-8 in address");
	CHECK_BAD("jos\xC0\xA9@x.org", true, "invalid UTF-8 in address");   /* overlong */
	CHECK_BAD("u@x\xED\xA0\x80.org", true, "invalid UTF-8 in address"); /* surrogate */
	CHECK_BAD("\"jos\xFF\"@x.org", true, "invalid UTF-8 in address");
	CHECK_BAD("u@[IPv6:\xC3\xA9::1]", true, "bad address literal");

	struct address a;
	const char *error;
	CHECK(address_parse(both, strlen(both), true, &a, &error) == 0);
	CHECK(!address_is_ascii(&a));
	CHECK(!address_domain_is_ascii(&a));
	CHECK(!address_is_null(&a));
	address_free(&a);
	CHECK(address_parse("jos\xC3\xA9@x.org", 10, true, &a, &error) == 0);
	CHECK(!address_is_ascii(&a));
	CHECK(address_domain_is_ascii(&a));
	address_free(&a);
	CHECK(address_parse("jo@x.org", 8, false, &a, &error) == 0);
	CHECK(address_is_ascii(&a));
	address_free(&a);
}

TEST(null_address)
{
	struct address a;
	const char *error;
	CHECK(address_parse("", 0, false, &a, &error) == 0);
	CHECK(address_is_null(&a));
	CHECK_STR(a.local, "");
	CHECK_STR(a.domain, "");
	char *s = address_to_string(&a);
	CHECK_STR(s, "");
	free(s);
	address_free(&a);
	CHECK(a.local == NULL && a.domain == NULL);
	address_free(&a); /* twice is harmless */
	/* A NUL byte is never part of an address. */
	CHECK(address_parse("a\0b@x.org", 9, true, &a, &error) == -1);
	CHECK(address_parse("\"a\0b\"@x.org", 11, true, &a, &error) == -1);
	CHECK(address_parse("ab@x\0.org", 9, true, &a, &error) == -1);
}

TEST(quote_and_unquote)
{
	CHECK(!address_local_needs_quoting("a.b", 3));
	CHECK(!address_local_needs_quoting("jos\xC3\xA9", 5));
	CHECK(address_local_needs_quoting("", 0));
	CHECK(address_local_needs_quoting(".a", 2));
	CHECK(address_local_needs_quoting("a.", 2));
	CHECK(address_local_needs_quoting("a..b", 4));
	CHECK(address_local_needs_quoting("a b", 3));
	CHECK(address_local_needs_quoting("a@b", 3));
	CHECK(address_local_needs_quoting("a\"b", 3));

	struct str out = STR_INIT;
	address_quote_local("a\"b\\c d", 7, &out);
	CHECK_STR(str_cstr(&out), "\"a\\\"b\\\\c d\"");
	str_clear(&out);
	address_quote_local("plain.name", 10, &out);
	CHECK_STR(str_cstr(&out), "plain.name");

	const char *error;
	str_clear(&out);
	CHECK(address_unquote_local("\"a\\\"b\\\\c d\"", 11, false, &out, &error) == 0);
	CHECK_STR(str_cstr(&out), "a\"b\\c d");
	str_clear(&out);
	CHECK(address_unquote_local("first.last", 10, false, &out, &error) == 0);
	CHECK_STR(str_cstr(&out), "first.last");
	str_clear(&out);
	CHECK(address_unquote_local("\"a\"b", 4, false, &out, &error) == -1);
	str_clear(&out);
	CHECK(address_unquote_local("a b", 3, false, &out, &error) == -1);
	str_clear(&out);
	CHECK(address_unquote_local("jos\xC3\xA9", 5, false, &out, &error) == -1);
	str_clear(&out);
	CHECK(address_unquote_local("jos\xC3\xA9", 5, true, &out, &error) == 0);
	str_free(&out);
}

TEST(header_canonical)
{
	char *key = (char *)"unset";
	CHECK(address_header_canonical("User@Example.COM", &key) == 0);
	CHECK_STR(key, "User@example.com");
	free(key);
	CHECK(address_header_canonical("\"a.b\"@example.com", &key) == 0);
	CHECK_STR(key, "a.b@example.com");
	free(key);
	CHECK(address_header_canonical("root", &key) == 0);
	CHECK(key == NULL);
	CHECK(address_header_canonical("a@@b", &key) == -1);
	CHECK(key == NULL);
}

TEST(helo)
{
#define HELO(text, strict) helo_syntax_ok(text, strlen(text), strict)
	CHECK(HELO("mail.example.com", true));
	CHECK(HELO("localhost", true));
	CHECK(HELO("host_name.example.com", true)); /* underscore tolerated */
	CHECK(HELO("[192.0.2.1]", true));
	CHECK(HELO("[IPv6:2001:db8::1]", true));
	CHECK(HELO("MAIL.EXAMPLE.COM", true));
	CHECK(HELO("1host.example", true));
	CHECK(!HELO("", true));
	CHECK(!HELO("192.0.2.1", true)); /* numeric, no brackets */
	CHECK(!HELO("12345", true));
	CHECK(!HELO("mail.example.com.", true));
	CHECK(!HELO("-mail.example.com", true));
	CHECK(!HELO("mail..example.com", true));
	CHECK(!HELO("mail example", true));
	CHECK(!HELO("[192.0.2.256]", true));
	CHECK(!HELO("[192.0.2.1", true));
	CHECK(!HELO("b\xC3\xBC"
	            "cher.example",
	            true));

	CHECK(HELO("mail.example.com", false));
	CHECK(HELO("192.0.2.1", false));
	CHECK(HELO("my laptop (really)", false));
	CHECK(HELO("b\xC3\xBC"
	           "cher",
	           false));
	CHECK(HELO("x", false));
	CHECK(!HELO("", false));
	CHECK(!HELO("   ", false));
	CHECK(!HELO("a\tb", false));
	CHECK(!HELO("a\x7F", false));
	CHECK(!helo_syntax_ok("a\0b", 3, false));
#undef HELO
}

int main(void)
{
	RUN(dot_string);
	RUN(quoted_string);
	RUN(lengths);
	RUN(domains);
	RUN(address_literals);
	RUN(utf8);
	RUN(null_address);
	RUN(quote_and_unquote);
	RUN(header_canonical);
	RUN(helo);
	return TESTING_DONE();
}

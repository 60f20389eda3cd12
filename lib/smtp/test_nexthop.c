/* Unit tests for next-hop parsing. */
#include "smtp/nexthop.h"
#include "util/testing.h"

static void check(const char *text, const char *host, const char *port, bool use_mx, bool literal)
{
	struct nexthop nh;
	const char *error = NULL;
	int rc = nexthop_parse(text, "25", &nh, &error);
	CHECK(rc == 0);
	if (rc != 0) {
		fprintf(stderr, "%s: %s\n", text, error);
		return;
	}
	CHECK_STR(nh.host, host);
	CHECK_STR(nh.port, port);
	CHECK(nh.use_mx == use_mx);
	CHECK(nh.literal == literal);
	nexthop_free(&nh);
}

TEST(forms)
{
	check("example.com", "example.com", "25", true, false);
	check("example.com.", "example.com", "25", true, false);
	check("example.com:2525", "example.com", "2525", true, false);
	check("[relay.example.com]", "relay.example.com", "25", false, false);
	check("[relay.example.com]:587", "relay.example.com", "587", false, false);
	check("[192.0.2.1]:26", "192.0.2.1", "26", false, true);
	check("192.0.2.1", "192.0.2.1", "25", false, true);
	check("[2001:db8::1]:25", "2001:db8::1", "25", false, true);
	check("[ipv6:2001:db8::1]", "2001:db8::1", "25", false, true);
}

TEST(bad)
{
	static const char *const bad[] = {
	    "[unclosed", "[x]junk", "host:0", "host:65536", "host:2x", "",
	    "ho st",     "[]",      "a:b:c",  "[ho/st]",    "host:",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct nexthop nh;
		const char *error = NULL;
		CHECK(nexthop_parse(bad[i], "25", &nh, &error) == -1);
		CHECK(error != NULL);
	}
}

static void check_lmtp(const char *text, const char *host, const char *port, const char *path,
                       bool literal)
{
	struct nexthop nh;
	const char *error = NULL;
	int rc = nexthop_parse_lmtp(text, "24", &nh, &error);
	CHECK(rc == 0);
	if (rc != 0) {
		fprintf(stderr, "%s: %s\n", text, error);
		return;
	}
	CHECK_STR(nh.host, host);
	CHECK_STR(nh.port, port);
	CHECK(!nh.use_mx);
	CHECK(nh.literal == literal);
	CHECK((nh.path == NULL) == (path == NULL));
	if (path != NULL && nh.path != NULL)
		CHECK_STR(nh.path, path);
	nexthop_free(&nh);
}

TEST(lmtp_forms)
{
	check_lmtp("unix:private/dovecot-lmtp", "", "", "private/dovecot-lmtp", false);
	check_lmtp("unix:/run/dovecot/lmtp", "", "", "/run/dovecot/lmtp", false);
	check_lmtp("UNIX:/run/lmtp", "", "", "/run/lmtp", false);
	check_lmtp("inet:127.0.0.1:2424", "127.0.0.1", "2424", NULL, true);
	check_lmtp("inet:127.0.0.1", "127.0.0.1", "24", NULL, true);
	check_lmtp("inet:mail.example.com", "mail.example.com", "24", NULL, false);
	check_lmtp("inet:[mail.example.com]:2003", "mail.example.com", "2003", NULL, false);
	check_lmtp("[mail.example.com]:24", "mail.example.com", "24", NULL, false);
	check_lmtp("mail.example.com:24", "mail.example.com", "24", NULL, false);
	check_lmtp("mail.example.com", "mail.example.com", "24", NULL, false);
	check_lmtp("[::1]:24", "::1", "24", NULL, true);
	static const char *const bad[] = {"unix:", "unix:a\nb", "inet:", "inet:host:x", "[x"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct nexthop nh;
		const char *error = NULL;
		CHECK(nexthop_parse_lmtp(bad[i], "24", &nh, &error) == -1);
		CHECK(error != NULL);
	}
}

int main(void)
{
	RUN(forms);
	RUN(bad);
	RUN(lmtp_forms);
	return TESTING_DONE();
}

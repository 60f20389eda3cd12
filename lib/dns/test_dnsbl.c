/* Unit tests for DNS blocklist site entries: parsing, filters, errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dnsbl.h"
#include "util/testing.h"

static bool listed(const struct dnsbl_site *site, unsigned a, unsigned b, unsigned c, unsigned d)
{
	const unsigned char addr[4] = {(unsigned char)a, (unsigned char)b, (unsigned char)c,
	                               (unsigned char)d};
	return dnsbl_site_match(site, addr);
}

TEST(plain_domain)
{
	struct dnsbl_site s;
	const char *error = NULL;
	CHECK(dnsbl_site_parse("Zen.SpamHaus.org.", &s, &error) == 0);
	CHECK_STR(s.domain, "zen.spamhaus.org");
	CHECK(s.filter == NULL);
	/* Any answer in 127.0.0.0/8, and nothing else. */
	CHECK(listed(&s, 127, 0, 0, 2));
	CHECK(listed(&s, 127, 255, 1, 0));
	CHECK(!listed(&s, 128, 0, 0, 2));
	CHECK(!listed(&s, 10, 0, 0, 2));
	dnsbl_site_free(&s);
}

TEST(filters)
{
	struct dnsbl_site s;
	const char *error = NULL;
	CHECK(dnsbl_site_parse("zen.spamhaus.org=127.0.0.[2..11]", &s, &error) == 0);
	CHECK_STR(s.domain, "zen.spamhaus.org");
	CHECK_STR(s.filter, "127.0.0.[2..11]");
	CHECK(!listed(&s, 127, 0, 0, 1));
	CHECK(listed(&s, 127, 0, 0, 2));
	CHECK(listed(&s, 127, 0, 0, 11));
	CHECK(!listed(&s, 127, 0, 0, 12));
	CHECK(!listed(&s, 127, 0, 1, 2));
	dnsbl_site_free(&s);

	CHECK(dnsbl_site_parse("bl.test=127.0.0.[2;4;10..12]", &s, &error) == 0);
	CHECK(listed(&s, 127, 0, 0, 2) && listed(&s, 127, 0, 0, 4));
	CHECK(!listed(&s, 127, 0, 0, 3) && !listed(&s, 127, 0, 0, 9));
	CHECK(listed(&s, 127, 0, 0, 10) && listed(&s, 127, 0, 0, 12));
	CHECK(!listed(&s, 127, 0, 0, 13));
	dnsbl_site_free(&s);

	/* A plain address, and a set in another octet. */
	CHECK(dnsbl_site_parse("bl.test=127.0.0.2", &s, &error) == 0);
	CHECK(listed(&s, 127, 0, 0, 2) && !listed(&s, 127, 0, 0, 3));
	dnsbl_site_free(&s);
	CHECK(dnsbl_site_parse("bl.test=127.0.[1;3].[0..255]", &s, &error) == 0);
	CHECK(listed(&s, 127, 0, 1, 0) && listed(&s, 127, 0, 3, 255));
	CHECK(!listed(&s, 127, 0, 2, 0));
	dnsbl_site_free(&s);
	CHECK(dnsbl_site_parse("bl.test=127.0.0.[7]", &s, &error) == 0);
	CHECK(listed(&s, 127, 0, 0, 7) && !listed(&s, 127, 0, 0, 8));
	dnsbl_site_free(&s);
}

TEST(errors)
{
	static const char *const bad[] = {
	    "",
	    "=127.0.0.2",
	    ".",
	    "bl..test",
	    "bl.test..",
	    ".bl.test",
	    "bl test",
	    "bl.test/x",
	    "bl.test=",
	    "bl.test=127.0.0",
	    "bl.test=127.0.0.2.1",
	    "bl.test=127.0.0.256",
	    "bl.test=127.0.0.0002",
	    "bl.test=127.0.0.-1",
	    "bl.test=127.0.0.[2..11",
	    "bl.test=127.0.0.[11..2]",
	    "bl.test=127.0.0.[]",
	    "bl.test=127.0.0.[2;]",
	    "bl.test=127.0.0.[2,3]",
	    "bl.test=127.0.0.[2...3]",
	    "bl.test=127.0.0.[2..300]",
	    "bl.test=127.0.0.2x",
	    "bl.test=127.0.0.2=3",
	    "bl.test=localhost",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct dnsbl_site s;
		const char *error = NULL;
		int rc = dnsbl_site_parse(bad[i], &s, &error);
		CHECK(rc == -1 && error != NULL && *error != '\0');
		if (rc != -1)
			fprintf(stderr, "accepted: \"%s\"\n", bad[i]);
		dnsbl_site_free(&s);
	}
	/* A label of 63 characters is fine, 64 is not; the whole domain must
	 * leave room for an IPv6 query name (64 characters). */
	char label[80];
	memset(label, 'a', 63);
	strcpy(label + 63, ".test");
	struct dnsbl_site s;
	const char *error = NULL;
	CHECK(dnsbl_site_parse(label, &s, &error) == 0);
	dnsbl_site_free(&s);
	memset(label, 'a', 64);
	strcpy(label + 64, ".test");
	CHECK(dnsbl_site_parse(label, &s, &error) == -1);
	dnsbl_site_free(&s);
	char longname[200];
	strcpy(longname, "");
	for (int i = 0; i < 19; i++)
		strcat(longname, "abcdefghi.");
	strcat(longname, "test"); /* 194 characters */
	CHECK(dnsbl_site_parse(longname, &s, &error) == -1);
	dnsbl_site_free(&s);
}

TEST(domain_names)
{
	static const struct {
		const char *name, *site, *want;
	} cases[] = {
	    {"Example.COM", "dbl.example", "example.com.dbl.example"},
	    {"mail.example.com.", "dbl.example", "mail.example.com.dbl.example"},
	    {"a-b_c.example", "dbl.example", "a-b_c.example.dbl.example"},
	    {"localhost", "dbl.example", NULL},   /* no dot */
	    {"unknown", "dbl.example", NULL},     /* smtpd's name for none */
	    {"[192.0.2.1]", "dbl.example", NULL}, /* an address literal */
	    {"192.0.2.1", "dbl.example", NULL},   /* all numeric */
	    {"a..example", "dbl.example", NULL},  /* an empty label */
	    {"bad name.example", "dbl.example", NULL},
	    {"caf\xc3\xa9.example", "dbl.example", NULL}, /* not an A-label */
	    {"", "dbl.example", NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = dnsbl_domain_name_under(cases[i].name, cases[i].site);
		if (cases[i].want == NULL)
			CHECK(got == NULL);
		else
			CHECK_STR(got, cases[i].want);
		free(got);
	}
	/* A label of 64 characters, and a query name over 253. */
	char label[80], name[300];
	memset(label, 'a', 64);
	label[64] = '\0';
	snprintf(name, sizeof(name), "%s.example", label);
	CHECK(dnsbl_domain_name_under(name, "dbl.example") == NULL);
	for (size_t i = 0; i < 240; i += 2)
		memcpy(name + i, "a.", 2);
	memcpy(name + 240, "example", 8);
	CHECK(dnsbl_domain_name_under(name, "dbl.example") == NULL);
	char *ok = dnsbl_domain_name_under(name + 200, "dbl.example");
	CHECK(ok != NULL);
	free(ok);
}

int main(void)
{
	RUN(plain_domain);
	RUN(filters);
	RUN(errors);
	RUN(domain_names);
	return TESTING_DONE();
}

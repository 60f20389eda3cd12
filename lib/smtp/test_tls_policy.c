/* Unit tests for the TLS policy value parser (lib/smtp/tls_policy.c). */
#include <stdlib.h>

#include "smtp/tls_policy.h"
#include "tls/tls.h"
#include "util/testing.h"

static const char *const verify_default = "hostname";
static const char *const secure_default = "nexthop, dot-nexthop";

static int parse(const char *value, struct tls_policy *p, char **error)
{
	*error = NULL;
	tls_policy_free(p);
	return tls_policy_parse(value, verify_default, secure_default, p, error);
}

TEST(levels_and_defaults)
{
	struct tls_policy p = {0};
	char *error;
	CHECK(parse("may", &p, &error) == 0 && p.level == TLS_LEVEL_MAY && p.match_count == 0);
	CHECK(parse("  DANE  ", &p, &error) == 0 && p.level == TLS_LEVEL_DANE);
	CHECK(parse("verify", &p, &error) == 0 && p.level == TLS_LEVEL_VERIFY);
	CHECK(p.match_count == 1);
	CHECK_STR(p.match[0], "hostname");
	CHECK(parse("secure", &p, &error) == 0 && p.level == TLS_LEVEL_SECURE);
	CHECK(p.match_count == 2);
	CHECK_STR(p.match[0], "nexthop");
	CHECK_STR(p.match[1], "dot-nexthop");
	CHECK(p.min_version == 0 && p.max_version == 0 && p.ciphers == NULL);
	CHECK(parse("Dane-Only", &p, &error) == 0 && p.level == TLS_LEVEL_DANE_ONLY);
	CHECK(p.match_count == 0);
	CHECK_STR(tls_level_name(TLS_LEVEL_DANE_ONLY), "dane-only");
	CHECK_STR(tls_level_name(TLS_LEVEL_SECURE), "secure");
	CHECK(tls_level_parse("Encrypt") == TLS_LEVEL_ENCRYPT);
	CHECK(tls_level_parse("fortify") == -1);
	tls_policy_free(&p);
}

TEST(attributes)
{
	struct tls_policy p = {0};
	char *error;
	CHECK(parse("verify match=hostname:.example.com:mx.example.net", &p, &error) == 0);
	CHECK(p.match_count == 3);
	CHECK_STR(p.match[1], ".example.com");
	CHECK(parse("secure match=nexthop protocols=>=TLSv1.3", &p, &error) == 0);
	CHECK(p.match_count == 1 && p.min_version == TLS_VERSION_1_3 &&
	      p.max_version == TLS_VERSION_1_3);
	CHECK(parse("encrypt protocols=!TLSv1 !TLSv1.1 ciphers=high", &p, &error) == 0);
	CHECK(p.min_version == TLS_VERSION_1_2 && p.max_version == TLS_VERSION_1_3);
	CHECK(p.ciphers != NULL && strstr(p.ciphers, "HIGH") != NULL);
	CHECK(parse("encrypt ciphers=medium protocols=<=TLSv1.2", &p, &error) == 0);
	CHECK(p.max_version == TLS_VERSION_1_2);
	CHECK(parse("may ciphers=ECDHE+AESGCM", &p, &error) == 0);
	CHECK_STR(p.ciphers, "ECDHE+AESGCM");
	tls_policy_free(&p);
}

TEST(errors)
{
	static const char *const bad[] = {
	    "",
	    "   ",
	    "fortify",
	    "verify match=",
	    "verify match=a/b",
	    "encrypt match=hostname",
	    "may protocols=<=SSLv3",
	    "may protocols=>=TLSv1.3 <=TLSv1.2",
	    "may ciphers=NO-SUCH-CIPHER-AT-ALL",
	    "may colour=blue",
	    "may nonsense",
	};
	struct tls_policy p = {0};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *error = NULL;
		int rc = parse(bad[i], &p, &error);
		CHECK(rc == -1 && error != NULL);
		if (rc != -1)
			fprintf(stderr, "accepted: \"%s\"\n", bad[i]);
		free(error);
	}
	/* The message names what is wrong. */
	char *error = NULL;
	CHECK(parse("may colour=blue", &p, &error) == -1 && strstr(error, "colour") != NULL);
	free(error);
	/* A bad default match list is an error too. */
	tls_policy_free(&p);
	CHECK(tls_policy_parse("verify", "a/b", secure_default, &p, &error) == -1);
	free(error);
	tls_policy_free(&p);
}

int main(void)
{
	RUN(levels_and_defaults);
	RUN(attributes);
	RUN(errors);
	return TESTING_DONE();
}

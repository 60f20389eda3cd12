/* Unit tests for the TLS policy value parser (lib/smtp/tls_policy.c). */
#include <stdlib.h>
#include <string.h>

#include "smtp/tls_policy.h"
#include "tls/tls.h"
#include "util/alloc.h"
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

TEST(repeated_match)
{
	/* Several match= add up, as in Postfix. */
	struct tls_policy p = {0};
	char *error;
	CHECK(parse("secure match=nexthop match=.example.net:mx.example.org", &p, &error) == 0);
	CHECK(p.match_count == 3);
	CHECK_STR(p.match[0], "nexthop");
	CHECK_STR(p.match[2], "mx.example.org");
	tls_policy_free(&p);
}

static const char *const sha256_a =
    "3D:95:34:51:24:66:33:B9:D2:40:99:C0:C1:17:0B:D1:EC:3B:2D:B0:5B:B1:FB:6D:20:A3:9D:72:F6:"
    "8D:12:35";
static const char *const sha256_b =
    "ec3b2db05bb1fb6d20a39d72f68d12353d953451246633b9d24099c0c1170bd1";

TEST(fingerprints)
{
	struct tls_policy p = {0};
	char *error = NULL;
	char *value = xasprintf("fingerprint match=%s", sha256_a);
	CHECK(parse(value, &p, &error) == 0 && p.level == TLS_LEVEL_FINGERPRINT);
	free(value);
	CHECK(p.fingerprint_count == 1 && p.fingerprints[0].len == 32);
	CHECK(p.fingerprints[0].data[0] == 0x3D && p.fingerprints[0].data[31] == 0x35);
	CHECK_STR(p.fingerprint_digest, "sha256");
	CHECK(p.match_count == 0);
	CHECK_STR(tls_level_name(TLS_LEVEL_FINGERPRINT), "fingerprint");
	CHECK(tls_level_parse("FingerPrint") == TLS_LEVEL_FINGERPRINT);

	/* "|" in one match=, several match=, commas; colons optional, any case. */
	value = xasprintf("Fingerprint match=%s|%s match=%s,%s protocols=>=TLSv1.3", sha256_a,
	                  sha256_b, sha256_b, sha256_a);
	CHECK(parse(value, &p, &error) == 0 && p.fingerprint_count == 4);
	free(value);
	CHECK(p.fingerprints[1].len == 32 && p.fingerprints[1].data[0] == 0xEC);
	CHECK(memcmp(p.fingerprints[0].data, p.fingerprints[3].data, 32) == 0);
	CHECK(memcmp(p.fingerprints[1].data, p.fingerprints[2].data, 32) == 0);
	CHECK(p.min_version == TLS_VERSION_1_3);

	/* Other digests, named per entry. */
	CHECK(parse("fingerprint digest=md5 match=3D:95:34:51:24:66:33:B9:D2:40:99:C0:C1:17:0B:D1",
	            &p, &error) == 0);
	CHECK(p.fingerprint_count == 1 && p.fingerprints[0].len == 16);
	CHECK_STR(p.fingerprint_digest, "md5");
	CHECK(parse("fingerprint match=00112233445566778899aabbccddeeff00112233 DIGEST=SHA1", &p,
	            &error) == 0);
	CHECK_STR(p.fingerprint_digest, "sha1");
	CHECK(p.fingerprints[0].len == 20 && p.fingerprints[0].data[19] == 0x33);
	tls_policy_free(&p);
}

TEST(fingerprint_defaults)
{
	/* smtp_tls_fingerprint_cert_match and smtp_tls_fingerprint_digest,
	 * for entries without match= or digest=. */
	struct tls_policy_defaults d = {
	    .verify_match = verify_default,
	    .secure_match = secure_default,
	    .fingerprint_match = "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33,\n"
	                         " 0011223344556677889900112233445566778899",
	    .fingerprint_digest = "sha1",
	};
	struct tls_policy p = {0};
	char *error = NULL;
	CHECK(tls_policy_parse_defaults("fingerprint", &d, &p, &error) == 0);
	CHECK(p.fingerprint_count == 2 && p.fingerprints[1].len == 20);
	CHECK_STR(p.fingerprint_digest, "sha1");
	tls_policy_free(&p);
	/* An entry's own match= replaces the list; digest= the digest. */
	char *value = xasprintf("fingerprint digest=sha256 match=%s", sha256_b);
	CHECK(tls_policy_parse_defaults(value, &d, &p, &error) == 0);
	free(value);
	CHECK(p.fingerprint_count == 1 && p.fingerprints[0].len == 32);
	CHECK_STR(p.fingerprint_digest, "sha256");
	tls_policy_free(&p);
	/* Other levels do not care about a bad digest setting. */
	d.fingerprint_digest = "rot13";
	CHECK(tls_policy_parse_defaults("verify", &d, &p, &error) == 0);
	tls_policy_free(&p);
	CHECK(tls_policy_parse_defaults("fingerprint", &d, &p, &error) == -1);
	CHECK(strstr(error, "smtp_tls_fingerprint_digest") != NULL);
	free(error);
	tls_policy_free(&p);
	/* Without defaults, the level needs match=. */
	error = NULL;
	CHECK(tls_policy_parse("fingerprint", verify_default, secure_default, &p, &error) == -1);
	CHECK(error != NULL && strstr(error, "needs fingerprints") != NULL);
	free(error);
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
	    "verify match=a match=",
	    "fingerprint",
	    "fingerprint match=",
	    "fingerprint match=|",
	    "fingerprint match=3D:95:34:51:24:66:33:B9:D2:40:99:C0:C1:17:0B:D1",
	    "fingerprint match=3D:95:34:51:24:66:33:B9:D2:40:99:C0:C1:17:0B:D1 digest=sha1",
	    "fingerprint match=3D:95:34:51:24:66:33:B9:D2:40:99:C0:C1:17:0B:D1 digest=md4",
	    "fingerprint match=3D:95:34 digest=",
	    "fingerprint match=3D:9:34",
	    "fingerprint match=3D::95",
	    "fingerprint match=:3D:95",
	    "fingerprint match=3D:95:",
	    "fingerprint match=3G:95",
	    "fingerprint match=3D:95:34:51:24:66:33:B9:D2:40:99:C0:C1:17:0B:D1 match=xyz",
	    "fingerprint match=hostname",
	    "verify digest=sha256",
	    "dane match=3D:95",
	    "encrypt match=3D:95:34:51:24:66:33:B9:D2:40:99:C0:C1:17:0B:D1",
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
	/* A fingerprint of another digest's size says which one it may be. */
	error = NULL;
	CHECK(parse("fingerprint match=3D:95:34:51:24:66:33:B9:D2:40:99:C0:C1:17:0B:D1", &p,
	            &error) == -1);
	CHECK(error != NULL && strstr(error, "16 bytes, not the 32 of a sha256 digest") != NULL);
	CHECK(error != NULL && strstr(error, "digest=md5") != NULL);
	free(error);
	/* A fingerprint longer than any digest. */
	error = NULL;
	char *longer = xmalloc(2 * (TLS_FINGERPRINT_MAX + 1) + 20);
	strcpy(longer, "fingerprint match=");
	for (int i = 0; i <= TLS_FINGERPRINT_MAX; i++)
		strcat(longer, "ab");
	CHECK(parse(longer, &p, &error) == -1 && strstr(error, "is not a fingerprint") != NULL);
	free(longer);
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
	RUN(repeated_match);
	RUN(fingerprints);
	RUN(fingerprint_defaults);
	RUN(errors);
	return TESTING_DONE();
}

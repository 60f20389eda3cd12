/*
 * Unit test of certificates by SNI name: the host name check, the parent
 * domain order of look-ups, matching without regard to case, and loading
 * a table whose entries name good, missing and mismatched PEM files (the
 * bad ones reported with table, key and file, and left out). Handshakes
 * are tests/test_smtpd_sni.py.
 */
#include "tls/tls_sni.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "table/table.h"
#include "util/alloc.h"
#include "util/str.h"
#include "util/testing.h"

static char tmpdir[] = "/tmp/postern-test-tls-sni-XXXXXX";

static bool valid(const char *name)
{
	return tls_sni_name_valid(name, strlen(name));
}

TEST(name_valid)
{
	CHECK(valid("mail.example.com"));
	CHECK(valid("localhost"));
	CHECK(valid("MX-1.Example.COM"));
	CHECK(valid("_dmarc.example.com")); /* as Postfix's valid_hostname */
	CHECK(valid("1.2.3.example"));
	CHECK(valid("123a"));
	CHECK(!valid(""));
	CHECK(!valid("bad..name"));
	CHECK(!valid(".example.com"));
	CHECK(!valid("example.com."));
	CHECK(!valid("-mx.example.com"));
	CHECK(!valid("mx-.example.com"));
	CHECK(!valid("mx.example.com-"));
	CHECK(!valid("192.0.2.1")); /* an address literal */
	CHECK(!valid("1234"));
	CHECK(!valid("mail example.com"));
	CHECK(!valid("mail\texample.com"));
	CHECK(!valid("*.example.com"));
	CHECK(!valid("m\xc3\xa4il.example.com"));
	CHECK(!tls_sni_name_valid("a\0b", 3));
	char label[80];
	memset(label, 'a', 63);
	strcpy(label + 63, ".com");
	CHECK(valid(label));
	memset(label, 'a', 64);
	strcpy(label + 64, ".com");
	CHECK(!valid(label));
	char name[300];
	for (size_t i = 0; i < sizeof(name); i += 2) {
		name[i] = 'a';
		name[i + 1] = '.';
	}
	name[255] = '\0'; /* "a.a. ... a" of 255 bytes */
	CHECK(valid(name));
	name[255] = 'a';
	name[256] = '\0';
	CHECK(!valid(name));
}

TEST(parent_order)
{
	const char *key = "mail.example.com";
	key = tls_sni_parent(key);
	CHECK_STR(key, ".example.com");
	key = tls_sni_parent(key);
	CHECK_STR(key, ".com");
	CHECK(tls_sni_parent(key) == NULL);
	CHECK(tls_sni_parent("localhost") == NULL);
	CHECK(tls_sni_parent("") == NULL);
}

/* A self-signed certificate for cn and its key: key in key_path, the
 * certificate in cert_path (the same file: key first, then certificate). */
static void make_cert(const char *cn, const char *key_path, const char *cert_path)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	CHECK(key != NULL && x != NULL);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, name);
	CHECK(X509_sign(x, key, EVP_sha256()) > 0);
	FILE *f = fopen(key_path, "w");
	CHECK(f != NULL);
	PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	if (strcmp(key_path, cert_path) != 0) {
		fclose(f);
		f = fopen(cert_path, "w");
		CHECK(f != NULL);
	}
	PEM_write_X509(f, x);
	fclose(f);
	X509_free(x);
	EVP_PKEY_free(key);
}

static void collect(const char *message, void *ctx)
{
	str_printf(ctx, "%s\n", message);
}

TEST(load_and_match)
{
	char *a = xasprintf("%s/a.pem", tmpdir);
	char *b_key = xasprintf("%s/b-key.pem", tmpdir);
	char *b_cert = xasprintf("%s/b-cert.pem", tmpdir);
	char *c_key = xasprintf("%s/c-key.pem", tmpdir);
	char *c_cert = xasprintf("%s/c-cert.pem", tmpdir);
	make_cert("mail.a.example", a, a);
	make_cert("b.example", b_key, b_cert);
	make_cert("c.example", c_key, c_cert);
	char *b_value = xasprintf("%s, %s", b_key, b_cert);
	char *mismatch = xasprintf("%s %s", b_key, c_cert);
	char *missing = xasprintf("%s/missing.pem", tmpdir);
	const struct table_entry entries[] = {
	    {"Mail.A.Example", a},        {".b.example", b_value},   {"b.example", b_value},
	    {"missing.example", missing}, {"bad.example", mismatch}, {"bad..name", a},
	    {".example", c_cert},
	};
	char *db = xasprintf("%s/sni.lmdb", tmpdir);
	const char *error = NULL;
	CHECK(table_build_lmdb(db, entries, sizeof(entries) / sizeof(entries[0]), 0644, (gid_t)-1,
	                       &error) == 0);
	struct str reports = STR_INIT;
	char *spec = xasprintf("lmdb:%s", db);
	struct tls_sni *sni = tls_sni_load(spec, collect, &reports, &error);
	CHECK(sni != NULL);
	if (sni != NULL) {
		const char *r = str_cstr(&reports);
		char *want = xasprintf(
		    "table \"%s\", key \"missing.example\": file %s: No such file", spec, missing);
		CHECK(strstr(r, want) != NULL);
		free(want);
		want = xasprintf("key \"bad.example\": file %s: private key does not match", b_key);
		CHECK(strstr(r, want) != NULL);
		free(want);
		/* c-cert.pem holds no key. */
		want = xasprintf("key \".example\": file %s: no private key", c_cert);
		CHECK(strstr(r, want) != NULL);
		free(want);
		CHECK(strstr(r, "key \"bad..name\": not a host name or .domain") != NULL);
		CHECK(tls_sni_count(sni) == 3);
		CHECK_STR(tls_sni_match(sni, "mail.a.example"), "mail.a.example");
		CHECK_STR(tls_sni_match(sni, "MAIL.a.EXAMPLE"), "mail.a.example");
		CHECK(tls_sni_match(sni, "other.a.example") == NULL);
		CHECK_STR(tls_sni_match(sni, "b.example"), "b.example");
		CHECK_STR(tls_sni_match(sni, "x.b.example"), ".b.example");
		CHECK_STR(tls_sni_match(sni, "y.x.B.example"), ".b.example");
		/* Left out: the default certificate. */
		CHECK(tls_sni_match(sni, "missing.example") == NULL);
		CHECK(tls_sni_match(sni, "bad.example") == NULL);
		CHECK(tls_sni_match(sni, "example") == NULL);
		CHECK(tls_sni_match(sni, "unknown.test") == NULL);
	}
	tls_sni_free(sni);
	/* A table that cannot be opened, or listed. */
	CHECK(tls_sni_load("lmdb:/nonexistent/sni.lmdb", collect, &reports, &error) == NULL);
	CHECK(strstr(error, "/nonexistent/sni.lmdb") != NULL);
	CHECK(tls_sni_load("static:/x.pem", collect, &reports, &error) == NULL);
	CHECK(strstr(error, "cannot list") != NULL);
	str_free(&reports);
	const char *files[] = {a, b_key, b_cert, c_key, c_cert, db};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		unlink(files[i]);
	free(a);
	free(b_key);
	free(b_cert);
	free(c_key);
	free(c_cert);
	free(b_value);
	free(mismatch);
	free(missing);
	free(db);
	free(spec);
}

int main(void)
{
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	RUN(name_valid);
	RUN(parent_order);
	RUN(load_and_match);
	rmdir(tmpdir);
	return TESTING_DONE();
}

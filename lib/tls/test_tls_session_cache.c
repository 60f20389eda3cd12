/* Unit tests for the TLS client session cache (lib/tls/tls_session_cache.c)
 * and its hooks in lib/tls/tls.c: the file a setting names, keys, saving
 * and finding sessions, expiry, entries and files that are not the
 * cache's, a full map; then real handshakes over socket pairs with an
 * OpenSSL server that issues tickets: a saved session is resumed under
 * verify and fingerprint with the peer still authenticated, never
 * offered under DANE. */
#include <lmdb.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tls/tls.h"
#include "tls/tls_session_cache.h"
#include "util/stream.h"
#include "util/testing.h"

static char dir[] = "/tmp/test_tls_session_cache.XXXXXX";

static char *in_dir(const char *name)
{
	static char path[4][128];
	static int next;
	char *p = path[next++ % 4];
	snprintf(p, sizeof(path[0]), "%s/%s", dir, name);
	return p;
}

TEST(path)
{
	static const struct {
		const char *spec, *path;
	} cases[] = {
	    {"lmdb:/var/lib/postern/smtp_scache", "/var/lib/postern/smtp_scache.lmdb"},
	    {"btree:/var/lib/postfix/smtp_scache", "/var/lib/postfix/smtp_scache.lmdb"},
	    {"hash:/x/cache.lmdb", "/x/cache.lmdb"},
	    {"/var/lib/postern/scache", "/var/lib/postern/scache"},
	    {"/x/cache.lmdb", "/x/cache.lmdb"},
	    {"smtp_scache", NULL},
	    {"lmdb:relative", NULL},
	    {"regexp:/etc/x", NULL},
	    {"sdbm:/var/lib/x", NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *path = tls_session_cache_path(cases[i].spec);
		if (cases[i].path == NULL)
			CHECK(path == NULL);
		else
			CHECK_STR(path, cases[i].path);
		free(path);
	}
}

static char *key_of(const char *id, const char *sni, const struct tls_peer_check *check,
                    const char *context)
{
	struct str key = STR_INIT;
	tls_session_cache_key(id, sni, check, context, &key);
	return str_steal(&key);
}

TEST(keys)
{
	const char *names[] = {"mx.example", ".example"};
	struct tls_peer_check verify = {.verify_names = names, .verify_count = 1};
	char *base = key_of("smtp:verify:mx.example[192.0.2.1]:25", "mx.example", &verify, "ca");
	CHECK(strncmp(base, "smtp:verify:mx.example[192.0.2.1]:25&", 37) == 0);
	CHECK(strlen(base) == 37 + 64);
	char *again = key_of("smtp:verify:mx.example[192.0.2.1]:25", "mx.example", &verify, "ca");
	CHECK_STR(base, again);
	free(again);
	/* Everything the server is checked against is in the key. */
	char *other[12];
	size_t n = 0;
	other[n++] = key_of("smtp:may:mx.example[192.0.2.1]:25", "mx.example", &verify, "ca");
	other[n++] = key_of("smtp:verify:mx.example[192.0.2.2]:25", "mx.example", &verify, "ca");
	other[n++] = key_of("smtp:verify:mx.example[192.0.2.1]:25", "other.example", &verify, "ca");
	other[n++] = key_of("smtp:verify:mx.example[192.0.2.1]:25", "mx.example", &verify, "ca2");
	other[n++] = key_of("smtp:verify:mx.example[192.0.2.1]:25", "mx.example", NULL, "ca");
	struct tls_peer_check two = verify;
	two.verify_count = 2;
	other[n++] = key_of("smtp:verify:mx.example[192.0.2.1]:25", "mx.example", &two, "ca");
	struct tls_peer_check proto = verify;
	proto.min_version = TLS_VERSION_1_3;
	other[n++] = key_of("smtp:verify:mx.example[192.0.2.1]:25", "mx.example", &proto, "ca");
	struct tls_peer_check ciphers = verify;
	ciphers.ciphers = "HIGH";
	other[n++] = key_of("smtp:verify:mx.example[192.0.2.1]:25", "mx.example", &ciphers, "ca");
	struct tls_fingerprint fp = {.len = 32};
	struct tls_peer_check fingerprint = {.fingerprints = &fp, .fingerprint_count = 1};
	other[n++] =
	    key_of("smtp:verify:mx.example[192.0.2.1]:25", "mx.example", &fingerprint, "ca");
	fp.data[0] = 1;
	other[n++] =
	    key_of("smtp:verify:mx.example[192.0.2.1]:25", "mx.example", &fingerprint, "ca");
	unsigned char digest[32] = {0};
	struct tls_tlsa tlsa = {3, 1, 1, digest, sizeof(digest)};
	struct tls_peer_check dane = {.tlsa = &tlsa, .tlsa_count = 1, .dane_name = "mx.example"};
	other[n++] = key_of("smtp:verify:mx.example[192.0.2.1]:25", "mx.example", &dane, "ca");
	tlsa.usage = 2;
	other[n++] = key_of("smtp:verify:mx.example[192.0.2.1]:25", "mx.example", &dane, "ca");
	for (size_t i = 0; i < n; i++) {
		CHECK(strcmp(other[i], base) != 0);
		for (size_t j = 0; j < i; j++)
			CHECK(strcmp(other[i], other[j]) != 0);
	}
	for (size_t i = 0; i < n; i++)
		free(other[i]);
	free(base);
	/* An overlong server name still gives a key LMDB can store. */
	char id[600];
	memset(id, 'a', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	char *digested = key_of(id, NULL, NULL, NULL);
	CHECK(strncmp(digested, "digest&", 7) == 0 && strlen(digested) == 7 + 64);
	id[0] = 'b';
	char *digested2 = key_of(id, NULL, NULL, NULL);
	CHECK(strcmp(digested, digested2) != 0);
	free(digested);
	free(digested2);
}

/* A session as a client keeps one, made at made (seconds), good for
 * lifetime seconds, as DER (malloc'd). */
static unsigned char *fake_session(int64_t made, long lifetime, const char *id, size_t *len_r)
{
	SSL_SESSION *s = SSL_SESSION_new();
	static const unsigned char master[48] = {1, 2, 3};
	SSL_SESSION_set_protocol_version(s, TLS1_2_VERSION);
	SSL_SESSION_set1_id(s, (const unsigned char *)id, (unsigned int)strlen(id));
	SSL_SESSION_set1_master_key(s, master, sizeof(master));
	static const unsigned char suite[] = {0xc0, 0x2f}; /* ECDHE-RSA-AES128-GCM-SHA256 */
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl = SSL_new(ctx);
	SSL_SESSION_set_cipher(s, SSL_CIPHER_find(ssl, suite));
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	SSL_SESSION_set_time(s, (long)made);
	SSL_SESSION_set_timeout(s, lifetime);
	int len = i2d_SSL_SESSION(s, NULL);
	unsigned char *der = malloc((size_t)len), *p = der;
	i2d_SSL_SESSION(s, &p);
	SSL_SESSION_free(s);
	*len_r = (size_t)len;
	return der;
}

TEST(store_and_lookup)
{
	const char *path = in_dir("cache.lmdb");
	const char *error = NULL;
	int64_t now = (int64_t)time(NULL);
	struct tls_session_cache *c = tls_session_cache_open(path, 3600, 0, &error);
	CHECK(c != NULL);
	if (c == NULL)
		return;
	struct stat st;
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600 && st.st_uid == geteuid());
	unsigned char *got = NULL;
	size_t got_len = 0;
	CHECK(tls_session_cache_lookup(c, "smtp:may:a[192.0.2.1]:25&00", now, &got, &got_len,
	                               &error) == 0);
	CHECK(error == NULL);
	size_t len1, len2;
	unsigned char *s1 = fake_session(now, 7200, "one", &len1);
	unsigned char *s2 = fake_session(now, 7200, "two", &len2);
	CHECK(tls_session_cache_store(c, "k1", now, s1, len1, &error) == 0);
	CHECK(tls_session_cache_store(c, "k2", now, s2, len2, &error) == 0);
	CHECK(tls_session_cache_lookup(c, "k1", now + 10, &got, &got_len, &error) == 1);
	CHECK(error == NULL && got_len == len1 && memcmp(got, s1, len1) == 0);
	free(got);
	/* Replaced by a newer session. */
	CHECK(tls_session_cache_store(c, "k1", now, s2, len2, &error) == 0);
	CHECK(tls_session_cache_lookup(c, "k1", now, &got, &got_len, &error) == 1);
	CHECK(got_len == len2 && memcmp(got, s2, len2) == 0);
	free(got);
	/* Another process sees what this one saved. */
	pid_t pid = fork();
	if (pid == 0) {
		struct tls_session_cache *child = tls_session_cache_open(path, 3600, 0, &error);
		unsigned char *der = NULL;
		size_t len = 0;
		int rc =
		    child ? tls_session_cache_lookup(child, "k2", now, &der, &len, &error) : -1;
		_exit(rc == 1 && len == len2 && memcmp(der, s2, len) == 0 ? 0 : 1);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(tls_session_cache_remove(c, "k2", &error) == 0);
	CHECK(tls_session_cache_lookup(c, "k2", now, &got, &got_len, &error) == 0);
	tls_session_cache_close(c);
	/* Kept across opens. */
	c = tls_session_cache_open(path, 3600, 0, &error);
	CHECK(c != NULL && tls_session_cache_lookup(c, "k1", now, &got, &got_len, &error) == 1);
	free(got);
	tls_session_cache_close(c);
	free(s1);
	free(s2);
}

TEST(expiry)
{
	const char *error = NULL;
	int64_t now = (int64_t)time(NULL);
	struct tls_session_cache *c = tls_session_cache_open(in_dir("expiry.lmdb"), 100, 0, &error);
	CHECK(c != NULL);
	if (c == NULL)
		return;
	size_t len, short_len;
	unsigned char *s = fake_session(now, 7200, "long", &len);
	unsigned char *brief = fake_session(now, 50, "short", &short_len);
	CHECK(tls_session_cache_store(c, "k", now, s, len, &error) == 0);
	CHECK(tls_session_cache_store(c, "brief", now, brief, short_len, &error) == 0);
	unsigned char *got = NULL;
	size_t got_len = 0;
	CHECK(tls_session_cache_lookup(c, "k", now + 99, &got, &got_len, &error) == 1);
	free(got);
	/* The session's own lifetime (the server's) counts too. */
	CHECK(tls_session_cache_lookup(c, "brief", now + 60, &got, &got_len, &error) == 0);
	CHECK(error == NULL);
	/* Past the cache timeout: not used, and removed. */
	CHECK(tls_session_cache_lookup(c, "k", now + 100, &got, &got_len, &error) == 0);
	CHECK(error == NULL);
	CHECK(tls_session_cache_lookup(c, "k", now, &got, &got_len, &error) == 0);
	CHECK(tls_session_cache_lookup(c, "brief", now, &got, &got_len, &error) == 0);
	/* Saved "in the future" (the clock was set back): not used either. */
	CHECK(tls_session_cache_store(c, "k", now + 3600, s, len, &error) == 0);
	CHECK(tls_session_cache_lookup(c, "k", now, &got, &got_len, &error) == 0);
	tls_session_cache_close(c);
	free(s);
	free(brief);
}

/* Write value under key into path with LMDB itself, as something other
 * than the cache might have. */
static void raw_put(const char *path, const char *key, const void *value, size_t len)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	CHECK(mdb_env_create(&env) == 0);
	CHECK(mdb_env_open(env, path, MDB_NOSUBDIR, 0600) == 0);
	CHECK(mdb_txn_begin(env, NULL, 0, &txn) == 0);
	CHECK(mdb_dbi_open(txn, NULL, 0, &dbi) == 0);
	MDB_val k = {.mv_size = strlen(key), .mv_data = (void *)key};
	MDB_val v = {.mv_size = len, .mv_data = (void *)value};
	CHECK(mdb_put(txn, dbi, &k, &v, 0) == 0);
	CHECK(mdb_txn_commit(txn) == 0);
	mdb_env_close(env);
}

TEST(corrupt)
{
	const char *path = in_dir("corrupt.lmdb");
	int64_t now = (int64_t)time(NULL);
	unsigned char entry[64] = {1};
	for (int i = 0; i < 8; i++)
		entry[1 + i] = (unsigned char)((uint64_t)now >> (56 - 8 * i));
	memset(entry + 9, 0x30, sizeof(entry) - 9); /* not DER */
	raw_put(path, "garbage", entry, sizeof(entry));
	raw_put(path, "short", "x", 1);
	entry[0] = 9;
	raw_put(path, "version", entry, sizeof(entry));
	size_t len;
	unsigned char *s = fake_session(now, 7200, "ok", &len);
	unsigned char *trailing = malloc(9 + len + 1);
	memcpy(trailing, entry, 9);
	trailing[0] = 1;
	memcpy(trailing + 9, s, len);
	trailing[9 + len] = 0;
	raw_put(path, "trailing", trailing, 9 + len + 1);
	free(trailing);
	const char *error = NULL;
	struct tls_session_cache *c = tls_session_cache_open(path, 3600, 0, &error);
	CHECK(c != NULL);
	if (c == NULL)
		return;
	static const char *const keys[] = {"garbage", "short", "version", "trailing"};
	for (size_t i = 0; i < 4; i++) {
		unsigned char *got = NULL;
		size_t got_len = 0;
		error = NULL;
		/* Reported once, and removed. */
		CHECK(tls_session_cache_lookup(c, keys[i], now, &got, &got_len, &error) == 0);
		CHECK(error != NULL && strstr(error, keys[i]) != NULL);
		error = NULL;
		CHECK(tls_session_cache_lookup(c, keys[i], now, &got, &got_len, &error) == 0);
		CHECK(error == NULL);
		/* The cache goes on working. */
		CHECK(tls_session_cache_store(c, keys[i], now, s, len, &error) == 0);
		CHECK(tls_session_cache_lookup(c, keys[i], now, &got, &got_len, &error) == 1);
		free(got);
	}
	tls_session_cache_close(c);
	free(s);
	/* A file that is not LMDB: an error, never a crash. */
	const char *junk = in_dir("junk.lmdb");
	FILE *f = fopen(junk, "w");
	for (int i = 0; i < 4096; i++)
		fputc(i * 7, f);
	fclose(f);
	error = NULL;
	CHECK(tls_session_cache_open(junk, 3600, 0, &error) == NULL);
	CHECK(error != NULL && strstr(error, junk) != NULL);
	/* A directory that does not exist. */
	CHECK(tls_session_cache_open(in_dir("none/x.lmdb"), 3600, 0, &error) == NULL);
}

TEST(map_full)
{
	const char *error = NULL;
	int64_t now = (int64_t)time(NULL);
	struct tls_session_cache *c =
	    tls_session_cache_open(in_dir("full.lmdb"), 100, 256 * 1024, &error);
	CHECK(c != NULL);
	if (c == NULL)
		return;
	size_t len;
	unsigned char *s = fake_session(now, 7200, "full", &len);
	int failures = 0;
	char key[64];
	/* Old entries first, then many more than fit: the old ones make
	 * room, then everything. */
	for (int i = 0; i < 200; i++) {
		snprintf(key, sizeof(key), "old-%04d-%s", i, "padding-padding-padding-padding");
		failures += tls_session_cache_store(c, key, now - 200, s, len, &error) != 0;
	}
	for (int i = 0; i < 3000; i++) {
		snprintf(key, sizeof(key), "new-%04d-%s", i, "padding-padding-padding-padding");
		if (tls_session_cache_store(c, key, now, s, len, &error) != 0) {
			if (failures++ == 0)
				fprintf(stderr, "%s: %s\n", key, error);
		}
	}
	CHECK(failures == 0);
	unsigned char *got = NULL;
	size_t got_len = 0;
	CHECK(tls_session_cache_lookup(c, key, now, &got, &got_len, &error) == 1);
	free(got);
	CHECK(tls_session_cache_lookup(c, "old-0000-padding-padding-padding-padding", now, &got,
	                               &got_len, &error) == 0);
	struct stat st;
	CHECK(stat(in_dir("full.lmdb"), &st) == 0 && st.st_size <= 256 * 1024);
	tls_session_cache_close(c);
	free(s);
}

/* ---- Handshakes ---- */

static X509 *server_cert;
static char server_pem[128];

static void make_server_cert(const char *path)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *cert = X509_new();
	X509_set_version(cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
	X509_gmtime_adj(X509_getm_notBefore(cert), -60);
	X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
	X509_NAME *name = X509_get_subject_name(cert);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"mx.test", -1,
	                           -1, 0);
	X509_set_issuer_name(cert, name);
	X509_EXTENSION *san = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, "DNS:mx.test");
	X509_add_ext(cert, san, -1);
	X509_EXTENSION_free(san);
	X509_set_pubkey(cert, key);
	X509_sign(cert, key, EVP_sha256());
	FILE *f = fopen(path, "w");
	PEM_write_X509(f, cert);
	PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	EVP_PKEY_free(key);
	server_cert = cert;
}

/* One connection to a server (a child, with the ticket keys of ctx, so
 * that every child resumes what another issued) that sends a line and
 * waits for the client to close. The session, its export after the line
 * was read (*der_r, *len_r), whether it was resumed and how the server
 * was authenticated (auth, 32 bytes; "" when the handshake failed). */
static void connect_once(SSL_CTX *server_ctx, struct tls_context *client,
                         const struct tls_peer_check *check, bool *reused, char *auth,
                         unsigned char **der_r, size_t *len_r)
{
	int fds[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		SSL *ssl = SSL_new(server_ctx);
		SSL_set_fd(ssl, fds[1]);
		if (SSL_accept(ssl) != 1)
			_exit(1);
		SSL_write(ssl, "220 ok\r\n", 8);
		char buf[16];
		while (SSL_read(ssl, buf, sizeof(buf)) > 0)
			;
		_exit(0);
	}
	close(fds[1]);
	const char *error = "";
	*reused = false;
	auth[0] = '\0';
	*der_r = NULL;
	*len_r = 0;
	struct tls_session *s = tls_connect_checked(client, fds[0], "mx.test", check, 5000, &error);
	if (s == NULL) {
		close(fds[0]);
	} else {
		struct stream *stream = stream_new(fds[0], 5000);
		tls_session_attach(s, stream);
		struct str line = STR_INIT;
		CHECK(stream_read_line(stream, &line, 100, NULL) == STREAM_OK);
		str_free(&line);
		*reused = tls_session_reused(s);
		snprintf(auth, 32, "%s", tls_session_peer_auth(s));
		*der_r = tls_session_export(s, len_r);
		tls_session_close(s);
		stream_close(stream);
	}
	int status = 0;
	waitpid(pid, &status, 0);
}

static void resumption(int max_version)
{
	SSL_CTX *server_ctx = SSL_CTX_new(TLS_server_method());
	SSL_CTX_use_certificate_chain_file(server_ctx, server_pem);
	SSL_CTX_use_PrivateKey_file(server_ctx, server_pem, SSL_FILETYPE_PEM);
	SSL_CTX_set_max_proto_version(server_ctx, max_version);
	struct tls_settings cs = {.ca_file = server_pem};
	const char *error = "";
	struct tls_context *client = tls_client_context(&cs, &error);
	CHECK(client != NULL);
	struct tls_session_cache *cache =
	    tls_session_cache_open(in_dir("handshakes.lmdb"), 3600, 0, &error);
	CHECK(cache != NULL);
	if (client == NULL || cache == NULL)
		return;
	int64_t now = (int64_t)time(NULL);

	/* verify: the name and the chain are checked, then resumed. */
	const char *names[] = {"mx.test"};
	struct tls_peer_check verify = {.verify_names = names, .verify_count = 1};
	bool reused;
	char auth[32];
	unsigned char *der = NULL;
	size_t len = 0;
	connect_once(server_ctx, client, &verify, &reused, auth, &der, &len);
	CHECK(!reused);
	CHECK_STR(auth, "verified");
	CHECK(der != NULL && len > 0);
	struct str key = STR_INIT;
	tls_session_cache_key("test:verify:mx.test", "mx.test", &verify, NULL, &key);
	CHECK(tls_session_cache_store(cache, str_cstr(&key), now, der, len, &error) == 0);
	free(der);
	unsigned char *saved = NULL;
	size_t saved_len = 0;
	CHECK(tls_session_cache_lookup(cache, str_cstr(&key), now, &saved, &saved_len, &error) ==
	      1);
	verify.resume = saved;
	verify.resume_len = saved_len;
	connect_once(server_ctx, client, &verify, &reused, auth, &der, &len);
	CHECK(reused);
	CHECK_STR(auth, "verified"); /* the verification is kept in the session */
	free(der);

	/* Resumed under fingerprint: the certificate is matched again. */
	struct tls_fingerprint fp = {.len = 32};
	unsigned int fp_len = 0;
	X509_digest(server_cert, EVP_sha256(), fp.data, &fp_len);
	struct tls_peer_check fingerprint = {
	    .fingerprints = &fp, .fingerprint_count = 1, .resume = saved, .resume_len = saved_len};
	connect_once(server_ctx, client, &fingerprint, &reused, auth, &der, &len);
	CHECK(reused);
	CHECK_STR(auth, "fingerprint");
	free(der);
	fp.data[0] ^= 1;
	connect_once(server_ctx, client, &fingerprint, &reused, auth, &der, &len);
	CHECK_STR(auth, ""); /* a resumed session does not escape the check */
	free(der);

	/* DANE: OpenSSL does not carry the TLSA match over to a resumed
	 * session, so none is offered. */
	unsigned char *spki = NULL;
	int spki_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(server_cert), &spki);
	unsigned char digest[32];
	unsigned int digest_len = 0;
	EVP_Digest(spki, (size_t)spki_len, digest, &digest_len, EVP_sha256(), NULL);
	OPENSSL_free(spki);
	struct tls_tlsa tlsa = {3, 1, 1, digest, digest_len};
	struct tls_peer_check dane = {.tlsa = &tlsa,
	                              .tlsa_count = 1,
	                              .dane_name = "mx.test",
	                              .resume = saved,
	                              .resume_len = saved_len};
	connect_once(server_ctx, client, &dane, &reused, auth, &der, &len);
	CHECK(!reused);
	CHECK_STR(auth, "dane");
	free(der);

	/* A corrupt saved session is not offered, and costs nothing. */
	unsigned char junk[40];
	memset(junk, 0x30, sizeof(junk));
	struct tls_peer_check bad = {
	    .verify_names = names, .verify_count = 1, .resume = junk, .resume_len = sizeof(junk)};
	connect_once(server_ctx, client, &bad, &reused, auth, &der, &len);
	CHECK(!reused);
	CHECK_STR(auth, "verified");
	free(der);

	free(saved);
	str_free(&key);
	tls_session_cache_close(cache);
	tls_context_free(client);
	SSL_CTX_free(server_ctx);
}

TEST(resume_tls13)
{
	resumption(TLS1_3_VERSION);
}

TEST(resume_tls12)
{
	resumption(TLS1_2_VERSION);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	RUN(path);
	RUN(keys);
	RUN(store_and_lookup);
	RUN(expiry);
	RUN(corrupt);
	RUN(map_full);
	snprintf(server_pem, sizeof(server_pem), "%s", in_dir("server.pem"));
	make_server_cert(server_pem);
	RUN(resume_tls13);
	RUN(resume_tls12);
	X509_free(server_cert);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	return TESTING_DONE();
}

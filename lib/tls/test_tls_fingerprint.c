/* Unit tests for the client certificate fingerprints (lib/tls/tls.c):
 * Postfix's form, and the digests of a certificate a client presents in a
 * real handshake over a socket pair, compared with OpenSSL's own. */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tls/tls.h"
#include "util/testing.h"

TEST(format)
{
	char out[TLS_FINGERPRINT_TEXT_MAX];
	static const unsigned char bytes[] = {0x00, 0x0f, 0xa5, 0xff};
	tls_fingerprint_format(bytes, sizeof(bytes), out);
	CHECK_STR(out, "00:0F:A5:FF");
	tls_fingerprint_format(bytes + 2, 1, out);
	CHECK_STR(out, "A5");
	tls_fingerprint_format(bytes, 0, out);
	CHECK_STR(out, "");
	unsigned char longest[TLS_FINGERPRINT_MAX];
	memset(longest, 0xab, sizeof(longest));
	tls_fingerprint_format(longest, sizeof(longest), out);
	CHECK(strlen(out) == 3 * TLS_FINGERPRINT_MAX - 1);
	CHECK(strncmp(out, "AB:AB:", 6) == 0 && strcmp(out + strlen(out) - 3, ":AB") == 0);
}

TEST(digests_known)
{
	CHECK(tls_fingerprint_digest_known("sha256"));
	CHECK(tls_fingerprint_digest_known("md5"));
	CHECK(tls_fingerprint_digest_known("sha1"));
	CHECK(tls_fingerprint_digest_known("SHA512"));
	CHECK(!tls_fingerprint_digest_known("sha257"));
	CHECK(!tls_fingerprint_digest_known(""));
}

TEST(digest_sizes)
{
	CHECK(tls_fingerprint_digest_size("sha256") == 32);
	CHECK(tls_fingerprint_digest_size("md5") == 16);
	CHECK(tls_fingerprint_digest_size("SHA512") == 64);
	CHECK(tls_fingerprint_digest_size("sha257") == 0);
	CHECK(tls_fingerprint_digest_size("") == 0);
}

/* A self-signed certificate with its key, written to path as PEM. */
static X509 *make_cert(const char *path, const char *cn)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *cert = X509_new();
	X509_set_version(cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
	X509_gmtime_adj(X509_getm_notBefore(cert), -60);
	X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
	X509_NAME *name = X509_get_subject_name(cert);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(cert, name);
	X509_set_pubkey(cert, key);
	X509_sign(cert, key, EVP_sha256());
	FILE *f = fopen(path, "w");
	PEM_write_X509(f, cert);
	PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	EVP_PKEY_free(key);
	return cert;
}

/* What the fingerprints should be, made without lib/tls: OpenSSL's
 * digests written with printf. */
static void expected(X509 *cert, const char *digest, char *cert_out, char *key_out)
{
	const EVP_MD *md = EVP_get_digestbyname(digest);
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	X509_digest(cert, md, d, &len);
	for (unsigned int i = 0; i < len; i++)
		sprintf(cert_out + 3 * i, i + 1 < len ? "%02X:" : "%02X", d[i]);
	/* The whole DER SubjectPublicKeyInfo, as Postfix's tls_pkey_fprint and
	 * DANE take it (X509_pubkey_digest takes only the key's bit string). */
	unsigned char *spki = NULL;
	int spki_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &spki);
	EVP_Digest(spki, (size_t)spki_len, d, &len, md, NULL);
	OPENSSL_free(spki);
	for (unsigned int i = 0; i < len; i++)
		sprintf(key_out + 3 * i, i + 1 < len ? "%02X:" : "%02X", d[i]);
}

/* A handshake with a client that presents client_pem (or none); the
 * server session's fingerprints with digest. Returns what
 * tls_session_peer_fingerprints returned. */
static int handshake(const char *server_pem, const char *client_pem, const char *digest,
                     char **cert_r, char **key_r)
{
	const char *error = NULL;
	struct tls_settings ss = {
	    .cert_file = server_pem, .key_file = server_pem, .ask_client_cert = true};
	struct tls_settings cs = {.cert_file = client_pem, .key_file = client_pem};
	struct tls_context *server = tls_server_context(&ss, &error);
	struct tls_context *client = tls_client_context(&cs, &error);
	CHECK(server != NULL && client != NULL);
	int fds[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		struct tls_session *s = tls_connect(client, fds[1], "localhost", 5000, &error);
		if (s == NULL) {
			fprintf(stderr, "client: %s\n", error);
			_exit(1);
		}
		/* Wait for the server to be done with the session (the socket
		 * is non-blocking now). */
		struct pollfd p = {.fd = fds[1], .events = POLLIN};
		_exit(poll(&p, 1, 5000) == 1 ? 0 : 2);
	}
	close(fds[1]);
	struct tls_session *s = tls_accept(server, fds[0], 5000, &error);
	CHECK(s != NULL);
	int rc = -2;
	if (s != NULL) {
		rc = tls_session_peer_fingerprints(s, digest, cert_r, key_r, &error);
		tls_session_close(s);
	}
	close(fds[0]);
	int status = 0;
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	tls_context_free(server);
	tls_context_free(client);
	return rc;
}

TEST(peer_fingerprints)
{
	char dir[] = "/tmp/test_tls_fingerprint.XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char server_pem[64], client_pem[64];
	snprintf(server_pem, sizeof(server_pem), "%s/server.pem", dir);
	snprintf(client_pem, sizeof(client_pem), "%s/client.pem", dir);
	X509_free(make_cert(server_pem, "localhost"));
	X509 *client = make_cert(client_pem, "client.test");
	static const char *const digests[] = {"sha256", "md5"};
	for (size_t i = 0; i < 2; i++) {
		char want_cert[TLS_FINGERPRINT_TEXT_MAX], want_key[TLS_FINGERPRINT_TEXT_MAX];
		expected(client, digests[i], want_cert, want_key);
		char *cert = NULL, *key = NULL;
		CHECK(handshake(server_pem, client_pem, digests[i], &cert, &key) == 1);
		CHECK_STR(cert, want_cert);
		CHECK_STR(key, want_key);
		CHECK(strlen(cert) == (i == 0 ? 95 : 47)); /* 32 or 16 bytes */
		free(cert);
		free(key);
	}
	/* No certificate: nothing, and no error. */
	char *cert = NULL, *key = NULL;
	CHECK(handshake(server_pem, NULL, "sha256", &cert, &key) == 0);
	CHECK(cert == NULL && key == NULL);
	X509_free(client);
	unlink(server_pem);
	unlink(client_pem);
	rmdir(dir);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN); /* as the daemons: a peer gone is an error, not a signal */
	RUN(format);
	RUN(digests_known);
	RUN(digest_sizes);
	RUN(peer_fingerprints);
	return TESTING_DONE();
}

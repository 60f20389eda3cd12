/*
 * TLS contexts, handshakes and the stream transport over OpenSSL.
 */
#include "tls/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "tls/tls_tickets.h"
#include "util/alloc.h"
#include "util/event.h"
#include "util/log.h"

struct tls_context {
	SSL_CTX *ssl_ctx;
	/* The system's CA store is read at the first handshake, not at start:
	 * loading it costs tens of milliseconds, and a client that never
	 * starts TLS (level none) or is restarted often should not pay it. */
	bool default_ca_pending;
};

struct tls_session {
	SSL *ssl;
	int fd;
	const char *auth;
	char summary[160];
};

static char tls_error[512];

static const char *openssl_error(const char *what, const char *arg)
{
	const char *data = NULL;
	int flags = 0;
	unsigned long e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags);
	char reason[256] = "";
	/* Our own callbacks (tls_sni.c) say what went wrong as ERR_LIB_USER
	 * text. */
	if (e && ERR_GET_LIB(e) == ERR_LIB_USER && data != NULL && (flags & ERR_TXT_STRING))
		snprintf(reason, sizeof(reason), "%s", data);
	else if (e)
		ERR_error_string_n(e, reason, sizeof(reason));
	else if (errno)
		snprintf(reason, sizeof(reason), "%s", strerror(errno));
	else
		snprintf(reason, sizeof(reason), "unknown error");
	ERR_clear_error();
	snprintf(tls_error, sizeof(tls_error), "%s%s%s: %s", what, arg ? " " : "", arg ? arg : "",
	         reason);
	return tls_error;
}

static bool set(const char *s)
{
	return s != NULL && *s != '\0';
}

static int parse_protocol(const char *name)
{
	if (!set(name) || strcmp(name, "TLSv1.2") == 0)
		return TLS1_2_VERSION;
	if (strcmp(name, "TLSv1.3") == 0)
		return TLS1_3_VERSION;
	if (strcmp(name, "TLSv1.1") == 0)
		return TLS1_1_VERSION;
	if (strcmp(name, "TLSv1") == 0)
		return TLS1_VERSION;
	return -1;
}

static struct tls_context *make_context(const SSL_METHOD *method, const struct tls_settings *s,
                                        const char **error_r)
{
	int min = parse_protocol(s->min_protocol), max = 0;
	if (set(s->protocols) && tls_protocols_parse(s->protocols, &min, &max, error_r) != 0)
		return NULL;
	if (min < 0) {
		snprintf(tls_error, sizeof(tls_error), "unknown TLS protocol version %s",
		         s->min_protocol);
		*error_r = tls_error;
		return NULL;
	}
	SSL_CTX *ctx = SSL_CTX_new(method);
	if (ctx == NULL) {
		*error_r = openssl_error("SSL_CTX_new", NULL);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, min);
	SSL_CTX_set_max_proto_version(ctx, max);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE);
	if (set(s->ciphers) && SSL_CTX_set_cipher_list(ctx, s->ciphers) != 1) {
		*error_r = openssl_error("cipher list", s->ciphers);
		goto fail;
	}
	if (set(s->ciphersuites) && SSL_CTX_set_ciphersuites(ctx, s->ciphersuites) != 1) {
		*error_r = openssl_error("TLS 1.3 cipher suites", s->ciphersuites);
		goto fail;
	}
	if (set(s->ca_file) && SSL_CTX_load_verify_locations(ctx, s->ca_file, NULL) != 1) {
		*error_r = openssl_error("CA file", s->ca_file);
		goto fail;
	}
	if (set(s->ca_path)) {
		/* OpenSSL looks into the directory only when verifying: a
		 * missing one would fail every verification, unexplained. */
		struct stat st;
		ERR_clear_error();
		int found = stat(s->ca_path, &st) == 0;
		if (!found || !S_ISDIR(st.st_mode)) {
			if (found)
				errno = ENOTDIR;
			*error_r = openssl_error("CA directory", s->ca_path);
			goto fail;
		}
		if (SSL_CTX_load_verify_locations(ctx, NULL, s->ca_path) != 1) {
			*error_r = openssl_error("CA directory", s->ca_path);
			goto fail;
		}
	}
	struct tls_context *tc = xcalloc(1, sizeof(*tc));
	tc->ssl_ctx = ctx;
	return tc;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/* The certificate, its chain and the private key; 0 or -1 with *error_r. */
static int load_identity(SSL_CTX *ctx, const struct tls_settings *s, const char **error_r)
{
	const char *key = set(s->key_file) ? s->key_file : s->cert_file;
	if (SSL_CTX_use_certificate_chain_file(ctx, s->cert_file) != 1) {
		*error_r = openssl_error("certificate file", s->cert_file);
		return -1;
	}
	if (set(s->chain_file)) {
		/* Extra chain certificates after the leaf. */
		FILE *f = fopen(s->chain_file, "r");
		if (f == NULL) {
			*error_r = openssl_error("chain file", s->chain_file);
			return -1;
		}
		X509 *x;
		while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL)
			SSL_CTX_add_extra_chain_cert(ctx, x);
		ERR_clear_error();
		fclose(f);
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		*error_r = openssl_error("private key file", key);
		return -1;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		*error_r = openssl_error("private key does not match certificate", s->cert_file);
		return -1;
	}
	return 0;
}

/* Server side with ask_client_cert: take any certificate (or none); the
 * verification result is kept for tls_session_peer_verified. */
static int accept_any_client(int preverify_ok, X509_STORE_CTX *store)
{
	(void)preverify_ok;
	(void)store;
	return 1;
}

struct tls_context *tls_server_context(const struct tls_settings *s, const char **error_r)
{
	if (!set(s->cert_file)) {
		*error_r = "no TLS certificate file configured";
		return NULL;
	}
	struct tls_context *tc = make_context(TLS_server_method(), s, error_r);
	if (tc == NULL)
		return NULL;
	if (load_identity(tc->ssl_ctx, s, error_r) != 0)
		goto fail;
	if (s->ask_client_cert) {
		SSL_CTX_set_verify(tc->ssl_ctx, SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE,
		                   accept_any_client);
		/* A resumed session keeps its client certificate and the result
		 * of verifying it: it resumes only where the same CA file would
		 * have verified it (a service that trusts verified certificates
		 * must not take one verified against another service's CAs). */
		char *id =
		    xasprintf("postern ca_file=%s ca_path=%s", set(s->ca_file) ? s->ca_file : "",
		              set(s->ca_path) ? s->ca_path : "");
		unsigned char sid_ctx[EVP_MAX_MD_SIZE];
		unsigned int sid_len = 0;
		if (EVP_Digest(id, strlen(id), sid_ctx, &sid_len, EVP_sha256(), NULL) != 1 ||
		    sid_len > SSL_MAX_SID_CTX_LENGTH) {
			free(id);
			*error_r = openssl_error("session id context", NULL);
			goto fail;
		}
		free(id);
		SSL_CTX_set_session_id_context(tc->ssl_ctx, sid_ctx, sid_len);
		if (set(s->ca_file)) {
			/* Name the acceptable issuers in the certificate request
			 * (those of the CA file only, as Postfix: a CA directory
			 * is for verifying, often the whole system store). */
			STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(s->ca_file);
			if (names != NULL)
				SSL_CTX_set_client_CA_list(tc->ssl_ctx, names);
			ERR_clear_error();
		}
	}
	/* No session cache in the process (each client meets another process
	 * next time); resumption is by tickets under the instance's keys. */
	SSL_CTX_set_session_cache_mode(tc->ssl_ctx, SSL_SESS_CACHE_OFF);
	if (tls_tickets_enable(tc->ssl_ctx, s->ticket_lifetime_s) != 0) {
		*error_r = openssl_error("session tickets", NULL);
		goto fail;
	}
	return tc;
fail:
	tls_context_free(tc);
	return NULL;
}

struct tls_context *tls_client_context(const struct tls_settings *s, const char **error_r)
{
	struct tls_context *tc = make_context(TLS_client_method(), s, error_r);
	if (tc == NULL)
		return NULL;
	tc->default_ca_pending = !set(s->ca_file) && !set(s->ca_path);
	if (set(s->cert_file) && load_identity(tc->ssl_ctx, s, error_r) != 0) {
		tls_context_free(tc);
		return NULL;
	}
	if (SSL_CTX_dane_enable(tc->ssl_ctx) <= 0) {
		*error_r = openssl_error("DANE support", NULL);
		tls_context_free(tc);
		return NULL;
	}
	return tc;
}

void tls_context_free(struct tls_context *ctx)
{
	if (ctx == NULL)
		return;
	SSL_CTX_free(ctx->ssl_ctx);
	free(ctx);
}

struct ssl_ctx_st *tls_context_ssl_ctx(struct tls_context *ctx)
{
	return ctx->ssl_ctx;
}

/* Wait for what OpenSSL asked for; 0 ready, -1 timeout or error (errno). */
static int wait_for_io(int fd, int ssl_error, int64_t deadline)
{
	struct pollfd pfd = {.fd = fd,
	                     .events = ssl_error == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN};
	for (;;) {
		int64_t left = deadline < 0 ? -1 : deadline - event_now_ms();
		if (deadline >= 0 && left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		int n = poll(&pfd, 1, (int)left);
		if (n > 0)
			return 0;
		if (n == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (errno != EINTR)
			return -1;
	}
}

/* Set up the certificate check on ssl before the handshake; 0 or -1. */
static int prepare_check(SSL *ssl, const struct tls_peer_check *check, const char **error_r)
{
	if (check->tlsa_count > 0) {
		if (SSL_dane_enable(ssl, check->dane_name) <= 0) {
			*error_r = openssl_error("DANE", check->dane_name);
			return -1;
		}
		SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
		/* Further names a DANE-TA certificate may carry. */
		for (size_t i = 0; i < check->verify_count; i++) {
			if (SSL_add1_host(ssl, check->verify_names[i]) != 1) {
				*error_r = openssl_error("DANE name", check->verify_names[i]);
				return -1;
			}
		}
		int usable = 0;
		for (size_t i = 0; i < check->tlsa_count; i++) {
			const struct tls_tlsa *t = &check->tlsa[i];
			if (SSL_dane_tlsa_add(ssl, t->usage, t->selector, t->matching, t->data,
			                      t->len) > 0)
				usable++;
		}
		ERR_clear_error();
		if (usable == 0) {
			snprintf(tls_error, sizeof(tls_error), "no usable TLSA records");
			*error_r = tls_error;
			return -1;
		}
	} else if (check->verify_count > 0) {
		SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		for (size_t i = 0; i < check->verify_count; i++) {
			const char *name = check->verify_names[i];
			/* A leading dot: any name below the domain (OpenSSL's rule). */
			int ok = i == 0 ? SSL_set1_host(ssl, name) : SSL_add1_host(ssl, name);
			if (ok != 1) {
				*error_r = openssl_error("certificate name check", name);
				return -1;
			}
		}
	}
	if ((check->min_version && SSL_set_min_proto_version(ssl, check->min_version) != 1) ||
	    (check->max_version && SSL_set_max_proto_version(ssl, check->max_version) != 1)) {
		*error_r = openssl_error("TLS protocol range", NULL);
		return -1;
	}
	if (set(check->ciphers) && SSL_set_cipher_list(ssl, check->ciphers) != 1) {
		*error_r = openssl_error("cipher list", check->ciphers);
		return -1;
	}
	if (check->resume_len > 0 && check->tlsa_count == 0) {
		/* A saved session is only an offer: without it, a full handshake. */
		const unsigned char *der = check->resume;
		SSL_SESSION *saved = d2i_SSL_SESSION(NULL, &der, (long)check->resume_len);
		if (saved != NULL && SSL_SESSION_is_resumable(saved))
			SSL_set_session(ssl, saved);
		SSL_SESSION_free(saved);
		ERR_clear_error();
	}
	return 0;
}

/* "3D:95:34...", for logs and Postfix's policy requests. */
void tls_fingerprint_format(const unsigned char *data, size_t len, char *out)
{
	static const char hex[] = "0123456789ABCDEF";
	out[0] = '\0';
	for (size_t i = 0; i < len; i++) {
		out[3 * i] = hex[data[i] >> 4];
		out[3 * i + 1] = hex[data[i] & 0xf];
		out[3 * i + 2] = i + 1 < len ? ':' : '\0';
	}
}

bool tls_fingerprint_digest_known(const char *name)
{
	const EVP_MD *md = EVP_get_digestbyname(name);
	return md != NULL && EVP_MD_get_size(md) > 0 && EVP_MD_get_size(md) <= TLS_FINGERPRINT_MAX;
}

size_t tls_fingerprint_digest_size(const char *name)
{
	return tls_fingerprint_digest_known(name)
	           ? (size_t)EVP_MD_get_size(EVP_get_digestbyname(name))
	           : 0;
}

/* The digests named name of cert and of its public key (DER
 * SubjectPublicKeyInfo, as a DANE selector 1 record takes it): 0, or -1
 * with *error_r. */
static int cert_digests(X509 *cert, const char *name, unsigned char *cert_digest,
                        unsigned int *cert_len, unsigned char *key_digest, unsigned int *key_len,
                        const char **error_r)
{
	const EVP_MD *md = EVP_get_digestbyname(name);
	unsigned char *key = NULL;
	int key_der_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &key);
	bool ok = md != NULL && X509_digest(cert, md, cert_digest, cert_len) == 1 &&
	          key_der_len > 0 &&
	          EVP_Digest(key, (size_t)key_der_len, key_digest, key_len, md, NULL) == 1;
	OPENSSL_free(key);
	if (!ok) {
		*error_r = openssl_error("certificate fingerprint with digest", name);
		return -1;
	}
	return 0;
}

static bool fingerprint_listed(const struct tls_peer_check *check, const unsigned char *digest,
                               unsigned int len)
{
	for (size_t i = 0; i < check->fingerprint_count; i++) {
		const struct tls_fingerprint *f = &check->fingerprints[i];
		if (f->len == len && CRYPTO_memcmp(f->data, digest, len) == 0)
			return true;
	}
	return false;
}

/* The fingerprint level: the digest of the server's certificate or of
 * its public key (DER SubjectPublicKeyInfo, as a DANE selector 1 record
 * takes it) is listed. Only that certificate counts, not its issuers,
 * names or dates (Postfix makes each fingerprint a DANE-EE record, with
 * the same effect). "fingerprint", or NULL with *error_r showing both
 * digests of what the server sent. */
static const char *check_fingerprints(SSL *ssl, const struct tls_peer_check *check,
                                      const char **error_r)
{
	const char *name = set(check->fingerprint_digest) ? check->fingerprint_digest : "sha256";
	X509 *peer = SSL_get0_peer_certificate(ssl);
	if (peer == NULL) {
		snprintf(tls_error, sizeof(tls_error),
		         "server certificate not matched by fingerprint: no certificate");
		*error_r = tls_error;
		return NULL;
	}
	unsigned char cert_digest[EVP_MAX_MD_SIZE], key_digest[EVP_MAX_MD_SIZE];
	unsigned int cert_len = 0, key_len = 0;
	if (cert_digests(peer, name, cert_digest, &cert_len, key_digest, &key_len, error_r) != 0)
		return NULL;
	if (fingerprint_listed(check, cert_digest, cert_len) ||
	    fingerprint_listed(check, key_digest, key_len))
		return "fingerprint";
	char cert_hex[3 * EVP_MAX_MD_SIZE], key_hex[3 * EVP_MAX_MD_SIZE];
	tls_fingerprint_format(cert_digest, cert_len, cert_hex);
	tls_fingerprint_format(key_digest, key_len, key_hex);
	snprintf(tls_error, sizeof(tls_error),
	         "server certificate not matched by fingerprint: its %s fingerprint is %s, "
	         "its public key's %s",
	         name, cert_hex, key_hex);
	*error_r = tls_error;
	return NULL;
}

/* After the handshake: "dane", "fingerprint", "verified", "trusted" or
 * "untrusted", or NULL (with *error_r) when a required check failed. */
static const char *check_peer(SSL *ssl, const struct tls_peer_check *check, const char **error_r)
{
	if (check != NULL && check->fingerprint_count > 0)
		return check_fingerprints(ssl, check, error_r);
	X509 *peer = SSL_get1_peer_certificate(ssl);
	long result = SSL_get_verify_result(ssl);
	bool valid = peer != NULL && result == X509_V_OK;
	X509_free(peer);
	bool required = check && (check->tlsa_count > 0 || check->verify_count > 0);
	if (!required)
		return valid ? "trusted" : "untrusted";
	if (!valid || (check->tlsa_count > 0 && SSL_get0_dane_authority(ssl, NULL, NULL) < 0)) {
		snprintf(tls_error, sizeof(tls_error), "server certificate not %s: %s",
		         check->tlsa_count > 0 ? "matched by its TLSA records" : "verified",
		         peer == NULL ? "no certificate" : X509_verify_cert_error_string(result));
		*error_r = tls_error;
		return NULL;
	}
	return check->tlsa_count > 0 ? "dane" : "verified";
}

static struct tls_session *handshake(struct tls_context *ctx, int fd, bool server,
                                     const char *server_name, const struct tls_peer_check *check,
                                     int timeout_ms, const char **error_r)
{
	if (ctx->default_ca_pending) {
		ctx->default_ca_pending = false;
		if (SSL_CTX_set_default_verify_paths(ctx->ssl_ctx) != 1) {
			log_warn("%s", openssl_error("system CA store", NULL));
			ERR_clear_error();
		}
	}
	SSL *ssl = SSL_new(ctx->ssl_ctx);
	if (ssl == NULL) {
		*error_r = openssl_error("SSL_new", NULL);
		return NULL;
	}
	if (check != NULL && prepare_check(ssl, check, error_r) != 0) {
		SSL_free(ssl);
		return NULL;
	}
	/* Non-blocking underneath, so every read and write keeps its timeout. */
	int flags = fcntl(fd, F_GETFL);
	if (flags >= 0)
		fcntl(fd, F_SETFL, flags | O_NONBLOCK);
	SSL_set_fd(ssl, fd);
	if (!server && set(server_name))
		SSL_set_tlsext_host_name(ssl, server_name);
	int64_t deadline = timeout_ms < 0 ? -1 : event_now_ms() + timeout_ms;
	for (;;) {
		ERR_clear_error();
		errno = 0;
		int rc = server ? SSL_accept(ssl) : SSL_connect(ssl);
		if (rc == 1)
			break;
		int err = SSL_get_error(ssl, rc);
		if ((err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) &&
		    wait_for_io(fd, err, deadline) == 0)
			continue;
		if (errno == ETIMEDOUT)
			snprintf(tls_error, sizeof(tls_error), "TLS handshake timed out");
		else if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
			snprintf(tls_error, sizeof(tls_error), "TLS handshake: %s",
			         errno ? strerror(errno) : "connection closed by peer");
		else
			openssl_error("TLS handshake", NULL);
		ERR_clear_error();
		*error_r = tls_error;
		SSL_free(ssl);
		return NULL;
	}
	const char *auth = server ? "untrusted" : check_peer(ssl, check, error_r);
	if (auth == NULL) {
		SSL_free(ssl);
		return NULL;
	}
	struct tls_session *s = xcalloc(1, sizeof(*s));
	s->ssl = ssl;
	s->fd = fd;
	s->auth = auth;
	snprintf(s->summary, sizeof(s->summary), "%s with cipher %s (%d/%d bits)",
	         SSL_get_version(ssl), SSL_get_cipher_name(ssl), SSL_get_cipher_bits(ssl, NULL),
	         SSL_get_cipher_bits(ssl, NULL));
	return s;
}

struct tls_session *tls_accept(struct tls_context *ctx, int fd, int timeout_ms,
                               const char **error_r)
{
	return handshake(ctx, fd, true, NULL, NULL, timeout_ms, error_r);
}

struct tls_session *tls_connect(struct tls_context *ctx, int fd, const char *server_name,
                                int timeout_ms, const char **error_r)
{
	return handshake(ctx, fd, false, server_name, NULL, timeout_ms, error_r);
}

struct tls_session *tls_connect_checked(struct tls_context *ctx, int fd, const char *server_name,
                                        const struct tls_peer_check *check, int timeout_ms,
                                        const char **error_r)
{
	return handshake(ctx, fd, false, server_name, check, timeout_ms, error_r);
}

const char *tls_session_peer_auth(const struct tls_session *s)
{
	return s->auth;
}

void tls_session_close(struct tls_session *s)
{
	if (s == NULL)
		return;
	SSL_shutdown(s->ssl);
	SSL_free(s->ssl);
	free(s);
}

static ssize_t tls_io(struct tls_session *s, void *rbuf, const void *wbuf, size_t len,
                      int timeout_ms)
{
	int64_t deadline = timeout_ms < 0 ? -1 : event_now_ms() + timeout_ms;
	int chunk = len > 1 << 30 ? 1 << 30 : (int)len;
	for (;;) {
		ERR_clear_error();
		errno = 0;
		int n = rbuf ? SSL_read(s->ssl, rbuf, chunk) : SSL_write(s->ssl, wbuf, chunk);
		if (n > 0)
			return n;
		int err = SSL_get_error(s->ssl, n);
		if (err == SSL_ERROR_ZERO_RETURN)
			return 0;
		if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
			if (wait_for_io(s->fd, err, deadline) != 0)
				return -1;
			continue;
		}
		if (err == SSL_ERROR_SYSCALL && errno == 0 && rbuf)
			return 0; /* peer closed without close_notify */
		ERR_clear_error();
		if (errno == 0)
			errno = EPROTO;
		return -1;
	}
}

static ssize_t transport_read(void *ctx, void *buf, size_t len, int timeout_ms)
{
	return tls_io(ctx, buf, NULL, len, timeout_ms);
}

static ssize_t transport_write(void *ctx, const void *buf, size_t len, int timeout_ms)
{
	return tls_io(ctx, NULL, buf, len, timeout_ms);
}

static size_t transport_pending(void *ctx)
{
	struct tls_session *s = ctx;
	return (size_t)SSL_pending(s->ssl);
}

static const struct stream_transport tls_transport = {
    .read = transport_read,
    .write = transport_write,
    .pending = transport_pending,
};

void tls_session_attach(struct tls_session *s, struct stream *stream)
{
	stream_set_transport(stream, &tls_transport, s);
}

const char *tls_session_protocol(const struct tls_session *s)
{
	return SSL_get_version(s->ssl);
}

const char *tls_session_cipher(const struct tls_session *s)
{
	return SSL_get_cipher_name(s->ssl);
}

int tls_session_cipher_bits(const struct tls_session *s)
{
	return SSL_get_cipher_bits(s->ssl, NULL);
}

const char *tls_session_summary(const struct tls_session *s)
{
	return s->summary;
}

char *tls_session_server_name(const struct tls_session *s)
{
	const char *name = SSL_get_servername(s->ssl, TLSEXT_NAMETYPE_host_name);
	if (name == NULL || *name == '\0')
		return NULL;
	char *copy = xstrdup(name);
	for (char *c = copy; *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
			*c = '?';
	return copy;
}

bool tls_session_peer_verified(const struct tls_session *s)
{
	X509 *peer = SSL_get1_peer_certificate(s->ssl);
	bool ok = peer != NULL && SSL_get_verify_result(s->ssl) == X509_V_OK;
	X509_free(peer);
	return ok;
}

bool tls_session_reused(const struct tls_session *s)
{
	return SSL_session_reused(s->ssl) == 1;
}

unsigned char *tls_session_export(const struct tls_session *s, size_t *len_r)
{
	SSL_SESSION *session = SSL_get1_session(s->ssl);
	unsigned char *out = NULL;
	int len = session != NULL && SSL_SESSION_is_resumable(session)
	              ? i2d_SSL_SESSION(session, NULL)
	              : 0;
	if (len > 0) {
		out = xmalloc((size_t)len);
		unsigned char *p = out;
		if (i2d_SSL_SESSION(session, &p) != len) {
			free(out);
			out = NULL;
		}
	}
	SSL_SESSION_free(session);
	ERR_clear_error();
	*len_r = out != NULL ? (size_t)len : 0;
	return out;
}

/* The CN of name, or the whole name on one line without one. */
static char *name_text(const X509_NAME *name)
{
	char buf[256];
	int n = X509_NAME_get_text_by_NID((X509_NAME *)name, NID_commonName, buf, sizeof(buf));
	if (n < 0 && X509_NAME_oneline(name, buf, sizeof(buf)) == NULL)
		return NULL;
	/* Control characters would break log lines and headers. */
	for (char *c = buf; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	return xstrdup(buf);
}

static char *peer_name(const struct tls_session *s, bool issuer)
{
	X509 *peer = SSL_get1_peer_certificate(s->ssl);
	if (peer == NULL)
		return NULL;
	char *text = name_text(issuer ? X509_get_issuer_name(peer) : X509_get_subject_name(peer));
	X509_free(peer);
	return text;
}

char *tls_session_peer_subject(const struct tls_session *s)
{
	return peer_name(s, false);
}

char *tls_session_peer_issuer(const struct tls_session *s)
{
	return peer_name(s, true);
}

int tls_session_peer_fingerprints(const struct tls_session *s, const char *digest, char **cert_r,
                                  char **pkey_r, const char **error_r)
{
	X509 *peer = SSL_get1_peer_certificate(s->ssl);
	if (peer == NULL)
		return 0;
	if (!tls_fingerprint_digest_known(digest)) {
		X509_free(peer);
		*error_r = "unknown or unsuitable fingerprint digest";
		return -1;
	}
	unsigned char cert_digest[EVP_MAX_MD_SIZE], key_digest[EVP_MAX_MD_SIZE];
	unsigned int cert_len = 0, key_len = 0;
	int rc = cert_digests(peer, digest, cert_digest, &cert_len, key_digest, &key_len, error_r);
	X509_free(peer);
	if (rc != 0)
		return -1;
	*cert_r = xmalloc(3 * (size_t)cert_len + 1);
	*pkey_r = xmalloc(3 * (size_t)key_len + 1);
	tls_fingerprint_format(cert_digest, cert_len, *cert_r);
	tls_fingerprint_format(key_digest, key_len, *pkey_r);
	return 1;
}

const char *tls_cipher_list(const char *text, const char **error_r)
{
	const char *list = text;
	if (strcasecmp(text, "high") == 0)
		list = "HIGH:!aNULL:@STRENGTH";
	else if (strcasecmp(text, "medium") == 0)
		list = "HIGH:MEDIUM:!aNULL:@STRENGTH";
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL) {
		*error_r = openssl_error("SSL_CTX_new", NULL);
		return NULL;
	}
	int ok = SSL_CTX_set_cipher_list(ctx, list);
	SSL_CTX_free(ctx);
	if (ok != 1) {
		*error_r = openssl_error("cipher list", text);
		return NULL;
	}
	return list;
}

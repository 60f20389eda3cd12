/*
 * TLS with OpenSSL 3 for every Postern program: server and client contexts
 * built from main.conf-style settings, handshakes with a timeout, and a
 * stream transport (util/stream.h) so protocol code reads and writes the
 * same way before and after STARTTLS.
 */
#ifndef POSTERN_TLS_TLS_H
#define POSTERN_TLS_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/stream.h"

struct tls_settings {
	const char *cert_file;    /* PEM certificate, chain may follow */
	const char *key_file;     /* PEM private key (may be the cert file) */
	const char *chain_file;   /* extra chain certificates, or NULL/"" */
	const char *ca_file;      /* trust anchors for verification, or NULL/"" */
	const char *min_protocol; /* "TLSv1.2" (default), "TLSv1.3", "TLSv1", "TLSv1.1" */
	const char *ciphers;      /* TLS 1.2 cipher list, or NULL/"" for OpenSSL's default */
	const char *ciphersuites; /* TLS 1.3 suites, or NULL/"" */
};

struct tls_context;
struct tls_session;

/* A server context; 0 or -1 with *error_r (names the file that failed). */
struct tls_context *tls_server_context(const struct tls_settings *s, const char **error_r);
/* A client context (no certificate needed); verification is done per session. */
struct tls_context *tls_client_context(const struct tls_settings *s, const char **error_r);
void tls_context_free(struct tls_context *ctx);

/* Handshake on fd (blocking with a timeout in ms). Client: server_name for
 * SNI (may be NULL). Returns a session or NULL with *error_r. */
struct tls_session *tls_accept(struct tls_context *ctx, int fd, int timeout_ms,
                               const char **error_r);
struct tls_session *tls_connect(struct tls_context *ctx, int fd, const char *server_name,
                                int timeout_ms, const char **error_r);
/* A TLSA record (RFC 6698) for DANE authentication (RFC 7672). */
struct tls_tlsa {
	uint8_t usage, selector, matching;
	const unsigned char *data;
	size_t len;
};

/* What a client requires of the server's certificate. */
struct tls_peer_check {
	const char *verify_name;     /* a chain to a trusted CA naming this host */
	const struct tls_tlsa *tlsa; /* or a match with one of these (DANE) */
	size_t tlsa_count;
	const char *dane_name; /* the TLSA base domain (names checked for DANE-TA) */
};

/* tls_connect with a certificate check (check may be NULL: none). A
 * failed check fails the handshake with *error_r saying why. */
struct tls_session *tls_connect_checked(struct tls_context *ctx, int fd, const char *server_name,
                                        const struct tls_peer_check *check, int timeout_ms,
                                        const char **error_r);
/* How the server was authenticated: "dane", "verified" (the checked
 * name), "trusted" (a valid chain, name not checked) or "untrusted". */
const char *tls_session_peer_auth(const struct tls_session *s);

/* Send close_notify (best effort) and free. */
void tls_session_close(struct tls_session *s);

/* Attach to a stream: after this, the stream reads and writes through TLS. */
void tls_session_attach(struct tls_session *s, struct stream *stream);

/* "TLSv1.3", "TLS_AES_256_GCM_SHA384", cipher bits. */
const char *tls_session_protocol(const struct tls_session *s);
const char *tls_session_cipher(const struct tls_session *s);
int tls_session_cipher_bits(const struct tls_session *s);
/* "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)" for logs and headers. */
const char *tls_session_summary(const struct tls_session *s);
/* The peer certificate verified against ca_file (client side). */
bool tls_session_peer_verified(const struct tls_session *s);

#endif

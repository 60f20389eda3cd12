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
	const char *ca_path;      /* and/or a directory of them, hashed names (openssl
	                             rehash), or NULL/"" */
	const char *min_protocol; /* "TLSv1.2" (default), "TLSv1.3", "TLSv1", "TLSv1.1" */
	const char *protocols;    /* or a list as tls_protocols_parse takes (wins if set) */
	const char *ciphers;      /* TLS 1.2 cipher list, or NULL/"" for OpenSSL's default */
	const char *ciphersuites; /* TLS 1.3 suites, or NULL/"" */
	bool ask_client_cert;     /* server: ask for (not require) a client certificate */
	int ticket_lifetime_s;    /* server: session tickets valid this long, under the keys
	                             master gave (tls_tickets.h); 0 for none */
};

/* Protocol versions as on the wire. */
#define TLS_VERSION_1_0 0x0301
#define TLS_VERSION_1_1 0x0302
#define TLS_VERSION_1_2 0x0303
#define TLS_VERSION_1_3 0x0304

/* A protocol list in Postfix's syntax: names (TLSv1, TLSv1.1, TLSv1.2,
 * TLSv1.3) to include, "!name" to exclude, ">=name" and "<=name" for
 * bounds, separated by space, comma or colon; one bare name alone is the
 * lowest version (as ">=name"). SSLv2 and SSLv3, which OpenSSL 3 never
 * speaks, are accepted and change nothing (Postfix lists such as
 * "!SSLv2, !SSLv3" work as they are). Gives the lowest and highest
 * version allowed; -1 with *error_r (static) for an unknown name, an
 * empty result or versions that are not one range. Pure. */
int tls_protocols_parse(const char *text, int *min_r, int *max_r, const char **error_r);
const char *tls_protocol_name(int version);

/* "high", "medium" (OpenSSL's HIGH / HIGH:MEDIUM, no anonymous suites)
 * or an OpenSSL cipher list; NULL with *error_r when OpenSSL accepts
 * none of it. The result is static or text itself. */
const char *tls_cipher_list(const char *text, const char **error_r);

struct tls_context;
struct tls_session;

/* A server context; 0 or -1 with *error_r (names the file that failed). */
struct tls_context *tls_server_context(const struct tls_settings *s, const char **error_r);
/* A client context; verification is done per session. A certificate
 * (cert_file, key_file, chain_file) is optional: when given it is
 * presented to servers that ask for one. */
struct tls_context *tls_client_context(const struct tls_settings *s, const char **error_r);
void tls_context_free(struct tls_context *ctx);
struct ssl_ctx_st;
/* The OpenSSL context, for the lib/tls modules that set its callbacks
 * (tls_sni.c). */
struct ssl_ctx_st *tls_context_ssl_ctx(struct tls_context *ctx);

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

/* A digest of a certificate or of its public key ("fingerprint" level). */
#define TLS_FINGERPRINT_MAX 64 /* bytes: SHA-512 */
struct tls_fingerprint {
	unsigned char data[TLS_FINGERPRINT_MAX];
	size_t len;
};

/* What a client requires of the server: its certificate, and the
 * protocol versions and ciphers of this one connection. */
struct tls_peer_check {
	/* a chain to a trusted CA naming one of these ("host", or ".domain"
	 * for any name below domain) */
	const char *const *verify_names;
	size_t verify_count;
	const struct tls_tlsa *tlsa; /* or a match with one of these (DANE) */
	size_t tlsa_count;
	const char *dane_name; /* the TLSA base domain (names checked for DANE-TA) */
	/* or (when fingerprint_count > 0, before all else) the digest of the
	 * server's own certificate, or of its public key (the DER
	 * SubjectPublicKeyInfo), is one of these: no CA, name or expiry
	 * check, as Postfix's fingerprint level */
	const struct tls_fingerprint *fingerprints;
	size_t fingerprint_count;
	const char *fingerprint_digest; /* OpenSSL digest name; NULL: "sha256" */
	int min_version, max_version;   /* TLS_VERSION_*, 0: the context's */
	const char *ciphers;            /* OpenSSL cipher list (TLS <= 1.2), or NULL */
	/* A session saved from an earlier connection (tls_session_export) to
	 * offer for resumption, or NULL. One that cannot be decoded is not
	 * offered. On resumption the certificate check is the one made when
	 * the session was new (OpenSSL keeps the peer certificate and its
	 * verification result), except that DANE is not re-established: do
	 * not offer sessions when tlsa_count > 0. */
	const unsigned char *resume;
	size_t resume_len;
};

/* tls_connect with a certificate check (check may be NULL: none). A
 * failed check fails the handshake with *error_r saying why. */
struct tls_session *tls_connect_checked(struct tls_context *ctx, int fd, const char *server_name,
                                        const struct tls_peer_check *check, int timeout_ms,
                                        const char **error_r);
/* How the server was authenticated: "dane", "fingerprint", "verified"
 * (the checked name), "trusted" (a valid chain, name not checked) or
 * "untrusted". */
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
/* The name the client sent with SNI (server side; for a resumed TLS 1.2
 * session, the one of the first handshake), malloc'd with control and
 * 8-bit bytes as '?'; NULL when it sent none. */
char *tls_session_server_name(const struct tls_session *s);
/* The peer certificate verified against ca_file. */
bool tls_session_peer_verified(const struct tls_session *s);
/* The session was resumed (an abbreviated handshake), not new. */
bool tls_session_reused(const struct tls_session *s);
/* Client: the session as DER (i2d_SSL_SESSION) for resumption by a later
 * connection (tls_peer_check.resume), malloc'd with *len_r; NULL when
 * the server gave none that can be resumed (yet: a TLS 1.3 server sends
 * its ticket after the handshake, which arrives with the first read). */
unsigned char *tls_session_export(const struct tls_session *s, size_t *len_r);
/* The peer's certificate, if it sent one: subject and issuer common
 * names (the whole one-line name when there is no CN), malloc'd; NULL
 * without a certificate. */
char *tls_session_peer_subject(const struct tls_session *s);
char *tls_session_peer_issuer(const struct tls_session *s);

/* Room for a digest in tls_fingerprint_format's form, with its NUL. */
#define TLS_FINGERPRINT_TEXT_MAX (3 * TLS_FINGERPRINT_MAX)
/* data as Postfix writes a fingerprint: upper-case hex bytes separated by
 * colons ("AB:01:..."), NUL-terminated, into out (3 * len bytes, at
 * least 1). */
void tls_fingerprint_format(const unsigned char *data, size_t len, char *out);
/* Whether name is an OpenSSL digest ("sha256", "md5", ...) that
 * fingerprints can be made with. */
bool tls_fingerprint_digest_known(const char *name);
/* The length in bytes of the digests name makes, or 0 when it is not
 * known (as tls_fingerprint_digest_known). */
size_t tls_fingerprint_digest_size(const char *name);
/* The peer's certificate, if it sent one (whether or not it verified):
 * the digest named digest of the certificate and of its public key (the
 * DER SubjectPublicKeyInfo), in tls_fingerprint_format's form, as
 * Postfix's ccert_fingerprint and ccert_pubkey_fingerprint. 1 with both
 * malloc'd; 0 without a certificate; -1 with *error_r. */
int tls_session_peer_fingerprints(const struct tls_session *s, const char *digest, char **cert_r,
                                  char **pkey_r, const char **error_r);

#endif

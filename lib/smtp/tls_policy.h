/*
 * TLS policy levels and the parser of one TLS policy table value
 * ("level name=value ..."), shared by smtp and mailctl check.
 */
#ifndef POSTERN_SMTP_TLS_POLICY_H
#define POSTERN_SMTP_TLS_POLICY_H

#include <stddef.h>

#include "tls/tls.h"

enum tls_level {
	TLS_LEVEL_NONE,
	TLS_LEVEL_MAY,
	TLS_LEVEL_ENCRYPT,
	TLS_LEVEL_DANE,
	TLS_LEVEL_VERIFY,
	TLS_LEVEL_SECURE,
	TLS_LEVEL_DANE_ONLY,  /* dane without the fallbacks: else deferred */
	TLS_LEVEL_FINGERPRINT /* the server's certificate or key digest is listed */
};

struct tls_policy {
	enum tls_level level;
	char **match; /* verify/secure: names or hostname, nexthop, dot-nexthop */
	size_t match_count;
	struct tls_fingerprint *fingerprints; /* fingerprint: certificate or key digests */
	size_t fingerprint_count;
	const char *fingerprint_digest; /* fingerprint: their digest ("sha256"), static */
	int min_version, max_version;   /* TLS_VERSION_*, 0: smtp_tls_protocols */
	char *ciphers;                  /* OpenSSL cipher list, or NULL */
};

const char *tls_level_name(enum tls_level level);
/* -1 for an unknown name. */
int tls_level_parse(const char *name);

/* The main.conf settings a table value falls back on. */
struct tls_policy_defaults {
	const char *verify_match;       /* smtp_tls_verify_cert_match */
	const char *secure_match;       /* smtp_tls_secure_cert_match */
	const char *fingerprint_match;  /* smtp_tls_fingerprint_cert_match; NULL: none */
	const char *fingerprint_digest; /* smtp_tls_fingerprint_digest; NULL: sha256 */
};

/* Parse one table value into p (zeroed first by the caller, freed with
 * tls_policy_free either way). The match lists and digest in d apply
 * when the value has no match= (digest=) of its own. -1 with *error_r
 * (malloc'd) for an unknown level or attribute, a bad list or
 * fingerprint, the fingerprint level without fingerprints, or match=
 * with a level that takes none. */
int tls_policy_parse_defaults(const char *value, const struct tls_policy_defaults *d,
                              struct tls_policy *p, char **error_r);
/* The same without fingerprint defaults (sha256, fingerprints only from
 * match=); verify_match and secure_match are the smtp_tls_*_cert_match
 * settings. */
int tls_policy_parse(const char *value, const char *verify_match, const char *secure_match,
                     struct tls_policy *p, char **error_r);
void tls_policy_free(struct tls_policy *p);

#endif

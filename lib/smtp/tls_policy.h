/*
 * TLS policy levels and the parser of one TLS policy table value
 * ("level name=value ..."), shared by smtp and mailctl check.
 */
#ifndef POSTERN_SMTP_TLS_POLICY_H
#define POSTERN_SMTP_TLS_POLICY_H

#include <stddef.h>

enum tls_level {
	TLS_LEVEL_NONE,
	TLS_LEVEL_MAY,
	TLS_LEVEL_ENCRYPT,
	TLS_LEVEL_DANE,
	TLS_LEVEL_VERIFY,
	TLS_LEVEL_SECURE,
	TLS_LEVEL_DANE_ONLY /* dane without the fallbacks: else deferred */
};

struct tls_policy {
	enum tls_level level;
	char **match; /* verify/secure: names or hostname, nexthop, dot-nexthop */
	size_t match_count;
	int min_version, max_version; /* TLS_VERSION_*, 0: smtp_tls_protocols */
	char *ciphers;                /* OpenSSL cipher list, or NULL */
};

const char *tls_level_name(enum tls_level level);
/* -1 for an unknown name. */
int tls_level_parse(const char *name);

/* Parse one table value into p (zeroed first by the caller, freed with
 * tls_policy_free either way). verify_match and secure_match are the
 * match lists for verify and secure without match= (the
 * smtp_tls_*_cert_match settings). -1 with *error_r (malloc'd) for an
 * unknown level or attribute, a bad list, or match= with another level. */
int tls_policy_parse(const char *value, const char *verify_match, const char *secure_match,
                     struct tls_policy *p, char **error_r);
void tls_policy_free(struct tls_policy *p);

#endif

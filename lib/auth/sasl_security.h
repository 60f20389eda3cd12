/*
 * SASL security options, as Postfix's smtpd_sasl_security_options words
 * them: which mechanisms may be offered, by the properties a mechanism
 * has (lib/auth/dovecot_auth.h's enum dovecot_mech_flag, the flags of
 * Dovecot's MECH lines). noanonymous, noplaintext, nodictionary and
 * noactive refuse mechanisms with that weakness; mutual_auth and
 * forward_secrecy require that strength. Words are compared without case.
 */
#ifndef POSTERN_AUTH_SASL_SECURITY_H
#define POSTERN_AUTH_SASL_SECURITY_H

#include <stdbool.h>

struct sasl_policy {
	unsigned refused;  /* flags a mechanism must not have */
	unsigned required; /* flags it must have */
};

/* The policy of a NULL-terminated word list: 0, or -1 with *bad the
 * first word that is not an option (the policy is then empty). */
int sasl_policy_parse(char *const *words, struct sasl_policy *p, const char **bad);

/* True if a mechanism with these flags passes the policy. */
bool sasl_policy_allows(const struct sasl_policy *p, unsigned flags);

/* The options' names, for messages: "noanonymous, noplaintext, ...". */
extern const char sasl_policy_words[];

#endif

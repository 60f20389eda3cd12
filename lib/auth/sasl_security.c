/*
 * SASL security options (see sasl_security.h): Postfix's words for the
 * properties of a mechanism, mapped onto Dovecot's MECH flags.
 */
#include "auth/sasl_security.h"

#include <stddef.h>
#include <strings.h>

#include "auth/dovecot_auth.h"

const char sasl_policy_words[] =
    "noanonymous, noplaintext, nodictionary, noactive, mutual_auth, forward_secrecy";

static const struct {
	const char *word;
	unsigned refused, required;
} options[] = {
    {"noanonymous", DOVECOT_MECH_ANONYMOUS, 0},
    {"noplaintext", DOVECOT_MECH_PLAINTEXT, 0},
    {"nodictionary", DOVECOT_MECH_DICTIONARY, 0},
    {"noactive", DOVECOT_MECH_ACTIVE, 0},
    {"mutual_auth", 0, DOVECOT_MECH_MUTUAL_AUTH},
    {"forward_secrecy", 0, DOVECOT_MECH_FORWARD_SECRECY},
};

int sasl_policy_parse(char *const *words, struct sasl_policy *p, const char **bad)
{
	*p = (struct sasl_policy){0, 0};
	for (char *const *w = words; *w; w++) {
		size_t i = 0;
		while (i < sizeof(options) / sizeof(options[0]) &&
		       strcasecmp(*w, options[i].word) != 0)
			i++;
		if (i == sizeof(options) / sizeof(options[0])) {
			*bad = *w;
			*p = (struct sasl_policy){0, 0};
			return -1;
		}
		p->refused |= options[i].refused;
		p->required |= options[i].required;
	}
	return 0;
}

bool sasl_policy_allows(const struct sasl_policy *p, unsigned flags)
{
	return (flags & p->refused) == 0 && (flags & p->required) == p->required;
}

/*
 * TLS policy per destination: smtp_tls_policy_maps (an LMDB table built
 * by mailctl) maps a next-hop host or domain to a level and attributes
 * (parsed by lib/smtp/tls_policy.c). Look-up order: the next hop as
 * written when it has brackets or a port ("[host]:port"), the host or
 * domain, then each parent domain as ".parent"; without an entry,
 * smtp_tls_security_level applies. An entry
 * that cannot be understood is an error: the delivery is deferred rather
 * than made with less security than the entry asked for. So is a next hop
 * without an entry under smtp_tls_security_level = fingerprint (the
 * fingerprints are in the entries; smtp_tls_fingerprint_cert_match is not
 * read).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp.h"
#include "util/alloc.h"
#include "util/log.h"

/* 1 found (p set), 0 not found, -1 error. */
static int lookup_key(const char *key, struct tls_policy *p, char **error_r)
{
	struct str value = STR_INIT;
	const char *error = "";
	int rc = table_lookup(smtp_cfg.tls_policy, key, &value, &error);
	if (rc < 0) {
		*error_r =
		    xasprintf("smtp_tls_policy_maps %s: %s", smtp_cfg.tls_policy_maps, error);
	} else if (rc == 1) {
		char *why = NULL;
		if (tls_policy_parse(str_cstr(&value), smtp_cfg.verify_match, smtp_cfg.secure_match,
		                     p, &why) != 0) {
			*error_r =
			    xasprintf("smtp_tls_policy_maps %s: bad entry for \"%s\" (\"%s\"): %s",
			              smtp_cfg.tls_policy_maps, key, str_cstr(&value), why);
			free(why);
			rc = -1;
		}
	}
	str_free(&value);
	return rc;
}

int tls_policy_lookup(const char *nexthop_text, const char *host, struct tls_policy *p,
                      char **error_r)
{
	memset(p, 0, sizeof(*p));
	char *why = NULL;
	char *level_error = NULL;
	if (tls_policy_parse(tls_level_name(smtp_cfg.tls_level), smtp_cfg.verify_match,
	                     smtp_cfg.secure_match, p, &why) != 0) {
		/* A bad smtp_tls_*_cert_match, or the fingerprint level, whose
		 * fingerprints only table entries give: an error for next hops
		 * without an entry. */
		level_error = xasprintf("smtp_tls_security_level = %s: %s",
		                        tls_level_name(smtp_cfg.tls_level), why);
		free(why);
	}
	if (*smtp_cfg.tls_policy_maps == '\0') {
		if (level_error == NULL)
			return 0;
		*error_r = level_error;
		return -1;
	}
	if (smtp_cfg.tls_policy == NULL) {
		const char *error = "";
		smtp_cfg.tls_policy = table_open(smtp_cfg.tls_policy_maps, &error);
		if (smtp_cfg.tls_policy == NULL) {
			*error_r = xasprintf("smtp_tls_policy_maps %s: %s",
			                     smtp_cfg.tls_policy_maps, error);
			free(level_error);
			return -1;
		}
	}
	struct tls_policy found = {0};
	int rc = 0;
	/* A next hop written with brackets or a port ("[mx.example]:587") is
	 * looked up as written first, as Postfix does. */
	if (nexthop_text && strcmp(nexthop_text, host) != 0) {
		char *exact = xstrdup(nexthop_text);
		for (char *c = exact; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		rc = lookup_key(exact, &found, error_r);
		free(exact);
	}
	char *key = xstrdup(host);
	for (char *c = key; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	if (rc == 0)
		rc = lookup_key(key, &found, error_r);
	for (const char *dot = strchr(key, '.'); rc == 0 && dot != NULL; dot = strchr(dot + 1, '.'))
		rc = lookup_key(dot, &found, error_r);
	free(key);
	if (rc == 1) {
		tls_policy_free(p);
		*p = found;
	} else {
		tls_policy_free(&found);
	}
	if (rc == 0 && level_error != NULL) {
		*error_r = level_error;
		level_error = NULL;
		rc = -1;
	}
	free(level_error);
	return rc < 0 ? -1 : 0;
}

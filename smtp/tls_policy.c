/*
 * TLS policy per destination: smtp_tls_policy_maps (an LMDB table built
 * by mailctl) maps a next-hop host or domain to a level: none, may,
 * encrypt, dane or verify (the first word of the value; the rest is
 * ignored). Look-up order: the exact next hop, then each parent domain
 * as ".parent"; without an entry, smtp_tls_security_level applies.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp/smtp.h"
#include "util/alloc.h"
#include "util/log.h"

static const char *const level_names[] = {
    [TLS_LEVEL_NONE] = "none", [TLS_LEVEL_MAY] = "may",       [TLS_LEVEL_ENCRYPT] = "encrypt",
    [TLS_LEVEL_DANE] = "dane", [TLS_LEVEL_VERIFY] = "verify",
};

const char *tls_level_name(enum tls_level level)
{
	return level_names[level];
}

int tls_level_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcasecmp(name, level_names[i]) == 0)
			return (int)i;
	/* Postfix's names for the same levels. */
	if (strcasecmp(name, "secure") == 0)
		return TLS_LEVEL_VERIFY;
	return -1;
}

/* 1 found (level set), 0 not found, -1 error. */
static int lookup_key(const char *key, struct tls_policy *p, const char **error_r)
{
	struct str value = STR_INIT;
	int rc = table_lookup(smtp_cfg.tls_policy, key, &value, error_r);
	if (rc == 1) {
		char word[32];
		size_t n = 0;
		const char *v = str_cstr(&value);
		while (*v && isspace((unsigned char)*v))
			v++;
		while (v[n] && !isspace((unsigned char)v[n]) && n < sizeof(word) - 1) {
			word[n] = v[n];
			n++;
		}
		word[n] = '\0';
		int level = tls_level_parse(word);
		if (level < 0) {
			log_warn("smtp_tls_policy_maps: unknown level \"%s\" for %s; using "
			         "encrypt",
			         word, key);
			level = TLS_LEVEL_ENCRYPT;
		}
		p->level = (enum tls_level)level;
	}
	str_free(&value);
	return rc;
}

int tls_policy_lookup(const char *host, struct tls_policy *p, const char **error_r)
{
	p->level = smtp_cfg.tls_level;
	if (*smtp_cfg.tls_policy_maps == '\0')
		return 0;
	if (smtp_cfg.tls_policy == NULL) {
		smtp_cfg.tls_policy = table_open(smtp_cfg.tls_policy_maps, error_r);
		if (smtp_cfg.tls_policy == NULL)
			return -1;
	}
	char *key = xstrdup(host);
	for (char *c = key; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	int rc = lookup_key(key, p, error_r);
	for (const char *dot = strchr(key, '.'); rc == 0 && dot != NULL; dot = strchr(dot + 1, '.'))
		rc = lookup_key(dot, p, error_r);
	free(key);
	return rc < 0 ? -1 : 0;
}

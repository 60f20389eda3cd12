/*
 * TLS policy per destination: smtp_tls_policy_maps (an LMDB table built
 * by mailctl) maps a next-hop host or domain to a level (none, may,
 * encrypt, dane, verify or secure) and, after it, attributes as Postfix's
 * smtp_tls_policy_maps has them:
 *   match=a:b:...  names the server certificate may carry (verify and
 *                  secure): "hostname" (the server's host name),
 *                  "nexthop", "dot-nexthop" (any name below the next hop),
 *                  a literal name, or ".domain" for any name below it;
 *   protocols=...  TLS versions (">=TLSv1.2", "!TLSv1 !TLSv1.1", ...);
 *   ciphers=...    "high", "medium" or an OpenSSL cipher list.
 * Look-up order: the exact next hop, then each parent domain as
 * ".parent"; without an entry, smtp_tls_security_level applies. An entry
 * that cannot be understood is an error: the delivery is deferred rather
 * than made with less security than the entry asked for.
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
    [TLS_LEVEL_DANE] = "dane", [TLS_LEVEL_VERIFY] = "verify", [TLS_LEVEL_SECURE] = "secure",
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
	return -1;
}

void tls_policy_free(struct tls_policy *p)
{
	for (size_t i = 0; i < p->match_count; i++)
		free(p->match[i]);
	free(p->match);
	free(p->ciphers);
	memset(p, 0, sizeof(*p));
}

/* Split a match list ("a:b", "a, b" or "a b") into p->match. */
static int set_match(struct tls_policy *p, const char *text, char **error_r)
{
	for (size_t i = 0; i < p->match_count; i++)
		free(p->match[i]);
	free(p->match);
	p->match = NULL;
	p->match_count = 0;
	const char *c = text;
	for (;;) {
		while (*c == ':' || *c == ',' || isspace((unsigned char)*c))
			c++;
		if (*c == '\0')
			break;
		const char *start = c;
		while (*c && *c != ':' && *c != ',' && !isspace((unsigned char)*c))
			c++;
		char *item = xstrndup(start, (size_t)(c - start));
		for (char *d = item; *d; d++) {
			unsigned char ch = (unsigned char)*d;
			if (!isalnum(ch) && ch != '.' && ch != '-' && ch != '_' && ch != '*') {
				*error_r =
				    xasprintf("match=%s: \"%s\" is not a host name", text, item);
				free(item);
				return -1;
			}
		}
		p->match = xrealloc(p->match, (p->match_count + 1) * sizeof(*p->match));
		p->match[p->match_count++] = item;
	}
	if (p->match_count == 0) {
		*error_r = xasprintf("match= is empty");
		return -1;
	}
	return 0;
}

int tls_policy_parse(const char *value, struct tls_policy *p, char **error_r)
{
	const char *v = value;
	int rc = -1;
	bool have_match = false;
	struct str word = STR_INIT;
	for (bool first = true;; first = false) {
		while (isspace((unsigned char)*v))
			v++;
		if (*v == '\0') {
			if (first) {
				*error_r = xstrdup("no TLS level");
				goto out;
			}
			break;
		}
		str_clear(&word);
		while (*v && !isspace((unsigned char)*v))
			str_append_char(&word, *v++);
		/* protocols= takes a space-separated list: the words that
		 * follow without "=" belong to it. */
		const char *w = str_cstr(&word);
		if (first) {
			int level = tls_level_parse(w);
			if (level < 0) {
				*error_r = xasprintf("unknown TLS level \"%s\"", w);
				goto out;
			}
			p->level = (enum tls_level)level;
			continue;
		}
		const char *eq = strchr(w, '=');
		if (eq == NULL) {
			*error_r = xasprintf("\"%s\" is not name=value", w);
			goto out;
		}
		size_t nlen = (size_t)(eq - w);
		const char *arg = eq + 1;
		const char *error = "";
		if (nlen == 5 && strncasecmp(w, "match", 5) == 0) {
			if (set_match(p, arg, error_r) != 0)
				goto out;
			have_match = true;
		} else if (nlen == 9 && strncasecmp(w, "protocols", 9) == 0) {
			/* Gather the rest of a space-separated list. */
			struct str list = STR_INIT;
			str_append_cstr(&list, arg);
			for (;;) {
				const char *n = v;
				while (isspace((unsigned char)*n))
					n++;
				const char *e = n;
				while (*e && !isspace((unsigned char)*e))
					e++;
				if (e == n || memchr(n, '=', (size_t)(e - n)) != NULL)
					break;
				if (*n != '!' && *n != '<' && *n != '>' &&
				    strncasecmp(n, "TLS", 3) != 0)
					break;
				str_append_char(&list, ' ');
				str_append(&list, n, (size_t)(e - n));
				v = e;
			}
			int lrc = tls_protocols_parse(str_cstr(&list), &p->min_version,
			                              &p->max_version, &error);
			if (lrc != 0)
				*error_r = xasprintf("protocols=: %s", error);
			str_free(&list);
			if (lrc != 0)
				goto out;
		} else if (nlen == 7 && strncasecmp(w, "ciphers", 7) == 0) {
			const char *list = tls_cipher_list(arg, &error);
			if (list == NULL) {
				*error_r = xasprintf("ciphers=: %s", error);
				goto out;
			}
			free(p->ciphers);
			p->ciphers = xstrdup(list);
		} else {
			*error_r =
			    xasprintf("unknown attribute \"%.*s\" (match, protocols or ciphers)",
			              (int)nlen, w);
			goto out;
		}
	}
	if (have_match && p->level != TLS_LEVEL_VERIFY && p->level != TLS_LEVEL_SECURE) {
		*error_r = xasprintf("match= applies to the verify and secure levels, not %s",
		                     tls_level_name(p->level));
		goto out;
	}
	if (!have_match && (p->level == TLS_LEVEL_VERIFY || p->level == TLS_LEVEL_SECURE) &&
	    set_match(p,
	              p->level == TLS_LEVEL_VERIFY ? smtp_cfg.verify_match : smtp_cfg.secure_match,
	              error_r) != 0)
		goto out;
	rc = 0;
out:
	str_free(&word);
	return rc;
}

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
		if (tls_policy_parse(str_cstr(&value), p, &why) != 0) {
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

int tls_policy_lookup(const char *host, struct tls_policy *p, char **error_r)
{
	memset(p, 0, sizeof(*p));
	char *why = NULL;
	if (tls_policy_parse(tls_level_name(smtp_cfg.tls_level), p, &why) != 0) {
		/* Only a bad smtp_tls_*_cert_match can get here. */
		*error_r = xasprintf("smtp_tls_security_level: %s", why);
		free(why);
		return -1;
	}
	if (*smtp_cfg.tls_policy_maps == '\0')
		return 0;
	if (smtp_cfg.tls_policy == NULL) {
		const char *error = "";
		smtp_cfg.tls_policy = table_open(smtp_cfg.tls_policy_maps, &error);
		if (smtp_cfg.tls_policy == NULL) {
			*error_r = xasprintf("smtp_tls_policy_maps %s: %s",
			                     smtp_cfg.tls_policy_maps, error);
			return -1;
		}
	}
	struct tls_policy found = {0};
	char *key = xstrdup(host);
	for (char *c = key; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	int rc = lookup_key(key, &found, error_r);
	for (const char *dot = strchr(key, '.'); rc == 0 && dot != NULL; dot = strchr(dot + 1, '.'))
		rc = lookup_key(dot, &found, error_r);
	free(key);
	if (rc == 1) {
		tls_policy_free(p);
		*p = found;
	} else {
		tls_policy_free(&found);
	}
	return rc < 0 ? -1 : 0;
}

/*
 * The value of a TLS policy table entry (smtp_tls_policy_maps), as
 * Postfix writes it: a level (none, may, encrypt, dane, verify, secure),
 * then attributes:
 *   match=a:b:...  names the server certificate may carry (verify and
 *                  secure): "hostname" (the server's host name),
 *                  "nexthop", "dot-nexthop" (any name below the next hop),
 *                  a literal name, or ".domain" for any name below it;
 *   protocols=...  TLS versions (">=TLSv1.2", "!TLSv1 !TLSv1.1", ...; the
 *                  words after it that name versions belong to it);
 *   ciphers=...    "high", "medium" or an OpenSSL cipher list.
 * Used by smtp for each delivery and by mailctl check on the table source.
 */
#include "smtp/tls_policy.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tls/tls.h"
#include "util/alloc.h"
#include "util/str.h"

static const char *const level_names[] = {
    [TLS_LEVEL_NONE] = "none",           [TLS_LEVEL_MAY] = "may",
    [TLS_LEVEL_ENCRYPT] = "encrypt",     [TLS_LEVEL_DANE] = "dane",
    [TLS_LEVEL_VERIFY] = "verify",       [TLS_LEVEL_SECURE] = "secure",
    [TLS_LEVEL_DANE_ONLY] = "dane-only",
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

int tls_policy_parse(const char *value, const char *verify_match, const char *secure_match,
                     struct tls_policy *p, char **error_r)
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
	    set_match(p, p->level == TLS_LEVEL_VERIFY ? verify_match : secure_match, error_r) != 0)
		goto out;
	rc = 0;
out:
	str_free(&word);
	return rc;
}

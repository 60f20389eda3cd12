/*
 * The value of a TLS policy table entry (smtp_tls_policy_maps), as
 * Postfix writes it: a level (none, may, encrypt, dane, dane-only,
 * fingerprint, verify, secure), then attributes:
 *   match=a:b:...  names the server certificate may carry (verify and
 *                  secure): "hostname" (the server's host name),
 *                  "nexthop", "dot-nexthop" (any name below the next hop),
 *                  a literal name, or ".domain" for any name below it;
 *   match=3D:95|.. fingerprints (fingerprint): hex, colons between bytes
 *                  optional, several separated by "|" (or commas);
 *   protocols=...  TLS versions (">=TLSv1.2", "!TLSv1 !TLSv1.1", ...; the
 *                  words after it that name versions belong to it);
 *   ciphers=...    "high", "medium" or an OpenSSL cipher list;
 *   digest=...     the fingerprints' digest (Postern's own; Postfix has
 *                  only smtp_tls_fingerprint_digest).
 * match= may be given more than once; the lists add up, as in Postfix.
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
    [TLS_LEVEL_DANE_ONLY] = "dane-only", [TLS_LEVEL_FINGERPRINT] = "fingerprint",
};

/* The digests a fingerprint may be (OpenSSL's names) and their sizes. */
static const struct {
	const char *name;
	size_t size;
} digests[] = {
    {"md5", 16}, {"sha1", 20}, {"sha224", 28}, {"sha256", 32}, {"sha384", 48}, {"sha512", 64},
};

/* The digest called name (any case), or -1. */
static int digest_find(const char *name)
{
	for (size_t i = 0; i < sizeof(digests) / sizeof(digests[0]); i++)
		if (strcasecmp(name, digests[i].name) == 0)
			return (int)i;
	return -1;
}

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
	free(p->fingerprints);
	free(p->ciphers);
	memset(p, 0, sizeof(*p));
}

/* Add a match list of names ("a:b", "a, b" or "a b") to p->match. */
static int add_names(struct tls_policy *p, const char *text, char **error_r)
{
	size_t before = p->match_count;
	const char *c = text ? text : "";
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
		p->match = xreallocarray(p->match, p->match_count + 1, sizeof(*p->match));
		p->match[p->match_count++] = item;
	}
	if (p->match_count == before) {
		*error_r = xasprintf("match= is empty");
		return -1;
	}
	return 0;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* One fingerprint: pairs of hex digits, a colon between two pairs
 * optional ("3D:95:34", "3d9534"), as Postfix reads them. */
static int parse_fingerprint(const char *text, size_t len, struct tls_fingerprint *f)
{
	f->len = 0;
	for (size_t i = 0; i < len;) {
		if (f->len == TLS_FINGERPRINT_MAX || len - i < 2)
			return -1;
		int high = hex_value(text[i]), low = hex_value(text[i + 1]);
		if (high < 0 || low < 0)
			return -1;
		f->data[f->len++] = (unsigned char)(high << 4 | low);
		i += 2;
		if (i < len && text[i] == ':' && ++i == len)
			return -1;
	}
	return f->len > 0 ? 0 : -1;
}

/* Add fingerprints separated by "|", commas or white space to
 * p->fingerprints. */
static int add_fingerprints(struct tls_policy *p, const char *text, char **error_r)
{
	size_t before = p->fingerprint_count;
	const char *c = text;
	for (;;) {
		while (*c == '|' || *c == ',' || isspace((unsigned char)*c))
			c++;
		if (*c == '\0')
			break;
		const char *start = c;
		while (*c && *c != '|' && *c != ',' && !isspace((unsigned char)*c))
			c++;
		struct tls_fingerprint f;
		if (parse_fingerprint(start, (size_t)(c - start), &f) != 0) {
			*error_r = xasprintf("match=: \"%.*s\" is not a fingerprint (hex digits in "
			                     "pairs, a colon between pairs)",
			                     c - start > 200 ? 200 : (int)(c - start), start);
			return -1;
		}
		p->fingerprints = xreallocarray(p->fingerprints, p->fingerprint_count + 1,
		                                sizeof(*p->fingerprints));
		p->fingerprints[p->fingerprint_count++] = f;
	}
	if (p->fingerprint_count == before) {
		*error_r = xasprintf("match= is empty");
		return -1;
	}
	return 0;
}

/* The fingerprint level's last checks: there are fingerprints (from
 * match= or the defaults), and each has the size of the digest. */
static int finish_fingerprints(struct tls_policy *p, const struct tls_policy_defaults *d,
                               int digest, char **error_r)
{
	if (digest < 0 && d->fingerprint_digest != NULL && *d->fingerprint_digest != '\0') {
		digest = digest_find(d->fingerprint_digest);
		if (digest < 0) {
			*error_r = xasprintf("smtp_tls_fingerprint_digest: unknown digest \"%s\" "
			                     "(md5, sha1, sha224, sha256, sha384 or sha512)",
			                     d->fingerprint_digest);
			return -1;
		}
	}
	if (digest < 0)
		digest = digest_find("sha256");
	p->fingerprint_digest = digests[digest].name;
	if (p->fingerprint_count == 0 && d->fingerprint_match != NULL &&
	    *d->fingerprint_match != '\0' &&
	    add_fingerprints(p, d->fingerprint_match, error_r) != 0)
		return -1;
	if (p->fingerprint_count == 0) {
		*error_r = xasprintf("the fingerprint level needs fingerprints (match=)");
		return -1;
	}
	size_t want = digests[digest].size;
	for (size_t i = 0; i < p->fingerprint_count; i++) {
		const struct tls_fingerprint *f = &p->fingerprints[i];
		if (f->len == want)
			continue;
		struct str hex = STR_INIT;
		for (size_t j = 0; j < f->len; j++)
			str_printf(&hex, "%s%02X", j ? ":" : "", f->data[j]);
		const char *other = NULL;
		for (size_t j = 0; j < sizeof(digests) / sizeof(digests[0]); j++)
			if (digests[j].size == f->len)
				other = digests[j].name;
		char *hint =
		    other ? xasprintf(" (is it %s? then digest=%s)", other, other) : xstrdup("");
		*error_r = xasprintf("fingerprint %s has %zu bytes, not the %zu of a %s digest%s",
		                     str_cstr(&hex), f->len, want, digests[digest].name, hint);
		free(hint);
		str_free(&hex);
		return -1;
	}
	return 0;
}

int tls_policy_parse_defaults(const char *value, const struct tls_policy_defaults *d,
                              struct tls_policy *p, char **error_r)
{
	const char *v = value;
	int rc = -1;
	bool have_match = false;
	int digest = -1; /* digest= */
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
			if (p->level != TLS_LEVEL_VERIFY && p->level != TLS_LEVEL_SECURE &&
			    p->level != TLS_LEVEL_FINGERPRINT) {
				*error_r = xasprintf("match= applies to the verify, secure and "
				                     "fingerprint levels, not %s",
				                     tls_level_name(p->level));
				goto out;
			}
			if ((p->level == TLS_LEVEL_FINGERPRINT ? add_fingerprints(p, arg, error_r)
			                                       : add_names(p, arg, error_r)) != 0)
				goto out;
			have_match = true;
		} else if (nlen == 6 && strncasecmp(w, "digest", 6) == 0) {
			if (p->level != TLS_LEVEL_FINGERPRINT) {
				*error_r =
				    xasprintf("digest= applies to the fingerprint level, not %s",
				              tls_level_name(p->level));
				goto out;
			}
			digest = digest_find(arg);
			if (digest < 0) {
				*error_r =
				    xasprintf("digest=%s: unknown digest (md5, sha1, sha224, "
				              "sha256, sha384 or sha512)",
				              arg);
				goto out;
			}
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
			*error_r = xasprintf(
			    "unknown attribute \"%.*s\" (match, protocols, ciphers or digest)",
			    (int)nlen, w);
			goto out;
		}
	}
	if (!have_match && p->level == TLS_LEVEL_VERIFY &&
	    add_names(p, d->verify_match, error_r) != 0)
		goto out;
	if (!have_match && p->level == TLS_LEVEL_SECURE &&
	    add_names(p, d->secure_match, error_r) != 0)
		goto out;
	if (p->level == TLS_LEVEL_FINGERPRINT && finish_fingerprints(p, d, digest, error_r) != 0)
		goto out;
	rc = 0;
out:
	str_free(&word);
	return rc;
}

int tls_policy_parse(const char *value, const char *verify_match, const char *secure_match,
                     struct tls_policy *p, char **error_r)
{
	const struct tls_policy_defaults d = {.verify_match = verify_match,
	                                      .secure_match = secure_match};
	return tls_policy_parse_defaults(value, &d, p, error_r);
}

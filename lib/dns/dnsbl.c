/*
 * DNS blocklist site entries (dnsbl.h): "DOMAIN[=FILTER]" parsed into the
 * domain and one bitmap of allowed values per answer octet, and the query
 * names of domain blocklists. Pure code over the text; nothing here looks
 * anything up.
 */
#include "dns/dnsbl.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

/* The longest domain under which an IPv6 query name (32 nibbles, 64
 * characters with their dots) still fits in 253 characters. */
#define DNSBL_DOMAIN_MAX (253 - 64)

void dnsbl_site_free(struct dnsbl_site *site)
{
	free(site->domain);
	free(site->filter);
	memset(site, 0, sizeof(*site));
}

static void allow(uint8_t bits[32], unsigned low, unsigned high)
{
	for (unsigned v = low; v <= high; v++)
		bits[v / 8] |= (uint8_t)(1u << (v % 8));
}

static bool allowed(const uint8_t bits[32], unsigned v)
{
	return (bits[v / 8] >> (v % 8)) & 1u;
}

/* A decimal number 0..255 at *p (no sign, at most three digits). */
static bool parse_number(const char **p, unsigned *out)
{
	const char *s = *p;
	unsigned v = 0;
	size_t digits = 0;
	while (digits < 4 && isdigit((unsigned char)s[digits])) {
		v = v * 10 + (unsigned)(s[digits] - '0');
		digits++;
	}
	if (digits == 0 || digits > 3 || v > 255)
		return false;
	*p = s + digits;
	*out = v;
	return true;
}

/* One octet pattern: N, or [ELEM;ELEM...] with ELEM N or N..M. */
static bool parse_octet(const char **p, uint8_t bits[32], const char **error_r)
{
	const char *s = *p;
	unsigned low, high;
	if (*s != '[') {
		if (!parse_number(&s, &low)) {
			*error_r = "filter octet is not a number from 0 to 255 or a [set]";
			return false;
		}
		allow(bits, low, low);
		*p = s;
		return true;
	}
	s++;
	for (;;) {
		if (!parse_number(&s, &low)) {
			*error_r = "filter set element is not a number from 0 to 255";
			return false;
		}
		high = low;
		if (s[0] == '.' && s[1] == '.') {
			s += 2;
			if (!parse_number(&s, &high)) {
				*error_r = "filter range end is not a number from 0 to 255";
				return false;
			}
			if (high < low) {
				*error_r = "filter range ends before it starts";
				return false;
			}
		}
		allow(bits, low, high);
		if (*s == ';') {
			s++;
			continue;
		}
		if (*s == ']') {
			*p = s + 1;
			return true;
		}
		*error_r = "filter set is not [N], [N..M] or [N;M;...] closed by ]";
		return false;
	}
}

/* LDH labels (and '_'), at most max characters in all. */
static bool valid_domain(const char *domain, size_t len, size_t max, const char **error_r)
{
	if (len == 0) {
		*error_r = "empty domain";
		return false;
	}
	if (len > max) {
		*error_r = "domain too long";
		return false;
	}
	size_t label = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)domain[i];
		if (c == '.') {
			if (label == 0) {
				*error_r = "empty label in the domain";
				return false;
			}
			label = 0;
			continue;
		}
		if (!isalnum(c) && c != '-' && c != '_') {
			*error_r = "domain has a character other than letters, digits, '-', '_' "
			           "and '.'";
			return false;
		}
		if (++label > 63) {
			*error_r = "domain label longer than 63 characters";
			return false;
		}
	}
	if (label == 0) {
		*error_r = "empty label in the domain";
		return false;
	}
	return true;
}

int dnsbl_site_parse(const char *entry, struct dnsbl_site *site, const char **error_r)
{
	memset(site, 0, sizeof(*site));
	const char *eq = strchr(entry, '=');
	size_t len = eq ? (size_t)(eq - entry) : strlen(entry);
	if (len > 1 && entry[len - 1] == '.')
		len--; /* a final dot: the same name */
	if (!valid_domain(entry, len, DNSBL_DOMAIN_MAX, error_r))
		return -1;
	site->domain = xstrndup(entry, len);
	for (char *c = site->domain; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	if (eq == NULL) {
		allow(site->octet[0], 127, 127);
		for (int i = 1; i < 4; i++)
			allow(site->octet[i], 0, 255);
		return 0;
	}
	const char *p = eq + 1;
	for (int i = 0; i < 4; i++) {
		if (i > 0) {
			if (*p != '.') {
				*error_r = "filter is not an IPv4 address of four octets";
				return -1;
			}
			p++;
		}
		if (!parse_octet(&p, site->octet[i], error_r))
			return -1;
	}
	if (*p != '\0') {
		*error_r = "filter has text after its fourth octet";
		return -1;
	}
	site->filter = xstrdup(eq + 1);
	return 0;
}

bool dnsbl_site_match(const struct dnsbl_site *site, const unsigned char address[4])
{
	for (int i = 0; i < 4; i++)
		if (!allowed(site->octet[i], address[i]))
			return false;
	return true;
}

char *dnsbl_domain_name_under(const char *name, const char *domain)
{
	size_t len = strlen(name);
	if (len > 1 && name[len - 1] == '.')
		len--; /* a final dot: the same name */
	size_t domain_len = strlen(domain);
	const char *error;
	if (memchr(name, '.', len) == NULL || len + 1 + domain_len > 253 ||
	    !valid_domain(name, len, 253, &error))
		return NULL;
	/* All labels numeric: an IPv4 address, not a domain. */
	if (strspn(name, "0123456789.") >= len)
		return NULL;
	char *query = xasprintf("%.*s.%s", (int)len, name, domain);
	for (char *c = query; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	return query;
}

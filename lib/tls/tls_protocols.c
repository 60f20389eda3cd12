/*
 * The TLS protocol list syntax of Postfix's *_tls_protocols settings and
 * the protocols= attribute of the smtp client's TLS policy table, turned
 * into the range of versions OpenSSL may use. One bare name alone is the
 * lowest version, as Postern's settings always took it. SSLv2 and SSLv3,
 * which Postfix's lists still name ("!SSLv2, !SSLv3, !TLSv1, !TLSv1.1"),
 * are taken and mean nothing, as OpenSSL 3 speaks neither: excluding one,
 * including one or ">=SSLv3" changes nothing; "<=SSLv3" leaves no version.
 * Pure: no OpenSSL calls.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "tls/tls.h"

static const struct {
	const char *name;
	int version;
} versions[] = {
    {"TLSv1", TLS_VERSION_1_0},
    {"TLSv1.1", TLS_VERSION_1_1},
    {"TLSv1.2", TLS_VERSION_1_2},
    {"TLSv1.3", TLS_VERSION_1_3},
};
#define VERSION_COUNT (sizeof(versions) / sizeof(versions[0]))

/* Older than every version in versions[]: never used. */
static const char *const ssl_names[] = {"SSLv2", "SSLv3"};
#define SSL_INDEX (-2)

static bool name_is(const char *name, size_t len, const char *known)
{
	return strlen(known) == len && strncasecmp(name, known, len) == 0;
}

/* The index in versions[], SSL_INDEX for an SSL version, -1 if unknown. */
static int version_index(const char *name, size_t len)
{
	for (size_t i = 0; i < VERSION_COUNT; i++)
		if (name_is(name, len, versions[i].name))
			return (int)i;
	for (size_t i = 0; i < sizeof(ssl_names) / sizeof(ssl_names[0]); i++)
		if (name_is(name, len, ssl_names[i]))
			return SSL_INDEX;
	return -1;
}

static char protocols_error[256];

int tls_protocols_parse(const char *text, int *min_r, int *max_r, const char **error_r)
{
	bool included[VERSION_COUNT] = {0}, any_included = false;
	bool excluded[VERSION_COUNT] = {0};
	bool below_all = false; /* "<=SSLv3": nothing is left */
	size_t lo = 0, hi = VERSION_COUNT - 1, tokens = 0;
	int last_included = -1;
	const char *p = text;
	for (;; tokens++) {
		while (*p == ' ' || *p == '\t' || *p == ',' || *p == ':')
			p++;
		if (*p == '\0')
			break;
		const char *start = p;
		while (*p && *p != ' ' && *p != '\t' && *p != ',' && *p != ':')
			p++;
		size_t len = (size_t)(p - start);
		const char *name = start;
		int op = 0; /* 0 include, '!' exclude, '>' at least, '<' at most */
		if (*name == '!') {
			op = '!';
			name++;
		} else if ((*name == '>' || *name == '<') && len >= 2 && name[1] == '=') {
			op = *name;
			name += 2;
		}
		int i = version_index(name, len - (size_t)(name - start));
		if (i == SSL_INDEX) {
			if (op == '<')
				below_all = true;
			continue;
		}
		if (i < 0) {
			snprintf(
			    protocols_error, sizeof(protocols_error),
			    "unknown TLS protocol \"%.*s\" (TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3, "
			    "with !, >= or <=; SSLv2 and SSLv3 are ignored)",
			    (int)len, start);
			*error_r = protocols_error;
			return -1;
		}
		if (op == '!') {
			excluded[i] = true;
		} else if (op == '>') {
			if ((size_t)i > lo)
				lo = (size_t)i;
		} else if (op == '<') {
			if ((size_t)i < hi)
				hi = (size_t)i;
		} else {
			included[i] = true;
			any_included = true;
			last_included = i;
		}
	}
	if (tokens == 1 && last_included >= 0) {
		/* One bare name is the lowest version (">=" may be left out). */
		included[last_included] = false;
		any_included = false;
		lo = (size_t)last_included;
	}
	int first = -1, last = -1;
	bool gap = false;
	for (size_t i = lo; !below_all && i <= hi && i < VERSION_COUNT; i++) {
		bool ok = !excluded[i] && (!any_included || included[i]);
		if (ok && last >= 0 && (size_t)last != i - 1)
			gap = true;
		if (ok) {
			if (first < 0)
				first = (int)i;
			last = (int)i;
		}
	}
	if (first < 0) {
		snprintf(protocols_error, sizeof(protocols_error),
		         "TLS protocols \"%s\" leave no version enabled", text);
		*error_r = protocols_error;
		return -1;
	}
	if (gap) {
		snprintf(protocols_error, sizeof(protocols_error),
		         "TLS protocols \"%s\" are not one range of versions", text);
		*error_r = protocols_error;
		return -1;
	}
	*min_r = versions[first].version;
	*max_r = versions[last].version;
	return 0;
}

const char *tls_protocol_name(int version)
{
	for (size_t i = 0; i < VERSION_COUNT; i++)
		if (versions[i].version == version)
			return versions[i].name;
	return "unknown";
}

/*
 * The route of an address: qmgr's routing and the milter macros (route.h).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/route.h"
#include "util/alloc.h"

/* transport_maps: 1 found (value set), 0 not found, -1 lookup failure. */
static int transport_lookup(const struct mail_route_settings *rs, const char *address,
                            struct str *value)
{
	const char *spec = rs->transport_maps;
	if (spec == NULL || *spec == '\0' || rs->lookup == NULL)
		return 0;
	char *key = xstrdup(address);
	for (char *c = key; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	int rc = rs->lookup(spec, key, value);
	char *at = strrchr(key, '@');
	const char *domain = at ? at + 1 : NULL;
	if (rc == 0 && domain && *domain)
		rc = rs->lookup(spec, domain, value);
	for (const char *dot = domain ? strchr(domain, '.') : NULL; rc == 0 && dot;
	     dot = strchr(dot + 1, '.'))
		rc = rs->lookup(spec, dot, value);
	free(key);
	return rc;
}

static void trim_copy(struct str *out, const char *text, size_t len)
{
	while (len > 0 && isspace((unsigned char)*text)) {
		text++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)text[len - 1]))
		len--;
	str_clear(out);
	str_append(out, text, len);
}

int mail_route(const struct mail_route_settings *rs, const char *address, struct str *transport,
               struct str *nexthop)
{
	const char *at = strrchr(address, '@');
	const char *domain = at ? at + 1 : "";
	bool local = *domain == '\0' || str_list_contains_nocase(rs->mydestination, domain) ||
	             str_list_contains_nocase(rs->virtual_domains, domain);
	const char *relayhost = rs->relayhost ? rs->relayhost : "";
	const char *remote_hop = *relayhost ? relayhost : domain;
	const char *dflt_transport = local ? "local" : "smtp";
	str_clear(transport);
	str_clear(nexthop);
	struct str value = STR_INIT;
	int found = transport_lookup(rs, address, &value);
	if (found == 1) {
		const char *v = str_cstr(&value);
		const char *colon = strchr(v, ':');
		trim_copy(transport, v, colon ? (size_t)(colon - v) : strlen(v));
		if (colon)
			trim_copy(nexthop, colon + 1, strlen(colon + 1));
	}
	str_free(&value);
	if (transport->len == 0)
		str_append(transport, dflt_transport, strlen(dflt_transport));
	if (nexthop->len == 0) {
		const char *hop = strcmp(str_cstr(transport), "local") == 0  ? rs->myhostname
		                  : strcmp(str_cstr(transport), "smtp") == 0 ? remote_hop
		                                                             : "";
		str_append(nexthop, hop, strlen(hop));
	}
	return found < 0 ? -1 : 0;
}

/*
 * The route of an address: qmgr's routing and the milter macros, and the
 * keys of sender-indexed tables and of smtp_sasl_password_maps (route.h).
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

void mail_keys_add(struct mail_keys *k, const char *key)
{
	if (key == NULL || *key == '\0' || k->count == MAIL_KEYS_MAX)
		return;
	for (size_t i = 0; i < k->count; i++)
		if (strcasecmp(k->key[i], key) == 0)
			return;
	char *copy = xstrdup(key);
	for (char *c = copy; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	k->key[k->count++] = copy;
}

void mail_keys_sender(struct mail_keys *k, const char *sender, const char *null_key)
{
	if (*sender == '\0') {
		mail_keys_add(k, null_key);
		return;
	}
	mail_keys_add(k, sender);
	const char *at = strrchr(sender, '@');
	if (at != NULL && at[1] != '\0')
		mail_keys_add(k, at);
}

void mail_keys_sasl(struct mail_keys *k, const char *sender, const char *host, const char *nexthop)
{
	if (sender != NULL)
		mail_keys_sender(k, sender, NULL);
	mail_keys_add(k, host);
	mail_keys_add(k, nexthop);
}

void mail_keys_free(struct mail_keys *k)
{
	for (size_t i = 0; i < k->count; i++)
		free(k->key[i]);
	k->count = 0;
}

/* sender_dependent_relayhost_maps: 1 with the sender's relay in value, 0
 * when there is none (or it says DUNNO), -1 on a failed look-up. */
static int sender_relay_lookup(const struct mail_route_settings *rs, const char *sender,
                               struct str *value)
{
	const char *spec = rs->sender_relay_maps;
	if (sender == NULL || spec == NULL || *spec == '\0' || rs->lookup == NULL)
		return 0;
	struct mail_keys keys = {0};
	mail_keys_sender(&keys, sender, "<>");
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < keys.count; i++)
		rc = rs->lookup(spec, keys.key[i], value);
	mail_keys_free(&keys);
	if (rc == 1) {
		struct str trimmed = STR_INIT;
		trim_copy(&trimmed, str_cstr(value), value->len);
		str_clear(value);
		str_append(value, str_cstr(&trimmed), trimmed.len);
		str_free(&trimmed);
		if (value->len == 0 || strcasecmp(str_cstr(value), "DUNNO") == 0)
			rc = 0;
	}
	return rc;
}

int mail_route(const struct mail_route_settings *rs, const char *address, struct str *transport,
               struct str *nexthop)
{
	return mail_route_sender(rs, NULL, address, transport, nexthop);
}

int mail_route_sender(const struct mail_route_settings *rs, const char *sender, const char *address,
                      struct str *transport, struct str *nexthop)
{
	const char *at = strrchr(address, '@');
	const char *domain = at ? at + 1 : "";
	bool local = *domain == '\0' || str_list_contains_nocase(rs->mydestination, domain) ||
	             str_list_contains_nocase(rs->virtual_domains, domain);
	const char *relayhost = rs->relayhost ? rs->relayhost : "";
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
	int relay_found = 0;
	if (nexthop->len == 0 && strcmp(str_cstr(transport), "local") == 0) {
		str_append(nexthop, rs->myhostname, strlen(rs->myhostname));
	} else if (nexthop->len == 0 && strcmp(str_cstr(transport), "smtp") == 0) {
		/* Postfix's precedence: a transport_maps next hop (above), then
		 * the sender's relay, then relayhost, then the domain. */
		relay_found = sender_relay_lookup(rs, sender, nexthop);
		if (relay_found != 1) {
			const char *hop = *relayhost ? relayhost : domain;
			str_clear(nexthop);
			str_append(nexthop, hop, strlen(hop));
		}
	}
	return found < 0 || relay_found < 0 ? -1 : 0;
}

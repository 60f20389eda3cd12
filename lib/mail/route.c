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

/* A sender-indexed table (sender_dependent_relayhost_maps,
 * sender_dependent_default_transport_maps): 1 with the sender's entry in
 * value, 0 when there is none (or it says DUNNO), -1 on a failed
 * look-up. */
static int sender_map_lookup(const struct mail_route_settings *rs, const char *spec,
                             const char *sender, struct str *value)
{
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

void mail_route_split(const char *value, struct str *transport, struct str *nexthop)
{
	const char *colon = strchr(value, ':');
	trim_copy(transport, value, colon ? (size_t)(colon - value) : strlen(value));
	if (colon)
		trim_copy(nexthop, colon + 1, strlen(colon + 1));
	else
		str_clear(nexthop);
}

/* The address classes, in the order they are tried (Postfix's). */
enum route_class { CLASS_LOCAL, CLASS_VIRTUAL, CLASS_RELAY, CLASS_DEFAULT };

static const char *const class_params[] = {
    [CLASS_LOCAL] = "local_transport",
    [CLASS_VIRTUAL] = "virtual_transport",
    [CLASS_RELAY] = "relay_transport",
    [CLASS_DEFAULT] = "default_transport",
};

static enum route_class class_of(const struct mail_route_settings *rs, const char *domain)
{
	if (*domain == '\0' || str_list_contains_nocase(rs->mydestination, domain))
		return CLASS_LOCAL;
	if (str_list_contains_nocase(rs->virtual_domains, domain))
		return CLASS_VIRTUAL;
	if (str_list_contains_nocase(rs->relay_domains, domain))
		return CLASS_RELAY;
	return CLASS_DEFAULT;
}

/* The class's transport[:nexthop], or the built-in default. */
static const char *class_transport(const struct mail_route_settings *rs, enum route_class class)
{
	const char *value = NULL;
	switch (class) {
	case CLASS_LOCAL:
		value = rs->local_transport;
		break;
	case CLASS_VIRTUAL:
		value = rs->virtual_transport;
		break;
	case CLASS_RELAY:
		value = rs->relay_transport;
		break;
	case CLASS_DEFAULT:
		value = rs->default_transport;
		break;
	}
	if (value != NULL)
		return value;
	return class == CLASS_LOCAL || class == CLASS_VIRTUAL ? "local" : "smtp";
}

static bool delivers_to_host(const struct mail_route_settings *rs, const char *transport)
{
	if (rs->smtp_transport != NULL)
		return rs->smtp_transport(transport);
	return strcmp(transport, "local") != 0 && strcmp(transport, "error") != 0 &&
	       strcmp(transport, "discard") != 0;
}

/* Off-host mail without a next hop yet: the sender's relay, else
 * relayhost, else the domain (Postfix's precedence). -1 when the
 * sender's look-up failed. */
static int relay_nexthop(const struct mail_route_settings *rs, const char *sender,
                         const char *domain, struct str *nexthop)
{
	int rc = sender_map_lookup(rs, rs->sender_relay_maps, sender, nexthop);
	if (rc != 1) {
		const char *relayhost = rs->relayhost ? rs->relayhost : "";
		str_set(nexthop, *relayhost ? relayhost : domain);
	}
	return rc < 0 ? -1 : 0;
}

int mail_route(const struct mail_route_settings *rs, const char *address, struct str *transport,
               struct str *nexthop)
{
	return mail_route_sender(rs, NULL, address, transport, nexthop, NULL);
}

int mail_route_sender(const struct mail_route_settings *rs, const char *sender, const char *address,
                      struct str *transport, struct str *nexthop, const char **param_r)
{
	const char *at = strrchr(address, '@');
	const char *domain = at ? at + 1 : "";
	enum route_class class = class_of(rs, domain);
	const char *param = "transport_maps";
	str_clear(transport);
	str_clear(nexthop);
	struct str value = STR_INIT;
	int found = transport_lookup(rs, address, &value);
	if (found == 1)
		mail_route_split(str_cstr(&value), transport, nexthop);
	str_free(&value);
	int relay_rc = 0, default_rc = 0;
	if (transport->len > 0) {
		/* transport_maps named the transport: smtp without a next hop
		 * goes on down the list, another keeps none (qmgr: the
		 * domain). */
		if (nexthop->len == 0 && strcmp(str_cstr(transport), "smtp") == 0)
			relay_rc = relay_nexthop(rs, sender, domain, nexthop);
	} else {
		/* The class's transport; a transport_maps next hop (":hop"),
		 * then the parameter's own, win. */
		param = class_params[class];
		struct str own_hop = STR_INIT, sender_default = STR_INIT;
		const char *class_value = class_transport(rs, class);
		if (class == CLASS_DEFAULT) {
			int rc = sender_map_lookup(rs, rs->sender_transport_maps, sender,
			                           &sender_default);
			if (rc == 1) {
				class_value = str_cstr(&sender_default);
				param = "sender_dependent_default_transport_maps";
			} else if (rc < 0) {
				default_rc = -1;
			}
		}
		mail_route_split(class_value, transport, &own_hop);
		str_free(&sender_default);
		if (nexthop->len == 0 && own_hop.len > 0)
			str_set(nexthop, str_cstr(&own_hop));
		else if (nexthop->len == 0 && delivers_to_host(rs, str_cstr(transport))) {
			if (class == CLASS_RELAY || class == CLASS_DEFAULT)
				relay_rc = relay_nexthop(rs, sender, domain, nexthop);
			else
				str_set(nexthop, *domain ? domain : rs->myhostname);
		}
		str_free(&own_hop);
	}
	if (nexthop->len == 0 && strcmp(str_cstr(transport), "local") == 0)
		str_set(nexthop, rs->myhostname);
	if (param_r != NULL)
		*param_r = param;
	return found < 0 || relay_rc < 0 || default_rc < 0 ? -1 : 0;
}

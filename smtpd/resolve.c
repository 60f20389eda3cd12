/*
 * Where an address would be delivered, the way qmgr routes it (see
 * qmgr/transport.c): transport_maps first (the address, its domain, then
 * each parent domain as ".parent"; "transport:nexthop", an empty part
 * keeping the default); then local for mydestination, virtual mailbox
 * domains and addresses without a domain; smtp for everything else, to
 * relayhost if set, else to the domain. smtpd only needs this for the
 * milter macros ({mail_mailer}, {mail_host}, {rcpt_mailer}, {rcpt_host});
 * as in Postfix, the next hop of local mail is myhostname.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd/smtpd.h"
#include "util/alloc.h"

/* transport_maps: 1 found (value set), 0 not found or not readable. */
static int transport_lookup(const char *spec, const char *address, struct str *value)
{
	if (*spec == '\0')
		return 0;
	char *key = xstrdup(address);
	for (char *c = key; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	int rc = policy_table_value(spec, key, value);
	char *at = strrchr(key, '@');
	const char *domain = at ? at + 1 : NULL;
	if (rc == 0 && domain && *domain)
		rc = policy_table_value(spec, domain, value);
	for (const char *dot = domain ? strchr(domain, '.') : NULL; rc == 0 && dot;
	     dot = strchr(dot + 1, '.'))
		rc = policy_table_value(spec, dot, value);
	free(key);
	return rc == 1;
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

void smtpd_resolve(const struct smtpd_settings *cfg, const char *address, struct str *transport,
                   struct str *nexthop)
{
	const char *at = strrchr(address, '@');
	const char *domain = at ? at + 1 : "";
	bool local = *domain == '\0' || policy_is_local_domain(cfg, domain) ||
	             policy_is_virtual_mailbox_domain(cfg, domain);
	const char *relayhost = conf_get(cfg->conf, "relayhost");
	const char *remote_hop = *relayhost ? relayhost : domain;
	const char *dflt_transport = local ? "local" : "smtp";
	str_clear(transport);
	str_clear(nexthop);
	struct str value = STR_INIT;
	if (transport_lookup(conf_get(cfg->conf, "transport_maps"), address, &value)) {
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
		const char *hop = strcmp(str_cstr(transport), "local") == 0  ? cfg->hostname
		                  : strcmp(str_cstr(transport), "smtp") == 0 ? remote_hop
		                                                             : "";
		str_append(nexthop, hop, strlen(hop));
	}
}

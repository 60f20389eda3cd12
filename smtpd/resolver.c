/*
 * smtpd's DNS resolver (lib/dns), made at the first look-up that needs
 * one (DNS blocklists, the sender domain check) with the same settings
 * as the smtp client's (dns_forwarders, dns_hosts_file,
 * dns_trust_anchor_file) and kept for the process's sessions. When it
 * cannot be made, the reason is kept and logged once. The hosts file's
 * names for addresses (the client name) are likewise read once.
 */
#include <stdlib.h>

#include "dns/dns.h"
#include "smtpd/smtpd.h"
#include "util/alloc.h"
#include "util/log.h"

const struct dns_hosts *smtpd_hosts(const struct smtpd_settings *cfg)
{
	static struct dns_hosts *hosts;
	if (hosts == NULL)
		hosts = dns_hosts_load(cfg->dns_hosts_file);
	return hosts;
}

struct dns_resolver *smtpd_resolver(const struct smtpd_settings *cfg, const char **error_r)
{
	static bool made;
	static struct dns_resolver *resolver;
	static char *failure;
	if (!made) {
		made = true;
		const struct conf *conf = cfg->conf;
		struct dns_settings ds = {
		    .forwarders = conf_get_list(conf, "dns_forwarders"),
		    .hosts_file = conf_get(conf, "dns_hosts_file"),
		    .trust_anchor_file = conf_get(conf, "dns_trust_anchor_file"),
		};
		const char *error;
		resolver = dns_resolver_new(&ds, &error);
		if (resolver == NULL) {
			failure = xstrdup(error);
			log_warn("DNS unavailable: %s", failure);
		}
	}
	*error_r = failure;
	return resolver;
}

/*
 * smtpd's DNS blocklists (smtpd_dnsbl_sites), as Postfix's
 * reject_rbl_client: at RCPT, once the recipient was accepted (and no
 * access table said OK), an untrusted client's address is looked up,
 * reversed, under every site at once (an A record; RFC 5782). The first
 * site in the list whose answer passes its filter lists the client: the
 * TXT record of the same name gives the reason, and the recipient gets
 *
 *   554 5.7.1 Service unavailable; Client host [ADDR] blocked using SITE; TXT
 *
 * (smtpd_dnsbl_reply_code; a 4NN code makes it 4.7.1). The look-up is
 * done once per session, within smtpd_dnsbl_timeout for all sites
 * together, and its verdict kept for the session's later recipients and
 * transactions. DNS trouble never refuses mail: the site is named in a
 * warning and counts as not listing the client.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"
#include "dns/dnsbl.h"
#include "smtpd/smtpd.h"
#include "util/alloc.h"
#include "util/event.h"
#include "util/log.h"

/* Set up at the first look-up and kept for the process's sessions. */
static bool loaded;
static struct dnsbl_site *sites;
static size_t site_count;

/* The longest TXT text quoted in a reply. */
#define REASON_MAX 160

static void load(const struct smtpd_settings *cfg)
{
	loaded = true;
	for (size_t i = 0; cfg->dnsbl_sites && cfg->dnsbl_sites[i]; i++) {
		struct dnsbl_site site;
		const char *error;
		if (dnsbl_site_parse(cfg->dnsbl_sites[i], &site, &error) != 0) {
			log_warn("smtpd_dnsbl_sites: ignoring \"%s\": %s", cfg->dnsbl_sites[i],
			         error);
			dnsbl_site_free(&site);
			continue;
		}
		sites = xrealloc(sites, (site_count + 1) * sizeof(*sites));
		sites[site_count++] = site;
	}
}

/* The first TXT record's text, made fit for a reply line. */
static void txt_reason(const struct dns_answer *txt, char *out, size_t size)
{
	out[0] = '\0';
	if (txt->status != DNS_FOUND || txt->count == 0 || txt->rrs[0].text == NULL)
		return;
	size_t n = 0;
	for (const char *p = txt->rrs[0].text; *p && n + 1 < size && n < REASON_MAX; p++) {
		unsigned char c = (unsigned char)*p;
		out[n++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	out[n] = '\0';
}

/* The index of the first site whose answer lists the client, or
 * site_count; DNS trouble is logged and counts as not listed. */
static size_t first_listing(struct session *s, struct dns_resolver *resolver, char **names)
{
	struct dns_answer *answers = xcalloc(site_count, sizeof(*answers));
	dns_lookup_many(resolver, (const char *const *)names, site_count, DNS_TYPE_A,
	                (int)s->cfg->dnsbl_timeout_ms, answers);
	size_t listing = site_count;
	for (size_t i = 0; i < site_count && listing == site_count; i++) {
		const struct dns_answer *a = &answers[i];
		if (a->status == DNS_TEMPFAIL)
			log_warn("%s: DNS blocklist %s not checked: lookup of %s failed: %s",
			         session_client(s), sites[i].domain, names[i],
			         a->error ? a->error : "temporary failure");
		for (size_t r = 0; r < a->count && listing == site_count; r++)
			if (a->rrs[r].data_len == 4 && dnsbl_site_match(&sites[i], a->rrs[r].data))
				listing = i;
	}
	for (size_t i = 0; i < site_count; i++)
		dns_answer_free(&answers[i]);
	free(answers);
	return listing;
}

/* Look the client up under every site; a listing site's refusal text goes
 * to s->dnsbl_refusal. */
static void lookup(struct session *s)
{
	char **names = xcalloc(site_count, sizeof(*names));
	bool ip_client = true;
	for (size_t i = 0; i < site_count && ip_client; i++) {
		names[i] = dns_reverse_name_under(s->client_addr, sites[i].domain);
		ip_client = names[i] != NULL; /* not for a UNIX-socket client */
	}
	const char *resolver_error;
	struct dns_resolver *resolver = ip_client ? smtpd_resolver(s->cfg, &resolver_error) : NULL;
	if (ip_client && resolver == NULL) {
		for (size_t i = 0; i < site_count; i++)
			log_warn("%s: DNS blocklist %s not checked: %s", session_client(s),
			         sites[i].domain, resolver_error);
	} else if (ip_client) {
		int64_t deadline = event_now_ms() + s->cfg->dnsbl_timeout_ms;
		size_t listing = first_listing(s, resolver, names);
		char reason[REASON_MAX + 1] = "";
		int64_t left = deadline - event_now_ms();
		if (listing < site_count && left > 0) {
			struct dns_answer txt;
			dns_lookup(resolver, names[listing], DNS_TYPE_TXT, (int)left, &txt);
			txt_reason(&txt, reason, sizeof(reason));
			dns_answer_free(&txt);
		}
		if (listing < site_count)
			snprintf(s->dnsbl_refusal, sizeof(s->dnsbl_refusal),
			         "Service unavailable; Client host [%s] blocked using %s%s%s",
			         s->client_addr, sites[listing].domain, reason[0] ? "; " : "",
			         reason);
	}
	for (size_t i = 0; i < site_count; i++)
		free(names[i]);
	free(names);
}

int dnsbl_check_rcpt(struct session *s)
{
	const struct smtpd_settings *cfg = s->cfg;
	if (cfg->dnsbl_sites == NULL || cfg->dnsbl_sites[0] == NULL || policy_client_trusted(s))
		return 0;
	if (!loaded)
		load(cfg);
	if (site_count == 0)
		return 0;
	if (!s->dnsbl_checked) {
		s->dnsbl_checked = true;
		lookup(s);
	}
	if (s->dnsbl_refusal[0] == '\0')
		return 0;
	int code = (int)cfg->dnsbl_reply_code;
	reply(s, code, code >= 500 ? "5.7.1" : "4.7.1", "%s", s->dnsbl_refusal);
	return -1;
}

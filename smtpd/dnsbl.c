/*
 * smtpd's DNS blocklists (smtpd_dnsbl_sites), as Postfix's
 * reject_rbl_client: at RCPT, once the recipient was accepted (and no
 * access table said OK), an untrusted client's address is looked up,
 * reversed, under every site at once (an A record; RFC 5782). The first
 * site in the list whose answer passes its filter lists the client: the
 * TXT record of the same name gives the reason, and the recipient gets,
 * by default_rbl_reply or rbl_reply_maps (rbl_reply.c),
 *
 *   554 5.7.1 Service unavailable; Client host [ADDR] blocked using SITE; TXT
 *
 * (smtpd_dnsbl_reply_code; a 4NN code makes it 4.7.1). The look-up is
 * done once per session, within smtpd_dnsbl_timeout for all sites
 * together, and its verdict kept for the session's later recipients and
 * transactions; the refusal is made at each recipient, as its reply may
 * name the recipient (rbl_reply.c). DNS trouble never refuses mail: the
 * site is named in a warning and counts as not listing the client.
 *
 * The smtpd_blocklist_* helpers here (site lists, look-ups, the TXT
 * reason) are shared with the domain blocklists (rhsbl.c).
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

size_t smtpd_blocklist_load(struct smtpd_blocklist *list, char *const *entries)
{
	if (list->loaded)
		return list->count;
	list->loaded = true;
	for (size_t i = 0; entries && entries[i]; i++) {
		struct dnsbl_site site;
		const char *error;
		if (dnsbl_site_parse(entries[i], &site, &error) != 0) {
			log_warn("%s: ignoring \"%s\": %s", list->param, entries[i], error);
			dnsbl_site_free(&site);
			continue;
		}
		list->sites = xrealloc(list->sites, (list->count + 1) * sizeof(*list->sites));
		list->sites[list->count++] = site;
	}
	return list->count;
}

struct dns_resolver *smtpd_blocklist_resolver(struct session *s,
                                              const struct smtpd_blocklist_query *queries,
                                              size_t count)
{
	const char *error;
	struct dns_resolver *resolver = smtpd_resolver(s->cfg, &error);
	if (resolver == NULL)
		for (size_t i = 0; i < count; i++)
			log_warn("%s: DNS blocklist %s not checked: %s", session_client(s),
			         queries[i].site->domain, error);
	return resolver;
}

void smtpd_blocklist_lookup(struct session *s, struct dns_resolver *resolver,
                            struct smtpd_blocklist_query *queries, size_t count, int64_t deadline)
{
	if (count == 0)
		return;
	const char **names = xcalloc(count, sizeof(*names));
	struct dns_answer *answers = xcalloc(count, sizeof(*answers));
	for (size_t i = 0; i < count; i++)
		names[i] = queries[i].name;
	int64_t left = deadline - event_now_ms();
	dns_lookup_many(resolver, names, count, DNS_TYPE_A, left > 0 ? (int)left : 0, answers);
	for (size_t i = 0; i < count; i++) {
		const struct dns_answer *a = &answers[i];
		struct smtpd_blocklist_query *q = &queries[i];
		q->listed = false;
		if (a->status == DNS_TEMPFAIL)
			log_warn("%s: DNS blocklist %s not checked: lookup of %s failed: %s",
			         session_client(s), q->site->domain, q->name,
			         a->error ? a->error : "temporary failure");
		for (size_t r = 0; r < a->count && !q->listed; r++)
			q->listed =
			    a->rrs[r].data_len == 4 && dnsbl_site_match(q->site, a->rrs[r].data);
		dns_answer_free(&answers[i]);
	}
	free(answers);
	free(names);
}

void smtpd_blocklist_reason(struct dns_resolver *resolver, const char *name, int64_t deadline,
                            char out[SMTPD_BLOCKLIST_REASON_MAX + 1])
{
	out[0] = '\0';
	int64_t left = deadline - event_now_ms();
	if (left <= 0)
		return;
	struct dns_answer txt;
	dns_lookup(resolver, name, DNS_TYPE_TXT, (int)left, &txt);
	if (txt.status == DNS_FOUND && txt.count > 0 && txt.rrs[0].text != NULL) {
		size_t n = 0;
		for (const char *p = txt.rrs[0].text; *p && n < SMTPD_BLOCKLIST_REASON_MAX; p++) {
			unsigned char c = (unsigned char)*p;
			out[n++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
		}
		out[n] = '\0';
	}
	dns_answer_free(&txt);
}

static struct smtpd_blocklist dnsbl_sites = {.param = "smtpd_dnsbl_sites"};

/* Look the client up under every site; the first listing site's listing
 * goes to s->dnsbl_listing. */
static void lookup(struct session *s)
{
	size_t count = dnsbl_sites.count;
	struct smtpd_blocklist_query *queries = xcalloc(count, sizeof(*queries));
	bool ip_client = true;
	for (size_t i = 0; i < count && ip_client; i++) {
		queries[i].site = &dnsbl_sites.sites[i];
		queries[i].name =
		    dns_reverse_name_under(s->client_addr, dnsbl_sites.sites[i].domain);
		ip_client = queries[i].name != NULL; /* not for a UNIX-socket client */
	}
	struct dns_resolver *resolver =
	    ip_client ? smtpd_blocklist_resolver(s, queries, count) : NULL;
	if (resolver != NULL) {
		int64_t deadline = event_now_ms() + s->cfg->dnsbl_timeout_ms;
		smtpd_blocklist_lookup(s, resolver, queries, count, deadline);
		size_t listing = 0;
		while (listing < count && !queries[listing].listed)
			listing++;
		if (listing < count) {
			struct blocklist_listing *l = &s->dnsbl_listing;
			l->class = "Client host";
			snprintf(l->domain, sizeof(l->domain), "%s", queries[listing].site->domain);
			snprintf(l->what, sizeof(l->what), "%s", s->client_addr);
			smtpd_blocklist_reason(resolver, queries[listing].name, deadline,
			                       l->reason);
		}
	}
	for (size_t i = 0; i < count; i++)
		free(queries[i].name);
	free(queries);
}

int dnsbl_check_rcpt(struct session *s, const char *address)
{
	const struct smtpd_settings *cfg = s->cfg;
	if (cfg->dnsbl_sites == NULL || cfg->dnsbl_sites[0] == NULL || policy_client_trusted(s))
		return 0;
	if (smtpd_blocklist_load(&dnsbl_sites, cfg->dnsbl_sites) == 0)
		return 0;
	if (!s->dnsbl_checked) {
		s->dnsbl_checked = true;
		lookup(s);
	}
	if (s->dnsbl_listing.domain[0] != '\0')
		return smtpd_blocklist_refuse(s, &s->dnsbl_listing, address);
	return 0;
}

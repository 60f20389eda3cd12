/*
 * smtpd's domain blocklists (RHSBL, RFC 5782 section 2.2, such as
 * Spamhaus DBL), as Postfix's reject_rhsbl_* restrictions. Each list is a
 * parameter of its own, with the sites of smtpd_dnsbl_sites' syntax
 * (DOMAIN or DOMAIN=FILTER), and looks up one name:
 *
 *   smtpd_rhsbl_client_sites          the client's verified name
 *   smtpd_rhsbl_reverse_client_sites  its PTR name, verified or not
 *   smtpd_rhsbl_helo_sites            the HELO name
 *   smtpd_rhsbl_sender_sites          the sender address's domain
 *   smtpd_rhsbl_recipient_sites       the recipient address's domain
 *
 * At RCPT, after the DNS blocklists (and only when no access table said
 * OK; trusted clients never), NAME.SITE is looked up as an A record, the
 * domain itself, not reversed; an answer that passes the site's filter
 * lists the name, and the TXT record of the same name gives the reason,
 * by default_rbl_reply or rbl_reply_maps (rbl_reply.c):
 *
 *   554 5.7.1 Service unavailable; Sender address [ADDR] blocked using SITE; TXT
 *
 * with "Client host [NAME]", "Unverified Client host [NAME]", "Helo
 * command [NAME]" or "Recipient address [ADDR]" for the other lists, in
 * Postfix's words ($rbl_class; smtpd_dnsbl_reply_code, and a 4NN code
 * makes it 4.7.1). Before them all, the DNS blocklists' verdict on the
 * client (dnsbl.c) is refused here, as this check has the recipient.
 * The lists are checked in the order above; the first one listing its
 * name decides. Names that are "unknown", address literals, the null
 * sender and names without a dot are not looked up.
 *
 * All the look-ups one RCPT needs go out together, within
 * smtpd_dnsbl_timeout. The verdicts on the client's names and the HELO
 * name are kept for the session (the HELO name's until the next
 * HELO/EHLO), the sender's for the transaction; the recipient's is for
 * that recipient. DNS trouble never refuses mail: the site is named in a
 * warning and counts as not listing the name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dnsbl.h"
#include "smtpd/smtpd.h"
#include "util/alloc.h"
#include "util/event.h"

enum rhsbl_kind {
	RHSBL_CLIENT,
	RHSBL_REVERSE_CLIENT,
	RHSBL_HELO,
	RHSBL_SENDER,
	RHSBL_RECIPIENT,
	RHSBL_KINDS
};

/* The lists, in the order they are checked; the reply names what was
 * looked up as Postfix's does. */
static struct smtpd_blocklist lists[RHSBL_KINDS] = {
    [RHSBL_CLIENT] = {.param = "smtpd_rhsbl_client_sites"},
    [RHSBL_REVERSE_CLIENT] = {.param = "smtpd_rhsbl_reverse_client_sites"},
    [RHSBL_HELO] = {.param = "smtpd_rhsbl_helo_sites"},
    [RHSBL_SENDER] = {.param = "smtpd_rhsbl_sender_sites"},
    [RHSBL_RECIPIENT] = {.param = "smtpd_rhsbl_recipient_sites"},
};
static const char *const reply_what[RHSBL_KINDS] = {
    [RHSBL_CLIENT] = "Client host",          [RHSBL_REVERSE_CLIENT] = "Unverified Client host",
    [RHSBL_HELO] = "Helo command",           [RHSBL_SENDER] = "Sender address",
    [RHSBL_RECIPIENT] = "Recipient address",
};

/* One list's check for this RCPT: what the reply shows, the domain looked
 * up (NULL: nothing to look up), where its verdict is kept (NULL: the
 * recipient's, kept nowhere), and its queries among all of them. */
struct check {
	const char *shown;
	const char *domain;
	struct rhsbl_verdict *verdict;
	size_t first, count;
};

static char *const *entries(const struct smtpd_settings *cfg, enum rhsbl_kind kind)
{
	switch (kind) {
	case RHSBL_CLIENT:
		return cfg->rhsbl_client_sites;
	case RHSBL_REVERSE_CLIENT:
		return cfg->rhsbl_reverse_client_sites;
	case RHSBL_HELO:
		return cfg->rhsbl_helo_sites;
	case RHSBL_SENDER:
		return cfg->rhsbl_sender_sites;
	case RHSBL_RECIPIENT:
	case RHSBL_KINDS:
		break;
	}
	return cfg->rhsbl_recipient_sites;
}

/* What each list looks up in this session, for this recipient. */
static void name_checks(struct session *s, const char *address, const char *domain,
                        struct check checks[RHSBL_KINDS])
{
	const char *sender = s->env.sender ? s->env.sender : "";
	const char *at = strrchr(sender, '@');
	checks[RHSBL_CLIENT] = (struct check){
	    .shown = s->client_name, .domain = s->client_name, .verdict = &s->rhsbl_client};
	checks[RHSBL_REVERSE_CLIENT] = (struct check){.shown = s->reverse_name,
	                                              .domain = s->reverse_name,
	                                              .verdict = &s->rhsbl_reverse_client};
	checks[RHSBL_HELO] =
	    (struct check){.shown = s->helo, .domain = s->helo, .verdict = &s->rhsbl_helo};
	checks[RHSBL_SENDER] = (struct check){
	    .shown = sender, .domain = at && *sender ? at + 1 : NULL, .verdict = &s->rhsbl_sender};
	checks[RHSBL_RECIPIENT] = (struct check){.shown = address, .domain = domain};
}

/* The listing of check c by query q, whose TXT record is asked for
 * within the deadline. */
static void listing_of(struct dns_resolver *resolver, const struct check *c, enum rhsbl_kind kind,
                       const struct smtpd_blocklist_query *q, int64_t deadline,
                       struct blocklist_listing *l)
{
	l->class = reply_what[kind];
	snprintf(l->domain, sizeof(l->domain), "%s", q->site->domain);
	snprintf(l->what, sizeof(l->what), "%s", c->shown);
	smtpd_blocklist_reason(resolver, q->name, deadline, l->reason);
}

/* Look up every check without a verdict, all at once, up to the first
 * one whose kept verdict refuses; then, in the lists' order, keep the
 * verdicts up to the first listing (later ones are moot) and send its
 * refusal. */
static int look_up(struct session *s, struct check checks[RHSBL_KINDS], const char *address)
{
	int stop = 0;
	while (stop < RHSBL_KINDS && !(checks[stop].verdict && checks[stop].verdict->checked &&
	                               checks[stop].verdict->listing.domain[0] != '\0'))
		stop++;
	size_t total = 0;
	for (int k = 0; k < stop; k++)
		total += lists[k].count;
	struct smtpd_blocklist_query *queries = xcalloc(total ? total : 1, sizeof(*queries));
	size_t count = 0;
	for (int k = 0; k < stop; k++) {
		struct check *c = &checks[k];
		c->first = count;
		if (c->domain == NULL || (c->verdict && c->verdict->checked))
			continue;
		for (size_t i = 0; i < lists[k].count; i++) {
			const struct dnsbl_site *site = &lists[k].sites[i];
			char *name = dnsbl_domain_name_under(c->domain, site->domain);
			if (name != NULL)
				queries[count++] =
				    (struct smtpd_blocklist_query){.site = site, .name = name};
		}
		c->count = count - c->first;
	}
	struct dns_resolver *resolver =
	    count > 0 ? smtpd_blocklist_resolver(s, queries, count) : NULL;
	int64_t deadline = event_now_ms() + s->cfg->dnsbl_timeout_ms;
	if (resolver != NULL)
		smtpd_blocklist_lookup(s, resolver, queries, count, deadline);
	int rc = 0;
	for (int k = 0; k < RHSBL_KINDS && rc == 0; k++) {
		struct check *c = &checks[k];
		struct rhsbl_verdict *v = c->verdict;
		if (v != NULL && v->checked) {
			if (v->listing.domain[0] != '\0')
				rc = smtpd_blocklist_refuse(s, &v->listing, address);
			continue;
		}
		const struct smtpd_blocklist_query *listing = NULL;
		for (size_t i = c->first; i < c->first + c->count && listing == NULL; i++)
			if (queries[i].listed)
				listing = &queries[i];
		struct blocklist_listing found = {.class = reply_what[k]};
		if (listing != NULL)
			listing_of(resolver, c, (enum rhsbl_kind)k, listing, deadline, &found);
		if (v != NULL) {
			v->checked = true;
			v->listing = found;
		}
		if (listing != NULL)
			rc = smtpd_blocklist_refuse(s, &found, address);
	}
	for (size_t i = 0; i < count; i++)
		free(queries[i].name);
	free(queries);
	return rc;
}

int rhsbl_check_rcpt(struct session *s, const char *address, const char *domain)
{
	const struct smtpd_settings *cfg = s->cfg;
	if (policy_client_trusted(s))
		return 0;
	bool configured = false;
	for (int k = 0; k < RHSBL_KINDS; k++) {
		char *const *list = entries(cfg, (enum rhsbl_kind)k);
		configured |= list != NULL && list[0] != NULL;
	}
	if (!configured)
		return 0;
	size_t sites = 0;
	for (int k = 0; k < RHSBL_KINDS; k++)
		sites += smtpd_blocklist_load(&lists[k], entries(cfg, (enum rhsbl_kind)k));
	if (sites == 0)
		return 0;
	struct check checks[RHSBL_KINDS];
	name_checks(s, address, domain, checks);
	return look_up(s, checks, address);
}

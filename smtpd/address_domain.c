/*
 * Address domains and the HELO name must exist in the DNS, as Postfix's
 * reject_unknown_sender_domain, reject_unknown_recipient_domain and
 * reject_unknown_helo_hostname: at
 * RCPT (after the recipient and the access tables, unless one said OK),
 * a domain must have an MX record, or else an A or AAAA record.
 *
 * The sender (smtpd_reject_unknown_sender_domain; the null sender and
 * trusted clients are not checked; the verdict is kept for the
 * transaction's later recipients):
 *   no such domain, or no MX/A/AAAA   unknown_address_reject_code 5.1.8
 *                                     (450 4.1.8 by default, as Postfix)
 *   a null MX (RFC 7505)              550 5.7.27 ... does not accept mail
 *   DNS trouble                       450 4.1.8 (never a permanent refusal)
 *
 * The HELO name (smtpd_reject_unknown_helo_hostname; address literals and
 * trusted clients are not checked; the verdict is kept for the session):
 *   no such name, or no MX/A/AAAA     unknown_hostname_reject_code 4.7.1
 *                                     (450 by default, as Postfix)
 *   DNS trouble                       450 4.7.1
 *
 * The recipient (smtpd_reject_unknown_recipient_domain), when its domain
 * is not one of ours (local, virtual mailbox or virtual alias), whoever
 * the client (it catches a user's typing mistake before the mail leaves):
 *   no such domain, or no MX/A/AAAA   unknown_address_reject_code 4.1.2
 *   a null MX                         556 5.1.10 ... does not accept mail
 *   DNS trouble                       450 4.1.2
 */
#include <stdio.h>
#include <string.h>

#include "dns/dns.h"
#include "mail/virtual_alias.h"
#include "smtpd/smtpd.h"
#include "util/log.h"

enum domain_verdict { DOMAIN_OK, DOMAIN_UNKNOWN, DOMAIN_NULL_MX, DOMAIN_TEMPFAIL };

static bool null_mx(const struct dns_answer *mx)
{
	return mx->count == 1 && mx->rrs[0].name && strcmp(mx->rrs[0].name, ".") == 0;
}

/* MX, then A, then AAAA (each within the per-query time limit); what
 * names the domain's role in a warning ("sender", "recipient"). */
static enum domain_verdict look_up(struct session *s, const char *what, const char *domain)
{
	const char *error;
	struct dns_resolver *r = smtpd_resolver(s->cfg, &error);
	if (r == NULL) {
		log_warn("%s: %s domain %s not checked: %s", session_client(s), what, domain,
		         error);
		return DOMAIN_TEMPFAIL;
	}
	int timeout_ms = (int)s->cfg->dns_timeout_ms;
	static const int types[] = {DNS_TYPE_MX, DNS_TYPE_A, DNS_TYPE_AAAA};
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		struct dns_answer a;
		dns_lookup(r, domain, types[i], timeout_ms, &a);
		enum dns_status status = a.status;
		bool nothing = types[i] == DNS_TYPE_MX && status == DNS_FOUND && null_mx(&a);
		if (status == DNS_TEMPFAIL)
			log_warn("%s: %s domain %s: %s lookup failed: %s", session_client(s), what,
			         domain,
			         i == 0   ? "MX"
			         : i == 1 ? "A"
			                  : "AAAA",
			         a.error ? a.error : "temporary failure");
		dns_answer_free(&a);
		if (nothing)
			return DOMAIN_NULL_MX;
		if (status == DNS_FOUND)
			return DOMAIN_OK;
		if (status == DNS_TEMPFAIL)
			return DOMAIN_TEMPFAIL;
		if (status == DNS_NXDOMAIN)
			return DOMAIN_UNKNOWN;
	}
	return DOMAIN_UNKNOWN; /* the name exists, with no MX, A or AAAA */
}

int sender_domain_check_rcpt(struct session *s)
{
	const struct smtpd_settings *cfg = s->cfg;
	const char *sender = s->env.sender;
	const char *at = strrchr(sender, '@');
	if (!cfg->reject_unknown_sender_domain || *sender == '\0' || at == NULL || at[1] == '\0' ||
	    at[1] == '[' || policy_client_trusted(s))
		return 0;
	if (s->sender_domain_verdict == 0)
		s->sender_domain_verdict = (int)look_up(s, "sender", at + 1) + 1;
	switch ((enum domain_verdict)(s->sender_domain_verdict - 1)) {
	case DOMAIN_OK:
		return 0;
	case DOMAIN_NULL_MX:
		reply(s, 550, "5.7.27",
		      "<%.254s>: Sender address rejected: Domain %.254s does not accept mail "
		      "(nullMX)",
		      sender, at + 1);
		return -1;
	case DOMAIN_UNKNOWN: {
		int code = (int)cfg->unknown_address_reject_code;
		reply(s, code, code >= 500 ? "5.1.8" : "4.1.8",
		      "<%.254s>: Sender address rejected: Domain not found", sender);
		return -1;
	}
	case DOMAIN_TEMPFAIL:
		break;
	}
	/* As Postfix: try again later, whatever unknown_address_reject_code says. */
	reply(s, 450, "4.1.8", "<%.254s>: Sender address rejected: Domain not found", sender);
	return -1;
}

/* The domain is one of ours: mail for it is never sent on. */
int smtpd_final_destination(const struct smtpd_settings *cfg, const char *domain)
{
	if (policy_is_local_domain(cfg, domain) ||
	    str_list_contains_nocase(cfg->virtual_domains, domain))
		return 1;
	const char *error;
	int rc = virtual_alias_is_domain(cfg->virtual_alias, domain, &error);
	if (rc < 0)
		log_warn("recipient domain %s: %s", domain, error);
	return rc;
}

int recipient_domain_check_rcpt(struct session *s, const char *address, const char *domain)
{
	const struct smtpd_settings *cfg = s->cfg;
	if (!cfg->reject_unknown_recipient_domain || domain == NULL || *domain == '\0' ||
	    *domain == '[')
		return 0;
	int ours = smtpd_final_destination(cfg, domain);
	if (ours == 1)
		return 0;
	enum domain_verdict v = ours == 0 ? look_up(s, "recipient", domain) : DOMAIN_TEMPFAIL;
	switch (v) {
	case DOMAIN_OK:
		return 0;
	case DOMAIN_NULL_MX:
		reply(s, 556, "5.1.10",
		      "<%.254s>: Recipient address rejected: Domain %.254s does not accept mail "
		      "(nullMX)",
		      address, domain);
		return -1;
	case DOMAIN_UNKNOWN: {
		int code = (int)cfg->unknown_address_reject_code;
		reply(s, code, code >= 500 ? "5.1.2" : "4.1.2",
		      "<%.254s>: Recipient address rejected: Domain not found", address);
		return -1;
	}
	case DOMAIN_TEMPFAIL:
		break;
	}
	reply(s, 450, "4.1.2", "<%.254s>: Recipient address rejected: Domain not found", address);
	return -1;
}

int helo_domain_check_rcpt(struct session *s)
{
	const struct smtpd_settings *cfg = s->cfg;
	const char *helo = s->helo;
	if (!cfg->reject_unknown_helo || helo == NULL || *helo == '\0' || *helo == '[' ||
	    policy_client_trusted(s))
		return 0;
	if (s->helo_verdict == 0)
		s->helo_verdict = (int)look_up(s, "HELO", helo) + 1;
	switch ((enum domain_verdict)(s->helo_verdict - 1)) {
	case DOMAIN_OK:
	case DOMAIN_NULL_MX: /* the name exists, with an MX record */
		return 0;
	case DOMAIN_UNKNOWN: {
		int code = (int)cfg->unknown_hostname_reject_code;
		reply(s, code, code >= 500 ? "5.7.1" : "4.7.1",
		      "<%.254s>: Helo command rejected: Host not found", helo);
		return -1;
	}
	case DOMAIN_TEMPFAIL:
		break;
	}
	reply(s, 450, "4.7.1", "<%.254s>: Helo command rejected: Host not found", helo);
	return -1;
}

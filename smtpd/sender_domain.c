/*
 * The sender's domain must be able to receive mail (replies, bounces), as
 * Postfix's reject_unknown_sender_domain: with
 * smtpd_reject_unknown_sender_domain = yes, at RCPT (after the recipient
 * and the access tables, unless one said OK), the domain of an untrusted
 * client's sender must have an MX record, or else an A or AAAA record.
 *
 *   no such domain, or no MX/A/AAAA   unknown_address_reject_code 5.1.8
 *                                     (450 4.1.8 by default, as Postfix)
 *   a null MX (RFC 7505)              550 5.7.27 ... does not accept mail
 *   DNS trouble                       450 4.1.8 (never a permanent refusal)
 *
 * The null sender and trusted clients (mynetworks, authenticated) are not
 * checked. The verdict is kept for the transaction's later recipients.
 */
#include <stdio.h>
#include <string.h>

#include "dns/dns.h"
#include "smtpd/smtpd.h"
#include "util/log.h"

enum domain_verdict { DOMAIN_OK, DOMAIN_UNKNOWN, DOMAIN_NULL_MX, DOMAIN_TEMPFAIL };

static bool null_mx(const struct dns_answer *mx)
{
	return mx->count == 1 && mx->rrs[0].name && strcmp(mx->rrs[0].name, ".") == 0;
}

/* MX, then A, then AAAA (each within the per-query time limit). */
static enum domain_verdict look_up(struct session *s, struct dns_resolver *r, const char *domain)
{
	int timeout_ms = (int)s->cfg->dns_timeout_ms;
	static const int types[] = {DNS_TYPE_MX, DNS_TYPE_A, DNS_TYPE_AAAA};
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		struct dns_answer a;
		dns_lookup(r, domain, types[i], timeout_ms, &a);
		enum dns_status status = a.status;
		bool nothing = types[i] == DNS_TYPE_MX && status == DNS_FOUND && null_mx(&a);
		if (status == DNS_TEMPFAIL)
			log_warn("%s: sender domain %s: %s lookup failed: %s", session_client(s),
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
	if (s->sender_domain_verdict == 0) {
		const char *error;
		struct dns_resolver *r = smtpd_resolver(cfg, &error);
		enum domain_verdict v = DOMAIN_TEMPFAIL;
		if (r != NULL)
			v = look_up(s, r, at + 1);
		else
			log_warn("%s: sender domain %s not checked: %s", session_client(s), at + 1,
			         error);
		s->sender_domain_verdict = (int)v + 1;
	}
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

/*
 * The forms of names, as Postfix's reject_invalid_helo_hostname,
 * reject_non_fqdn_helo_hostname, reject_non_fqdn_sender and
 * reject_non_fqdn_recipient, each turned on by its smtpd_reject_...
 * parameter and checked at RCPT (after the sender's owner):
 *
 *   HELO name   a host name (LDH labels, '_' allowed, not all-numeric) or
 *               an address literal, else invalid_hostname_reject_code
 *               (501) 5.5.2; and with a dot, else non_fqdn_reject_code
 *               (504) 5.5.2. Clients in mynetworks and logged-in clients
 *               are not checked (Postfix admins put permit_mynetworks and
 *               permit_sasl_authenticated before these); nor is a session
 *               without HELO.
 *   addresses   the sender's and the recipient's domain must have a dot
 *               or be an address literal (non_fqdn_reject_code 5.5.2),
 *               for every client: a script that sends as user@localhost
 *               is what these catch. The null sender and <Postmaster> are
 *               not checked.
 */
#include <string.h>

#include "smtp/address.h"
#include "smtp/smtp_command.h"
#include "smtpd/smtpd.h"

/* A domain as the queue has it (no trailing dot): an address literal or
 * a name with a dot. */
static bool domain_is_fqdn(const char *domain)
{
	return domain[0] == '[' || (strchr(domain, '.') != NULL && domain[0] != '.');
}

/* "X.5.2" for the class of code, as Postfix gives these replies. */
static const char *enhanced_for(long long code)
{
	return code / 100 == 4 ? "4.5.2" : "5.5.2";
}

static int helo_check(struct session *s)
{
	const struct smtpd_settings *cfg = s->cfg;
	const char *helo = s->helo;
	if (helo == NULL || policy_client_trusted(s))
		return 0;
	if (cfg->reject_invalid_helo && !helo_syntax_ok(helo, strlen(helo), true)) {
		reply(s, (int)cfg->invalid_hostname_reject_code,
		      enhanced_for(cfg->invalid_hostname_reject_code),
		      "<%.254s>: Helo command rejected: Invalid name", helo);
		return -1;
	}
	if (cfg->reject_non_fqdn_helo && !domain_is_fqdn(helo)) {
		reply(s, (int)cfg->non_fqdn_reject_code, enhanced_for(cfg->non_fqdn_reject_code),
		      "<%.254s>: Helo command rejected: need fully-qualified hostname", helo);
		return -1;
	}
	return 0;
}

int fqdn_check_rcpt(struct session *s, const struct smtp_rcpt_params *p)
{
	const struct smtpd_settings *cfg = s->cfg;
	if (helo_check(s) != 0)
		return -1;
	const char *sender = s->env.sender;
	const char *at = strrchr(sender, '@');
	if (cfg->reject_non_fqdn_sender && *sender != '\0' && (!at || !domain_is_fqdn(at + 1))) {
		reply(s, (int)cfg->non_fqdn_reject_code, enhanced_for(cfg->non_fqdn_reject_code),
		      "<%.254s>: Sender address rejected: need fully-qualified address", sender);
		return -1;
	}
	if (cfg->reject_non_fqdn_recipient && !p->postmaster && !domain_is_fqdn(p->addr.domain)) {
		reply(s, (int)cfg->non_fqdn_reject_code, enhanced_for(cfg->non_fqdn_reject_code),
		      "<%.254s>: Recipient address rejected: need fully-qualified address",
		      p->address);
		return -1;
	}
	return 0;
}

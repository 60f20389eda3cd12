/*
 * smtpd's mail transaction: MAIL (its checks and parameters, the
 * milters' and the proxy filter's say), RCPT (the recipient limit and
 * the chain of recipient checks, in Postfix's order), forgetting the
 * transaction (RSET, a new EHLO, STARTTLS, the end of a message), and
 * VRFY, which asks RCPT's local policy about an address.
 */
#include <stdlib.h>
#include <string.h>

#include "smtp/address.h"
#include "smtp/smtp_command.h"
#include "smtpd/smtpd.h"
#include "util/alloc.h"
#include "util/log.h"

/* Forget the transaction and what came with it (a new MAIL starts clean;
 * what XFORWARD said before it stays). */
static void transaction_clear(struct session *s)
{
	if (s->bdat)
		data_abort_bdat(s);
	proxy_filter_close(s);
	smtpd_milter_abort(s);
	s->queue_id[0] = '\0';
	queue_envelope_free(&s->env);
	queue_envelope_init(&s->env);
	s->sender_domain_verdict = 0;
	s->rhsbl_sender.checked = false;
	s->sender_verify_found = 0;
	free(s->sender_verify_reason);
	s->sender_verify_reason = NULL;
	s->in_transaction = false;
	s->declared_size = 0;
	s->rejected_rcpts = 0;
	s->rcpt_overshoot = 0;
	free(s->mail_auth);
	s->mail_auth = NULL;
	free(s->access_discard);
	s->access_discard = NULL;
	free(s->access_redirect);
	s->access_redirect = NULL;
	free(s->access_bcc);
	s->access_bcc = NULL;
	s->envelope_stale = false;
	str_free(&s->prepend);
	access_deferrals_clear(s);
	s->policy_instance[0] = '\0';
}

void session_reset_transaction(struct session *s)
{
	transaction_clear(s);
	/* As Postfix's mail_reset(): XFORWARD attributes are per transaction. */
	xforward_reset(s);
}

static bool must_use_tls(const struct session *s)
{
	return s->cfg->tls_level == TLS_ENCRYPT && s->tls == NULL;
}

void cmd_mail(struct session *s, const char *arg)
{
	if (s->cfg->helo_required && s->helo == NULL) {
		reply(s, 503, "5.5.1", "Error: send HELO/EHLO first");
		session_error(s);
		return;
	}
	if (must_use_tls(s)) {
		reply(s, 530, "5.7.0", "Must issue a STARTTLS command first");
		session_log_reject(s, "MAIL", NULL, NULL);
		session_error(s);
		return;
	}
	if (s->cfg->auth_required && s->auth_user == NULL) {
		reply(s, 530, "5.7.0", "Authentication required");
		session_log_reject(s, "MAIL", NULL, NULL);
		session_error(s);
		return;
	}
	if (s->in_transaction) {
		reply(s, 503, "5.5.1", "Error: nested MAIL command");
		session_error(s);
		return;
	}
	struct smtp_mail_params p;
	struct smtp_reply err;
	if (smtp_parse_mail_from_envelope(arg, s->cfg->strict_envelopes, &p, &err) != 0) {
		reply(s, err.code, err.enhanced, "%s", err.text);
		session_log_reject(s, "MAIL", NULL, err.detail);
		session_error(s);
		return;
	}
	if (!s->esmtp && smtp_mail_params_has_extensions(&p)) {
		reply(s, 555, "5.5.4", "Error: MAIL parameters need EHLO");
		session_log_reject(s, "MAIL", NULL, NULL);
		smtp_mail_params_free(&p);
		session_error(s);
		return;
	}
	if (p.size > 0 && s->cfg->message_size_limit > 0 && p.size > s->cfg->message_size_limit) {
		reply(s, 552, "5.3.4", "Message size exceeds fixed limit");
		session_log_reject(s, "MAIL", NULL, NULL);
		smtp_mail_params_free(&p);
		session_error(s);
		return;
	}
	if (queue_space_refused(s, p.size)) {
		smtp_mail_params_free(&p);
		return;
	}
	if (client_rate_refused(s, CLIENT_EVENT_MESSAGE, s->cfg->message_rate_limit)) {
		smtp_mail_params_free(&p);
		return;
	}
	transaction_clear(s);
	s->in_transaction = true;
	s->env.sender = xstrdup(p.address);
	s->env.smtputf8 = p.smtputf8;
	s->env.body = xstrdup(p.body ? p.body : "");
	s->env.ret = xstrdup(p.ret ? p.ret : "");
	s->env.envid = xstrdup(p.envid ? p.envid : "");
	s->declared_size = p.size;
	s->mail_auth = p.auth ? xstrdup(p.auth) : NULL;
	smtp_mail_params_free(&p);
	/* Milters see the queue id from MAIL FROM on ({i}), as with Postfix;
	 * a proxy filter gets it as XFORWARD IDENT (there is no queue file). */
	if (s->milters || proxy_filter_enabled(s->cfg))
		queue_id_new(s->queue_id);
	if (smtpd_milter_mail(s, arg)) {
		log_info("%s: milter-reject: MAIL from %s: from=<%s> proto=%s helo=<%s>",
		         s->queue_id[0] ? s->queue_id : "NOQUEUE", session_client(s), s->env.sender,
		         session_protocol(s), s->helo ? s->helo : "");
		session_reset_transaction(s);
		return;
	}
	/* smtpd_proxy_filter: the filter's answer is the client's. */
	int proxied = proxy_filter_mail(s);
	if (proxied < 0) {
		session_reset_transaction(s);
		return;
	}
	if (proxied == 0)
		reply(s, 250, "2.1.0", "Ok");
}

void cmd_rcpt(struct session *s, const char *arg)
{
	if (!s->in_transaction) {
		reply(s, 503, "5.5.1", "Error: need MAIL command");
		session_error(s);
		return;
	}
	struct smtp_rcpt_params p;
	struct smtp_reply err;
	if (smtp_parse_rcpt_to_envelope(arg, s->cfg->strict_envelopes, &p, &err) != 0) {
		reply(s, err.code, err.enhanced, "%s", err.text);
		session_log_reject(s, "RCPT", NULL, err.detail);
		session_error(s);
		return;
	}
	if (s->cfg->recipient_limit > 0 &&
	    (long long)s->env.rcpt_count >= s->cfg->recipient_limit) {
		/* As Postfix: the client may go on sending recipients for a later
		 * transaction, but past smtpd_recipient_overshoot_limit each one
		 * counts as an error, so it cannot loop here for ever. */
		reply(s, 452, "4.5.3", "Error: too many recipients");
		session_log_reject(s, "RCPT", p.address, NULL);
		smtp_rcpt_params_free(&p);
		if (++s->rcpt_overshoot > s->cfg->recipient_overshoot_limit)
			session_error(s);
		return;
	}
	if (!s->env.smtputf8 && !address_is_ascii(&p.addr)) {
		reply(s, 553, "5.6.7",
		      "<%s>: Recipient address rejected: non-ASCII address needs SMTPUTF8",
		      p.address);
		session_log_reject(s, "RCPT", p.address, NULL);
		smtp_rcpt_params_free(&p);
		session_error(s);
		return;
	}
	if (!s->esmtp && (p.notify || p.orcpt)) {
		reply(s, 555, "5.5.4", "Error: RCPT parameters need EHLO");
		session_log_reject(s, "RCPT", p.address, NULL);
		smtp_rcpt_params_free(&p);
		session_error(s);
		return;
	}
	if (client_rate_refused(s, CLIENT_EVENT_RECIPIENT, s->cfg->recipient_rate_limit)) {
		smtp_rcpt_params_free(&p);
		return;
	}
	bool access_ok = false;
	access_deferrals_clear(s);
	int rc = sender_login_check_rcpt(s);
	if (rc == 0)
		rc = fqdn_check_rcpt(s, &p);
	if (rc == 0)
		rc = policy_check_rcpt(s, p.address, p.addr.local, p.addr.domain);
	if (rc == 0)
		rc = access_check_rcpt(s, p.address, &access_ok);
	if (rc == 0 && !access_ok)
		rc = client_name_check_rcpt(s);
	if (rc == 0 && !access_ok)
		rc = helo_domain_check_rcpt(s);
	if (rc == 0 && !access_ok)
		rc = sender_domain_check_rcpt(s);
	if (rc == 0 && !access_ok)
		rc = recipient_domain_check_rcpt(s, p.address, p.addr.domain);
	if (rc == 0 && !access_ok)
		rc = dnsbl_check_rcpt(s, p.address);
	if (rc == 0 && !access_ok)
		rc = rhsbl_check_rcpt(s, p.address, p.addr.domain);
	if (rc == 0 && !access_ok)
		rc = policy_service_check_rcpt(s, p.address);
	if (rc == 0 && !access_ok)
		rc = verify_check_rcpt(s, p.address);
	if (rc == 0 && !access_ok)
		rc = verify_check_sender(s);
	if (rc == 0)
		rc = access_deferral_due(s);
	access_deferrals_clear(s);
	if (rc != 0) {
		session_log_reject(s, "RCPT", p.address, NULL);
		s->rejected_rcpts++;
		smtpd_milter_rcpt_rejected(s, p.address, arg);
		smtp_rcpt_params_free(&p);
		session_error(s);
		return;
	}
	if (smtpd_milter_rcpt(s, p.address, arg)) {
		log_info("%s: milter-reject: RCPT from %s: to=<%s> from=<%s> proto=%s helo=<%s>",
		         s->queue_id[0] ? s->queue_id : "NOQUEUE", session_client(s), p.address,
		         s->env.sender, session_protocol(s), s->helo ? s->helo : "");
		s->rejected_rcpts++;
		smtp_rcpt_params_free(&p);
		return;
	}
	int proxied = proxy_filter_rcpt(s, p.address, p.orcpt, p.notify);
	if (proxied < 0) {
		s->rejected_rcpts++;
		smtp_rcpt_params_free(&p);
		session_error(s);
		return;
	}
	queue_envelope_add_rcpt(&s->env, p.address, p.orcpt ? p.orcpt : "",
	                        p.notify ? p.notify : "");
	smtp_rcpt_params_free(&p);
	if (proxied == 0)
		reply(s, 250, "2.1.5", "Ok");
}

void cmd_vrfy(struct session *s, const char *arg)
{
	if (*arg == '\0') {
		reply(s, 501, "5.5.4", "Syntax: VRFY address");
		session_error(s);
		return;
	}
	if (s->cfg->vrfy_disabled) {
		reply(s, 252, "2.0.0",
		      "Cannot VRFY user, but will accept message and attempt delivery");
		return;
	}
	char *text = xstrdup(arg);
	char *addr_text = text;
	size_t len = strlen(addr_text);
	if (len >= 2 && addr_text[0] == '<' && addr_text[len - 1] == '>') {
		addr_text[len - 1] = '\0';
		addr_text++;
	}
	struct address addr;
	const char *error;
	if (address_parse(addr_text, strlen(addr_text), false, &addr, &error) != 0) {
		reply(s, 501, "5.1.3", "<%s>: %s", addr_text, error);
	} else {
		if (policy_check_rcpt(s, addr_text, addr.local, addr.domain) == 0)
			reply(s, 252, "2.0.0", "<%s>", addr_text);
		address_free(&addr);
	}
	free(text);
}

/*
 * Address verification, as Postfix's reject_unverified_recipient and
 * reject_unverified_sender: an address is accepted only once a probe has
 * shown that mail to it would be delivered. A probe is a queue file that
 * qmgr routes like any message and hands to the delivery agent with
 * "verify" (the smtp client goes as far as RCPT TO and no further; local
 * resolves the recipient and writes nothing); qmgr writes each probe's
 * result into the verify cache (lib/mail/verify_cache.h), which smtpd
 * reads here.
 *
 * At RCPT (smtpd_reject_unverified_recipient: each recipient whose domain
 * is not delivered on this host; smtpd_reject_unverified_sender: the
 * sender, once per transaction; neither for mynetworks or authenticated
 * clients, the null sender or address literals):
 *   no entry, or an expired one   a probe is sent; smtpd looks again
 *                                 address_verify_poll_count times,
 *                                 address_verify_poll_delay apart, and
 *                                 answers what it found then
 *   deliverable                   accepted (probed again in the background
 *                                 after address_verify_positive_refresh_time)
 *   undeliverable                 unverified_*_reject_code, 4.1.1 or 5.1.1
 *                                 (4.1.7/5.1.7 for the sender), "undeliverable
 *                                 address: " and the probe's reply
 *   still pending                 unverified_*_defer_code 4.1.1, "unverified
 *                                 address: Address verification in progress"
 *   deferred, or no cache         unverified_*_tempfail_action: defer (the
 *                                 defer code, "unverified address: " and why)
 *                                 or accept
 * Probes go from address_verify_sender (double-bounce@$myorigin by default)
 * and never bounce: nobody hears of them but the cache. With a non-zero
 * address_verify_sender_ttl the sender's local part gets a time stamp, as
 * Postfix's make_verify_sender_addr writes it: the probe's time divided
 * by the TTL, in base 31 with the digits 0-9 and the consonants B-Z, so
 * that next hops cannot whitelist one fixed probe sender (the null sender
 * stays as it is). qmgr routes probes with the address_verify_ routing
 * parameters (qmgr/transport.c). Only one probe per
 * address is sent within VERIFY_PROBE_TTL, however many clients ask.
 * With address_verify_negative_cache = no an undeliverable result answers
 * one RCPT and is removed, so the next look-up probes again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mail/queue.h"
#include "mail/wakeup.h"
#include "smtpd/smtpd.h"
#include "util/alloc.h"
#include "util/log.h"

/* One per process, opened at the first look-up (after the privilege
 * drop, so that the file belongs to mail_owner). */
static struct verify_cache *cache;

static bool tempfail_accepts(const char *action, const char *name)
{
	if (strcmp(action, "dunno") == 0 || strcmp(action, "permit") == 0)
		return true;
	if (strcmp(action, "defer") != 0 && strcmp(action, "defer_if_permit") != 0)
		log_fatal("%s: \"%s\" is not defer_if_permit, defer, dunno or permit", name,
		          action);
	return false;
}

static void setup_kind(struct verify_kind *k, const struct conf *conf, const char *who,
                       bool enabled)
{
	char name[64];
	k->enabled = enabled;
	snprintf(name, sizeof(name), "unverified_%s_reject_code", who);
	k->reject_code = conf_get_int(conf, name);
	if (k->reject_code < 400 || k->reject_code > 599)
		log_fatal("%s must be 4NN or 5NN", name);
	snprintf(name, sizeof(name), "unverified_%s_defer_code", who);
	k->defer_code = conf_get_int(conf, name);
	if (k->defer_code < 400 || k->defer_code > 499)
		log_fatal("%s must be 4NN", name);
	snprintf(name, sizeof(name), "unverified_%s_reject_reason", who);
	k->reject_reason = conf_get(conf, name);
	snprintf(name, sizeof(name), "unverified_%s_tempfail_action", who);
	k->tempfail_accepts = tempfail_accepts(conf_get(conf, name), name);
}

void verify_setup(struct smtpd_settings *c, const struct conf *conf)
{
	struct smtpd_verify_settings *v = &c->verify;
	setup_kind(&v->recipient, conf, "recipient",
	           conf_get_bool(conf, "smtpd_reject_unverified_recipient"));
	setup_kind(&v->sender, conf, "sender",
	           conf_get_bool(conf, "smtpd_reject_unverified_sender"));
	v->map = conf_get(conf, "address_verify_map");
	v->negative_cache = conf_get_bool(conf, "address_verify_negative_cache");
	v->times.positive_expire = conf_get_time(conf, "address_verify_positive_expire_time");
	v->times.positive_refresh = conf_get_time(conf, "address_verify_positive_refresh_time");
	v->times.negative_expire = conf_get_time(conf, "address_verify_negative_expire_time");
	v->times.negative_refresh = conf_get_time(conf, "address_verify_negative_refresh_time");
	v->poll_count = conf_get_int(conf, "address_verify_poll_count");
	if (v->poll_count < 1)
		v->poll_count = 1;
	v->poll_delay_s = conf_get_time(conf, "address_verify_poll_delay");
	v->probe_sender_ttl = conf_get_time(conf, "address_verify_sender_ttl");
	const char *sender = conf_get(conf, "address_verify_sender");
	const char *at = strrchr(sender, '@');
	bool enabled = v->recipient.enabled || v->sender.enabled;
	if (enabled && (*sender == '@' || (at != NULL && at[1] == '\0')))
		log_fatal("address_verify_sender: \"%s\" must not begin or end with '@'", sender);
	if (*sender == '\0' || strcmp(sender, "<>") == 0)
		v->probe_sender = xstrdup("");
	else if (strchr(sender, '@') != NULL)
		v->probe_sender = xstrdup(sender);
	else
		v->probe_sender = xasprintf("%s@%s", sender, conf_get(conf, "myorigin"));
	if (enabled && *v->map == '\0')
		log_fatal("smtpd_reject_unverified_*: address_verify_map is empty");
}

static struct verify_cache *cache_get(const struct smtpd_verify_settings *v)
{
	if (cache == NULL) {
		const char *error;
		cache = verify_cache_open(v->map, &v->times, &error);
		if (cache == NULL)
			log_warn("%s", error);
	}
	return cache;
}

void verify_shutdown(void)
{
	verify_cache_close(cache);
	cache = NULL;
}

/* The sender of a probe sent at now: the configured one, or with
 * address_verify_sender_ttl (seconds) that with now / ttl in base 31
 * appended to its local part (the sender has a domain here, or is the
 * null sender, which has no time stamp). */
static char *probe_sender(const struct smtpd_settings *cfg, int64_t now)
{
	const char *sender = cfg->verify.probe_sender;
	long long ttl = cfg->verify.probe_sender_ttl;
	const char *at = strrchr(sender, '@');
	if (ttl <= 0 || now < 0 || at == NULL)
		return xstrdup(sender);
	/* Postfix's safe_ultostr digits: no vowels, so no words. */
	static const char digits[] = "0123456789BCDFGHJKLMNPQRSTVWXYZ";
	const unsigned long long base = sizeof(digits) - 1;
	char stamp[32];
	size_t start = sizeof(stamp) - 1;
	stamp[start] = '\0';
	for (unsigned long long epoch = (unsigned long long)now / (unsigned long long)ttl;
	     epoch != 0; epoch /= base)
		stamp[--start] = digits[epoch % base];
	return xasprintf("%.*s%s%s", (int)(at - sender), sender, stamp + start, at);
}

/* Queue a probe for address: a queue file that nobody receives. */
static int send_probe(struct session *s, const char *address)
{
	const struct smtpd_settings *cfg = s->cfg;
	struct queue_envelope env;
	queue_envelope_init(&env);
	env.arrival = (int64_t)time(NULL);
	env.sender = probe_sender(cfg, env.arrival);
	env.origin = xstrdup("verify");
	env.protocol = xstrdup("ESMTP");
	env.client_name = xstrdup("localhost");
	env.client_addr = xstrdup("127.0.0.1");
	env.verify = xstrdup(QUEUE_VERIFY_PROBE);
	queue_envelope_add_rcpt(&env, address, "", "NEVER");
	const char *error = NULL;
	struct queue_writer *w = queue_writer_open(cfg->queue_dir, &env, &error);
	int rc = -1;
	if (w != NULL) {
		char *text = xasprintf("From: <%s>\r\nTo: <%s>\r\nSubject: address verification "
		                       "probe\r\n\r\n",
		                       env.sender, address);
		if (queue_writer_write(w, text, strlen(text), &error) == 0 &&
		    queue_writer_commit(w, "incoming", &error) == 0) {
			log_info("%s: address verification probe for <%s> from %s",
			         queue_writer_id(w), address, session_client(s));
			rc = 0;
		}
		free(text);
		queue_writer_abort(w);
	}
	if (rc != 0)
		log_warn("address verification probe for <%s>: %s", address,
		         error ? error : "cannot be queued");
	else
		(void)mail_wakeup(cfg->qmgr_socket, false, 100);
	queue_envelope_free(&env);
	return rc;
}

/* The status of address after probing it if due and waiting for a
 * result as configured; *reason_r (malloc'd) says why for the
 * undeliverable and deferred ones. -1 when the cache cannot be used. */
static int find_status(struct session *s, const char *address, enum verify_status *status_r,
                       char **reason_r)
{
	const struct smtpd_verify_settings *v = &s->cfg->verify;
	struct verify_cache *c = cache_get(v);
	if (c == NULL) {
		*reason_r = xstrdup("address verification cache unavailable");
		return -1;
	}
	const char *error;
	for (long long look = 0;; look++) {
		struct verify_entry e;
		int64_t now = (int64_t)time(NULL);
		int rc = verify_cache_get(c, address, &e, &error);
		if (rc < 0) {
			log_warn("%s", error);
			*reason_r = xstrdup("address verification cache unavailable");
			return -1;
		}
		bool usable = rc == 1 && !verify_entry_expired(&v->times, &e, now);
		if (look == 0 && verify_probe_due(&v->times, rc == 1 ? &e : NULL, now)) {
			/* Marked first: a client that asks meanwhile sends no other. */
			struct verify_entry mark = {
			    .status = VERIFY_PENDING, .probed = now, .reason = ""};
			if (usable) {
				mark = e;
				mark.probed = now;
			}
			if (verify_cache_put(c, address, &mark, &error) != 0)
				log_warn("%s", error);
			else if (send_probe(s, address) != 0)
				(void)verify_cache_delete(c, address, &error);
		}
		*status_r = usable ? e.status : VERIFY_PENDING;
		*reason_r = xstrdup(usable ? e.reason : "");
		if (rc == 1)
			verify_entry_free(&e);
		if (*status_r != VERIFY_PENDING || look + 1 >= v->poll_count)
			break;
		free(*reason_r);
		sleep((unsigned int)v->poll_delay_s);
	}
	if (*status_r == VERIFY_UNDELIVERABLE && !v->negative_cache &&
	    verify_cache_delete(c, address, &error) != 0)
		log_warn("%s", error);
	return 0;
}

static const char *enhanced(int code, bool sender)
{
	if (code >= 500)
		return sender ? "5.1.7" : "5.1.1";
	return sender ? "4.1.7" : "4.1.1";
}

/* Answer what was found (found -1: nothing, the cache is out of use): 0
 * accepted (deliverable, or unverifiable with tempfail_action dunno), or
 * -1 having sent the reply. */
static int answer(struct session *s, const struct verify_kind *k, bool sender, const char *address,
                  int found, enum verify_status status, const char *reason)
{
	const char *role = sender ? "Sender" : "Recipient";
	if (found == 0 && status == VERIFY_DELIVERABLE)
		return 0;
	if (found == 0 && status == VERIFY_UNDELIVERABLE) {
		int code = (int)k->reject_code;
		if (*k->reject_reason)
			reply(s, code, enhanced(code, sender), "<%.254s>: %s address rejected: %s",
			      address, role, k->reject_reason);
		else
			reply(s, code, enhanced(code, sender),
			      "<%.254s>: %s address rejected: undeliverable address: %.400s",
			      address, role, reason);
		return -1;
	}
	int code = (int)k->defer_code;
	if (found == 0 && status == VERIFY_PENDING) {
		reply(s, code, enhanced(code, sender),
		      "<%.254s>: %s address rejected: unverified address: Address verification in "
		      "progress",
		      address, role);
		return -1;
	}
	/* Deferred, or the cache out of use. */
	if (k->tempfail_accepts) {
		log_info("%s: %s <%s> accepted unverified: %s", session_client(s), role, address,
		         reason);
		return 0;
	}
	reply(s, code, enhanced(code, sender),
	      "<%.254s>: %s address rejected: unverified address: %.400s", address, role, reason);
	return -1;
}

static bool domain_is_ours(const struct smtpd_settings *cfg, const char *address)
{
	const char *at = strrchr(address, '@');
	if (at == NULL || at[1] == '\0' || at[1] == '[')
		return true; /* no domain, or an address literal: not probed */
	return smtpd_final_destination(cfg, at + 1) != 0;
}

int verify_check_rcpt(struct session *s, const char *address)
{
	const struct smtpd_verify_settings *v = &s->cfg->verify;
	if (!v->recipient.enabled || policy_client_trusted(s) || domain_is_ours(s->cfg, address))
		return 0;
	enum verify_status status = VERIFY_PENDING;
	char *reason = NULL;
	int found = find_status(s, address, &status, &reason);
	int rc = answer(s, &v->recipient, false, address, found, status, reason);
	free(reason);
	return rc;
}

int verify_check_sender(struct session *s)
{
	const struct smtpd_verify_settings *v = &s->cfg->verify;
	const char *sender = s->env.sender;
	if (!v->sender.enabled || *sender == '\0' || policy_client_trusted(s) ||
	    domain_is_ours(s->cfg, sender))
		return 0;
	/* Once per transaction: later recipients get the same answer. */
	if (s->sender_verify_found == 0) {
		free(s->sender_verify_reason);
		s->sender_verify_reason = NULL;
		enum verify_status status = VERIFY_PENDING;
		int found = find_status(s, sender, &status, &s->sender_verify_reason);
		s->sender_verify_found = found == 0 ? 1 : -1;
		s->sender_verify_status = status;
	}
	return answer(s, &v->sender, true, sender, s->sender_verify_found == 1 ? 0 : -1,
	              s->sender_verify_status,
	              s->sender_verify_reason ? s->sender_verify_reason : "");
}

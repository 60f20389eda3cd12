/*
 * One delivery request: from the next hop to the servers to try (MX
 * routing through lib/dns, or the literal [host]), the TLS policy for the
 * destination (DANE when the MX (or [host] name) and address answers and
 * the TLSA records are DNSSEC-validated; at least encrypt in wrapper
 * mode), then each server in order until every recipient
 * has a final answer: connection failures, refused greetings and 4xx
 * answers move on to the next server; the last answer stands. The AUTH
 * credentials for each server come from smtp_sasl_password_maps in
 * Postfix's order (mail_keys_sasl: the sender with
 * smtp_sender_dependent_authentication, the server's host name, the next
 * hop). A session that ends cleanly is kept for the next request to the
 * same next hop that would use the same credentials
 * (smtp_connection_cache_time_limit), so mail from senders with their
 * own credentials never goes over another's login; it is checked with
 * RSET before reuse.
 *
 * Fallback relays (smtp_fallback_relay), as Postfix's smtp(8): the
 * recipients the next hop leaves open (the domain was not found, its MX
 * look-up failed for now, no server could be reached, or they got 4xx
 * answers) go to each fallback relay in turn, a next hop of its own: its
 * own routing and smtp_mx_address_limit, TLS policy and AUTH credentials
 * looked up for it, its sessions kept under its name. 5xx answers stand.
 * Never when this host is one of the next hop's MX hosts (a backup MX
 * would pass the mail to the fallback and on in a loop), when the mail
 * loops back to this host, or for a null MX (RFC 7505: no mail at all;
 * Postfix would pass it on). A fallback relay that cannot be found or is
 * this host is a configuration problem: the mail is deferred (4.3.5),
 * never bounced.
 *
 * Mail loops: an MX host named myhostname, and the MX hosts at its
 * preference or worse, are not used; as Postfix, when the next hop's
 * port is 25, an MX host with one of this host's addresses
 * (smtp_cfg.own_addrs) neither (MX routing only; lib/dns/dns_route.h),
 * and a server that answers EHLO with myhostname is this host too: the
 * recipients bounce (5.4.6) when it is a best MX, else the next server
 * is tried (4.4.6).
 *
 * LMTP (the lmtp program): the next hop is a UNIX-domain socket (one
 * server, named myhostname[path] in the logs; a relative path is below
 * queue_directory, as in Postfix) or a host whose A/AAAA records give the
 * servers, never MX records; no mail loop checks. Sessions are kept and
 * reused as SMTP's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns/dns_route.h"
#include "mail/route.h"
#include "smtp/smtp.h"
#include "util/alloc.h"
#include "util/log.h"

static struct smtp_session *cached;
static char *cached_key;         /* its next hop */
static char *cached_credentials; /* what it authenticated with, or NULL */
static bool cached_final;        /* no fallback relay after its next hop */
static struct event_timer *cache_timer;

int client_nexthop_parse(const char *text, struct nexthop *nh, const char **error_r)
{
	return smtp_cfg.lmtp ? nexthop_parse_lmtp(text, smtp_cfg.default_port, nh, error_r)
	                     : nexthop_parse(text, smtp_cfg.default_port, nh, error_r);
}

void rcpt_set(struct smtp_rcpt *r, enum rcpt_outcome outcome, const char *status,
              const char *reason)
{
	r->outcome = outcome;
	snprintf(r->status, sizeof(r->status), "%s", status);
	/* The class of the status follows the outcome (qmgr checks it). */
	r->status[0] = outcome == OUT_DELIVERED ? '2' : outcome == OUT_BOUNCED ? '5' : '4';
	free(r->reason);
	r->reason = xstrdup(reason);
	free(r->remote_mta);
	free(r->diagnostic);
	r->remote_mta = r->diagnostic = NULL;
	r->dsn_passed = false;
}

void deliver_drop_cached(void)
{
	if (cache_timer)
		event_cancel_timer(smtp_cfg.loop, cache_timer);
	cache_timer = NULL;
	session_close(cached, true);
	cached = NULL;
	free(cached_key);
	cached_key = NULL;
	if (cached_credentials != NULL)
		explicit_bzero(cached_credentials, strlen(cached_credentials));
	free(cached_credentials);
	cached_credentials = NULL;
}

/* The credentials for AUTH to the server host for msg, from
 * smtp_sasl_password_maps (opened on first use) in Postfix's order: with
 * smtp_sender_dependent_authentication the sender, then its @domain; the
 * host name; the next hop as written. 1 with *credentials_r ("user:password",
 * malloc'd), 0 when there are none, -1 with *error_r (malloc'd) when the
 * table cannot be read. */
static int sasl_credentials(const struct smtp_message *msg, const char *host,
                            const char *nexthop_text, char **credentials_r, char **error_r)
{
	*credentials_r = NULL;
	if (*smtp_cfg.sasl_password_maps == '\0')
		return 0;
	const char *error = "";
	if (smtp_cfg.sasl_passwords == NULL &&
	    (smtp_cfg.sasl_passwords = table_open(smtp_cfg.sasl_password_maps, &error)) == NULL) {
		*error_r = xasprintf("smtp_sasl_password_maps: %s", error);
		return -1;
	}
	const char *sender =
	    smtp_cfg.sender_dependent_auth && msg->env != NULL ? msg->env->sender : NULL;
	struct mail_keys keys = {0};
	mail_keys_sasl(&keys, sender, host, nexthop_text);
	struct str value = STR_INIT;
	int rc = 0;
	const char *key = NULL;
	for (size_t i = 0; rc == 0 && i < keys.count; i++)
		rc = table_lookup(smtp_cfg.sasl_passwords, key = keys.key[i], &value, &error);
	if (rc < 0) {
		*error_r = xasprintf("smtp_sasl_password_maps lookup of %s: %s", key, error);
	} else if (rc == 1 && strchr(str_cstr(&value), ':') == NULL) {
		log_warn("smtp_sasl_password_maps: entry for %s is not user:password", key);
		rc = 0;
	} else if (rc == 1) {
		*credentials_r = xstrdup(str_cstr(&value));
	}
	if (value.data != NULL)
		explicit_bzero(value.data, value.len);
	str_free(&value);
	mail_keys_free(&keys);
	return rc;
}

static bool same_credentials(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void free_credentials(char *credentials)
{
	if (credentials != NULL)
		explicit_bzero(credentials, strlen(credentials));
	free(credentials);
}

static void on_cache_timeout(struct event_loop *loop, void *ctx)
{
	(void)loop;
	(void)ctx;
	cache_timer = NULL;
	deliver_drop_cached();
}

/* Keep s, which went to the next hop key and authenticated with
 * credentials (or none), for the next request; final: no fallback relay
 * is to follow that next hop. */
static void keep_session(struct smtp_session *s, const char *key, const char *credentials,
                         bool final)
{
	deliver_drop_cached();
	if (smtp_cfg.cache_time_ms <= 0 || smtp_cfg.loop == NULL ||
	    event_now_ms() - session_started_ms(s) > smtp_cfg.reuse_time_ms) {
		session_close(s, true);
		return;
	}
	cached = s;
	cached_key = xstrdup(key);
	cached_credentials = credentials ? xstrdup(credentials) : NULL;
	cached_final = final;
	cache_timer =
	    event_add_timer(smtp_cfg.loop, smtp_cfg.cache_time_ms, on_cache_timeout, NULL);
}

/* The kept session for the next hop key if msg would authenticate to its
 * server with the credentials it used (the same, or none for both); the
 * credentials in *credentials_r, whether no fallback relay is to follow
 * in *final_r. */
static struct smtp_session *take_cached(const char *key, const struct smtp_message *msg,
                                        char **credentials_r, bool *final_r)
{
	*credentials_r = NULL;
	*final_r = cached_final;
	if (cached == NULL || strcmp(cached_key, key) != 0)
		return NULL;
	char *error = NULL;
	int rc = sasl_credentials(msg, session_host(cached), key, credentials_r, &error);
	if (rc < 0 || !same_credentials(*credentials_r, cached_credentials)) {
		/* Another sender's login, or none to be sure of: a new session. */
		free(error);
		free_credentials(*credentials_r);
		*credentials_r = NULL;
		deliver_drop_cached();
		return NULL;
	}
	struct smtp_session *s = cached;
	cached = NULL;
	deliver_drop_cached();
	return s;
}

static size_t open_count(const struct smtp_rcpt *rcpts, size_t count)
{
	size_t n = 0;
	for (size_t i = 0; i < count; i++)
		n += rcpt_open(&rcpts[i]);
	return n;
}

static void answer_open(struct smtp_rcpt *rcpts, size_t count, enum rcpt_outcome outcome,
                        const char *status, const char *reason, const char *relay)
{
	for (size_t i = 0; i < count; i++) {
		struct smtp_rcpt *r = &rcpts[i];
		if (!rcpt_open(r))
			continue;
		rcpt_set(r, outcome, status, reason);
		free(r->relay);
		r->relay = xstrdup(relay);
		free(r->tls);
		r->tls = xstrdup("none");
	}
}

/* The routing outcome for the recipients when no server of the next hop
 * can be tried (fallback: the next hop is a fallback relay; more: fallback
 * relays follow it). True if they may be tried. A hard error (not found,
 * null MX, a loop) for the relayhost or a fallback relay is a mistake in
 * the configuration, not in the mail: deferred (4.3.5) with a warning, as
 * Postfix does, so that a typo in relayhost bounces no mail. */
static bool route_failed(const struct dns_route *route, const char *nexthop_text, bool fallback,
                         bool more, struct smtp_rcpt *rcpts, size_t count)
{
	bool relayhost =
	    !fallback && *smtp_cfg.relayhost && strcasecmp(nexthop_text, smtp_cfg.relayhost) == 0;
	enum rcpt_outcome outcome = OUT_DEFERRED;
	const char *status = "4.4.3";
	bool go_on = true;
	switch (route->status) {
	case ROUTE_NULL_MX:
		outcome = OUT_BOUNCED;
		status = "5.1.10";
		go_on = fallback;
		break;
	case ROUTE_NOT_FOUND:
		/* Postfix: a destination that is not found goes to the
		 * fallback relays. */
		outcome = more && !fallback ? OUT_DEFERRED : OUT_BOUNCED;
		status = "5.4.4";
		break;
	case ROUTE_LOOP:
		outcome = OUT_BOUNCED;
		status = "5.4.6";
		go_on = false;
		break;
	case ROUTE_NO_PRIMARY:
		status = "4.4.4";
		go_on = false;
		break;
	case ROUTE_TEMPFAIL:
	case ROUTE_OK:
		break;
	}
	if ((fallback || relayhost) && outcome == OUT_BOUNCED) {
		log_warn("%s configuration problem: %s",
		         fallback ? "smtp_fallback_relay" : "relayhost", route->error);
		outcome = OUT_DEFERRED;
		status = "4.3.5";
	}
	answer_open(rcpts, count, outcome, status, route->error, "none");
	return go_on;
}

/* DANE for one server (RFC 7672): fills t->tlsa from a validated TLSA
 * answer at _port._tcp.host (the host after validated CNAMEs first), or
 * sets the level DANE falls back to, and
 * logs which applied. DANE applies when the server's name is trusted
 * (from a validated MX answer, or from the configuration for a [host]
 * next hop, section 2.2.2) and its address answer is validated; else the
 * level is may (opportunistic). Validated TLSA records of which none is
 * usable give unauthenticated but mandatory TLS (encrypt, section 2.2).
 * -1 with *reason_r when the TLSA look-up failed (the server must not be
 * used). */
/* DANE cannot authenticate this server (why, malloc'd, is taken): under
 * dane opportunistic TLS, logged; under dane-only -1 with *reason_r (the
 * delivery is deferred). */
static int dane_unavailable(const struct dns_target *tg, struct smtp_target *t, char *why,
                            char **reason_r)
{
	int rc = 0;
	if (t->level == TLS_LEVEL_DANE_ONLY) {
		*reason_r =
		    xasprintf("%s[%s]:%s: DANE is required (dane-only) but cannot be used: %s",
		              tg->host, tg->address, t->port, why);
		rc = -1;
	} else {
		log_info("%s[%s]:%s: DANE does not apply (%s); using opportunistic TLS", tg->host,
		         tg->address, t->port, why);
		t->level = TLS_LEVEL_MAY;
	}
	free(why);
	return rc;
}

/* A TLSA look-up in what is left of the delivery's time for them
 * (*budget_ms, twice dns_query_timeout at the start): each takes at most
 * dns_query_timeout, and once the time is used up the look-up fails at
 * once, so servers whose TLSA records go unanswered cannot each add a
 * time-out to the delivery. */
static void tlsa_lookup(const char *name, int64_t *budget_ms, struct dns_answer *answer)
{
	if (*budget_ms <= 0) {
		memset(answer, 0, sizeof(*answer));
		answer->status = DNS_TEMPFAIL;
		answer->timed_out = true;
		answer->error = xstrdup("no time left for TLSA lookups in this delivery");
		return;
	}
	int timeout =
	    *budget_ms < smtp_cfg.dns_timeout_ms ? (int)*budget_ms : smtp_cfg.dns_timeout_ms;
	int64_t start = event_now_ms();
	dns_lookup(smtp_cfg.resolver, name, DNS_TYPE_TLSA, timeout, answer);
	*budget_ms -= event_now_ms() - start;
}

static int dane_prepare(const struct dns_target *tg, const struct nexthop *nh,
                        struct smtp_target *t, int64_t *tlsa_budget_ms,
                        struct dns_answer *tlsa_answer, char **reason_r)
{
	memset(tlsa_answer, 0, sizeof(*tlsa_answer));
	char *why = NULL;
	if (smtp_cfg.resolver == NULL || !dns_resolver_validates(smtp_cfg.resolver))
		why = xstrdup("DNSSEC validation is not configured (dns_trust_anchor_file)");
	else if (nh->literal)
		why = xasprintf("the next hop %s is an IP address", nh->host);
	else if (nh->use_mx && !tg->mx_secure)
		why = xasprintf("the MX records of %s are not DNSSEC-validated", nh->host);
	else if (!tg->addr_secure)
		why = xasprintf("the address records of %s are not DNSSEC-validated", tg->host);
	if (why != NULL)
		return dane_unavailable(tg, t, why, reason_r);
	/* Sections 2.2.1 and 2.2.2: after a validated CNAME expansion of the
	 * host, the TLSA records of the expanded name first, then of the
	 * original name. */
	const char *base = tg->canon != NULL ? tg->canon : t->host;
	char *name = xasprintf("_%s._tcp.%s", t->port, base);
	tlsa_lookup(name, tlsa_budget_ms, tlsa_answer);
	if (base != t->host &&
	    (tlsa_answer->status == DNS_NODATA || tlsa_answer->status == DNS_NXDOMAIN)) {
		dns_answer_free(tlsa_answer);
		free(name);
		base = t->host;
		name = xasprintf("_%s._tcp.%s", t->port, base);
		tlsa_lookup(name, tlsa_budget_ms, tlsa_answer);
	}
	t->dane_base = base;
	t->dane_alias = base != t->host ? t->host : tg->canon;
	int rc = 0;
	if (tlsa_answer->status == DNS_TEMPFAIL) {
		*reason_r = xasprintf("TLSA lookup of %s: %s", name,
		                      tlsa_answer->error ? tlsa_answer->error : "failed");
		rc = -1;
	} else if (tlsa_answer->status == DNS_FOUND && tlsa_answer->secure) {
		/* RFC 7672 3.1.3: only DANE-TA(2) and DANE-EE(3) are usable for
		 * SMTP. */
		t->tlsa = xcalloc(tlsa_answer->count, sizeof(*t->tlsa));
		for (size_t i = 0; i < tlsa_answer->count; i++) {
			const struct dns_rr *rr = &tlsa_answer->rrs[i];
			if ((rr->usage != 2 && rr->usage != 3) || rr->selector > 1 ||
			    rr->matching > 2)
				continue;
			t->tlsa[t->tlsa_count++] = (struct tls_tlsa){
			    rr->usage, rr->selector, rr->matching, rr->data, rr->data_len};
		}
		if (t->tlsa_count == 0 && t->level == TLS_LEVEL_DANE_ONLY) {
			rc = dane_unavailable(
			    tg, t, xasprintf("no usable TLSA records at %s", name), reason_r);
		} else if (t->tlsa_count == 0) {
			log_info("%s[%s]:%s: no usable TLSA records at %s; TLS required without "
			         "authentication",
			         tg->host, tg->address, t->port, name);
			t->level = TLS_LEVEL_ENCRYPT;
		} else {
			log_info("%s[%s]:%s: DANE applies: %zu usable TLSA record%s at %s",
			         tg->host, tg->address, t->port, t->tlsa_count,
			         t->tlsa_count == 1 ? "" : "s", name);
		}
	} else {
		rc = dane_unavailable(tg, t,
		                      xasprintf("%s %s",
		                                tlsa_answer->status == DNS_FOUND
		                                    ? "no DNSSEC-validated TLSA records at"
		                                    : "no TLSA records at",
		                                name),
		                      reason_r);
	}
	free(name);
	return rc;
}

/* Whether mail loops are looked for: as Postfix, only when the port is
 * the SMTP port (25), where this host's own MTA listens; on another port
 * one of this host's addresses is another service (a content filter). */
static bool loop_detect_port(const char *port)
{
	if (smtp_cfg.lmtp)
		return false;
	if (strcasecmp(port, "smtp") == 0)
		return true;
	char *end;
	long n = strtol(port, &end, 10);
	return end != port && *end == '\0' && n == 25;
}

/* Try one server with the open recipients (best_mx: it has the best
 * preference of the route); returns the session if it can be used again
 * (with the credentials it authenticated with in *credentials_r), else
 * NULL. */
static struct smtp_session *try_server(const struct dns_target *tg, bool best_mx,
                                       const struct nexthop *nh, const char *nexthop_text,
                                       const struct tls_policy *policy, int64_t *tlsa_budget_ms,
                                       const struct smtp_message *msg, struct smtp_rcpt *rcpts,
                                       size_t count, char **credentials_r)
{
	char *unix_path = NULL;
	if (nh->path != NULL)
		unix_path = nh->path[0] == '/' ? xstrdup(nh->path)
		                               : xasprintf("%s/%s", smtp_cfg.queue_dir, nh->path);
	struct smtp_target t = {
	    .host = tg->host,
	    .address = tg->address,
	    .port = nh->port,
	    .unix_path = unix_path,
	    .level = policy->level,
	    .policy = policy,
	    .nexthop = nh->host,
	    .loop_nexthop = loop_detect_port(nh->port) ? nexthop_text : NULL,
	    .best_mx = best_mx,
	};
	char *relay = unix_path ? xasprintf("%s[%s]", tg->host, tg->address)
	                        : xasprintf("%s[%s]:%s", tg->host, tg->address, nh->port);
	char *reason = NULL;
	const char *status = "4.4.1";
	struct dns_answer tlsa = {0};
	struct smtp_session *s = NULL;
	bool tls_failed = false, bounce = false;
	char *credentials = NULL;
	if (sasl_credentials(msg, tg->host, nexthop_text, &credentials, &reason) < 0) {
		status = "4.3.0";
	} else if ((policy->level == TLS_LEVEL_DANE || policy->level == TLS_LEVEL_DANE_ONLY) &&
	           dane_prepare(tg, nh, &t, tlsa_budget_ms, &tlsa, &reason) != 0) {
		status = "4.7.5";
	} else {
		t.sasl_credentials = credentials;
		/* In wrapper mode TLS is the only way to talk to the server: none
		 * and may (also DANE's fallback) are TLS without authentication,
		 * as encrypt, and a failed handshake is never retried in plain
		 * text. */
		if (smtp_cfg.tls_wrappermode && t.level < TLS_LEVEL_ENCRYPT)
			t.level = TLS_LEVEL_ENCRYPT;
		s = session_open(&t, true, &reason, &status, &tls_failed, &bounce);
		if (s == NULL && tls_failed && t.level == TLS_LEVEL_MAY) {
			log_info("%s; trying again without TLS", reason);
			free(reason);
			reason = NULL;
			s = session_open(&t, false, &reason, &status, &tls_failed, &bounce);
		}
	}
	if (s == NULL) {
		log_info("%s", reason);
		answer_open(rcpts, count, bounce ? OUT_BOUNCED : OUT_DEFERRED, status, reason,
		            relay);
	} else if (!session_deliver(s, msg, rcpts, count)) {
		session_close(s, false);
		s = NULL;
	}
	if (s != NULL) {
		*credentials_r = credentials;
		credentials = NULL;
	}
	free_credentials(credentials);
	free(reason);
	free(relay);
	free(unix_path);
	free(t.tlsa);
	dns_answer_free(&tlsa);
	return s;
}

/* The servers of the next hop nh, in order, for the open recipients
 * (fallback: nh is a fallback relay; more: fallback relays follow it).
 * True if those may be tried for the recipients left open. */
static bool deliver_routed(const struct nexthop *nh, const char *nexthop_text, bool fallback,
                           bool more, const struct smtp_message *msg, struct smtp_rcpt *rcpts,
                           size_t count)
{
	struct tls_policy policy;
	char *error = NULL;
	if (tls_policy_lookup(nexthop_text, nh->path ? nexthop_text : nh->host, &policy, &error) !=
	    0) {
		log_warn("%s; deferring mail for %s", error, nh->host);
		answer_open(rcpts, count, OUT_DEFERRED, "4.7.5", error, "none");
		free(error);
		tls_policy_free(&policy);
		return true;
	}
	struct dns_route route = {0};
	if (nh->path != NULL) {
		/* LMTP over a UNIX-domain socket: one server, this host. */
		route.targets = xcalloc(1, sizeof(*route.targets));
		route.targets[0] = (struct dns_target){.host = xstrdup(smtp_cfg.myhostname),
		                                       .address = xstrdup(nh->path)};
		route.count = 1;
	} else if (nh->literal) {
		route.targets = xcalloc(1, sizeof(*route.targets));
		route.targets[0] =
		    (struct dns_target){.host = xstrdup(nh->host), .address = xstrdup(nh->host)};
		route.count = 1;
	} else if (smtp_cfg.resolver == NULL) {
		route.status = ROUTE_TEMPFAIL;
		route.error = xstrdup("the DNS resolver is not available");
	} else {
		/* The address check only for MX routing (the domain's own
		 * addresses too when it has no MX), not for a [host]. */
		struct dns_route_request req = {
		    .domain = nh->host,
		    .use_mx = nh->use_mx,
		    .myhostname = smtp_cfg.lmtp ? NULL : smtp_cfg.myhostname,
		    .own_addrs =
		        nh->use_mx && loop_detect_port(nh->port) ? smtp_cfg.own_addrs : NULL,
		    .family = smtp_cfg.family,
		    .timeout_ms = smtp_cfg.dns_timeout_ms,
		    .max_targets = smtp_cfg.max_targets,
		};
		dns_route_resolve(smtp_cfg.resolver, &req, &route);
	}
	if (route.status != ROUTE_OK) {
		bool go_on = route_failed(&route, nexthop_text, fallback, more, rcpts, count);
		dns_route_free(&route);
		tls_policy_free(&policy);
		return go_on;
	}
	struct smtp_session *kept = NULL;
	char *kept_credentials = NULL;
	int64_t tlsa_budget_ms = 2 * (int64_t)smtp_cfg.dns_timeout_ms;
	for (size_t i = 0; i < route.count && open_count(rcpts, count) > 0; i++) {
		if (kept) {
			session_close(kept, true);
			kept = NULL;
		}
		free_credentials(kept_credentials);
		kept_credentials = NULL;
		bool best_mx = route.targets[i].preference == route.targets[0].preference;
		kept = try_server(&route.targets[i], best_mx, nh, nexthop_text, &policy,
		                  &tlsa_budget_ms, msg, rcpts, count, &kept_credentials);
	}
	/* This host is a (backup) MX of the next hop: nowhere else. */
	bool go_on = !route.self_mx;
	if (kept)
		keep_session(kept, nexthop_text, kept_credentials, !go_on);
	free_credentials(kept_credentials);
	dns_route_free(&route);
	tls_policy_free(&policy);
	return go_on;
}

/* One next hop (fallback: a fallback relay; more: fallback relays follow
 * it): a kept session for it, whose server's answers stand, else its
 * servers in order. True if the fallback relays may be tried for the
 * recipients left open. */
static bool deliver_nexthop(const char *nexthop_text, bool fallback, bool more,
                            const struct smtp_message *msg, struct smtp_rcpt *rcpts, size_t count)
{
	struct nexthop nh;
	const char *error = "";
	if (client_nexthop_parse(nexthop_text, &nh, &error) != 0) {
		char *reason = xasprintf("bad next hop \"%s\": %s", nexthop_text, error);
		answer_open(rcpts, count, OUT_DEFERRED, "4.3.5", reason, "none");
		free(reason);
		return fallback;
	}
	char *credentials = NULL;
	bool final = false;
	struct smtp_session *s = take_cached(nexthop_text, msg, &credentials, &final);
	if (s != NULL) {
		if (!session_reset(s)) {
			session_close(s, false);
		} else if (session_deliver(s, msg, rcpts, count)) {
			/* Its server's answers stand for this next hop (no other
			 * server of it is tried); what it left open may still go
			 * to the fallback relays. */
			keep_session(s, nexthop_text, credentials, final);
			free_credentials(credentials);
			nexthop_free(&nh);
			return !final;
		} else {
			session_close(s, false);
		}
	}
	free_credentials(credentials);
	bool go_on = deliver_routed(&nh, nexthop_text, fallback, more, msg, rcpts, count);
	nexthop_free(&nh);
	return go_on;
}

/* The fallback relay after the one at *next (0 for the first), skipping
 * the next hop itself; NULL when there is none. */
static const char *next_fallback(const char *nexthop_text, size_t *next)
{
	char *const *relays = smtp_cfg.fallback_relays;
	for (; relays != NULL && relays[*next] != NULL; (*next)++)
		if (strcasecmp(relays[*next], nexthop_text) != 0)
			return relays[(*next)++];
	return NULL;
}

void deliver_message(const char *nexthop_text, const struct smtp_message *msg,
                     struct smtp_rcpt *rcpts, size_t count)
{
	if (open_count(rcpts, count) == 0)
		return;
	size_t next = 0;
	const char *relay = next_fallback(nexthop_text, &next);
	bool go_on = deliver_nexthop(nexthop_text, false, relay != NULL, msg, rcpts, count);
	while (go_on && relay != NULL && open_count(rcpts, count) > 0) {
		const char *this_relay = relay;
		relay = next_fallback(nexthop_text, &next);
		go_on = deliver_nexthop(this_relay, true, relay != NULL, msg, rcpts, count);
	}
	for (size_t i = 0; i < count; i++)
		if (rcpts[i].outcome == OUT_PENDING)
			answer_open(&rcpts[i], 1, OUT_DEFERRED, "4.4.3", "no mail host was tried",
			            "none");
}

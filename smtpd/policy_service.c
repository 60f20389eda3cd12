/*
 * Postfix's SMTPD access policy delegation (SMTPD_POLICY_README,
 * check_policy_service), so that the policy servers written for Postfix
 * (postgrey, policyd-spf, postfwd) serve smtpd unchanged.
 *
 * At each RCPT, once every other check accepted the recipient (and no
 * access table said OK, as check_policy_service usually follows
 * reject_unauth_destination and the check_*_access restrictions), the
 * servers of smtpd_policy_services are asked in order, each with Postfix's
 * request (policy/policy_proto.h; protocol_state=RCPT); at the end of DATA
 * those of smtpd_end_of_data_policy_services (protocol_state=
 * END-OF-MESSAGE). Each answers an access(5) action, which access_act
 * carries out as an access table's: DUNNO and the actions that do not
 * decide (PREPEND, HOLD, WARN, DEFER_IF_...) go on to the next server, the
 * others end the asking. A server that cannot be reached, times out or
 * answers garbage is asked again up to smtpd_policy_service_try_limit
 * times, smtpd_policy_service_retry_delay apart, each failure logged as
 * Postfix logs it ("problem talking to server ..."); then
 * smtpd_policy_service_default_action is its answer.
 *
 * Connections (policy/policy_client.h) live as long as the process and
 * serve its later sessions, one per server, whichever list names it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "policy/policy_entry.h"
#include "smtp/access_action.h"
#include "smtp/xtext.h"
#include "smtpd/smtpd.h"
#include "util/alloc.h"
#include "util/log.h"
#include "util/sock.h"

#define STATE_RCPT "RCPT"
#define STATE_EOD "END-OF-MESSAGE"

struct policy_server {
	char *spec; /* the entry as the settings write it */
	struct policy_client *client;
	struct policy_settings settings; /* its own, or the smtpd_policy_service_ ones */
};

static struct policy_server *servers;
static size_t server_count;

/* The smtpd_policy_service_ settings, for the entries that do not name
 * their own. Borrows cfg's strings. */
static struct policy_settings defaults_of(const struct smtpd_settings *cfg)
{
	return (struct policy_settings){
	    .limits = cfg->policy_limits,
	    .try_limit = cfg->policy_try_limit,
	    .retry_delay_ms = cfg->policy_retry_delay_ms,
	    .default_action = (char *)cfg->policy_default_action,
	    .policy_context = (char *)cfg->policy_context,
	};
}

/* Parse spec, an entry of the lists, into e and ep: 0, or -1 with *error_r. */
static int parse_entry(const struct smtpd_settings *cfg, const char *spec, struct policy_entry *e,
                       struct policy_endpoint *ep, const char **error_r)
{
	struct policy_settings defaults = defaults_of(cfg);
	if (policy_entry_parse(spec, &defaults, e, error_r) != 0)
		return -1;
	struct access_action a;
	access_action_parse(e->settings.default_action, 554, 450, &a);
	if (a.kind == ACCESS_INVALID || a.kind == ACCESS_IGNORED) {
		*error_r = a.error;
		policy_entry_free(e);
		return -1;
	}
	if (policy_endpoint_parse(e->endpoint, cfg->queue_dir, ep, error_r) != 0) {
		policy_entry_free(e);
		return -1;
	}
	return 0;
}

static void check_entries(const struct smtpd_settings *cfg, char *const *specs, const char *param)
{
	for (size_t i = 0; specs && specs[i]; i++) {
		struct policy_entry e;
		struct policy_endpoint ep;
		const char *error;
		if (parse_entry(cfg, specs[i], &e, &ep, &error) != 0)
			log_fatal("%s: \"%s\": %s", param, specs[i], error);
		policy_endpoint_free(&ep);
		policy_entry_free(&e);
	}
}

void policy_service_setup(struct smtpd_settings *c, const struct conf *conf)
{
	c->policy_services = conf_get_list(conf, "smtpd_policy_services");
	c->eod_policy_services = conf_get_list(conf, "smtpd_end_of_data_policy_services");
	c->policy_trusted_clients = conf_get_bool(conf, "smtpd_policy_service_trusted_clients");
	c->policy_limits.timeout_ms = conf_get_time(conf, "smtpd_policy_service_timeout") * 1000;
	c->policy_limits.max_idle_ms = conf_get_time(conf, "smtpd_policy_service_max_idle") * 1000;
	c->policy_limits.max_ttl_ms = conf_get_time(conf, "smtpd_policy_service_max_ttl") * 1000;
	c->policy_limits.request_limit = conf_get_int(conf, "smtpd_policy_service_request_limit");
	c->policy_try_limit = conf_get_int(conf, "smtpd_policy_service_try_limit");
	c->policy_retry_delay_ms = conf_get_time(conf, "smtpd_policy_service_retry_delay") * 1000;
	c->policy_default_action = conf_get(conf, "smtpd_policy_service_default_action");
	c->policy_context = conf_get(conf, "smtpd_policy_service_policy_context");
	c->tls_fingerprint_digest = conf_get(conf, "smtpd_tls_fingerprint_digest");
	if (!tls_fingerprint_digest_known(c->tls_fingerprint_digest))
		log_fatal("smtpd_tls_fingerprint_digest = %s: not a digest OpenSSL knows",
		          c->tls_fingerprint_digest);
	if (c->policy_limits.timeout_ms <= 0)
		log_fatal("smtpd_policy_service_timeout must be at least 1s");
	if (c->policy_try_limit < 1)
		log_fatal("smtpd_policy_service_try_limit must be at least 1");
	struct access_action a;
	access_action_parse(c->policy_default_action, 554, 450, &a);
	if (a.kind == ACCESS_INVALID || a.kind == ACCESS_IGNORED)
		log_fatal("smtpd_policy_service_default_action: \"%s\": %s",
		          c->policy_default_action, a.error);
	check_entries(c, c->policy_services, "smtpd_policy_services");
	check_entries(c, c->eod_policy_services, "smtpd_end_of_data_policy_services");
}

static struct policy_server *server_for(const struct smtpd_settings *cfg, const char *spec)
{
	for (size_t i = 0; i < server_count; i++)
		if (strcmp(servers[i].spec, spec) == 0)
			return &servers[i];
	struct policy_entry e;
	struct policy_endpoint ep;
	const char *error;
	if (parse_entry(cfg, spec, &e, &ep, &error) != 0)
		log_panic("policy server \"%s\": %s", spec, error); /* checked at start */
	servers = xreallocarray(servers, server_count + 1, sizeof(*servers));
	struct policy_server *srv = &servers[server_count++];
	srv->spec = xstrdup(spec);
	srv->client = policy_client_new(&ep);
	srv->settings = e.settings; /* taken over */
	e.settings.default_action = e.settings.policy_context = NULL;
	policy_endpoint_free(&ep);
	policy_entry_free(&e);
	return srv;
}

/* The message's "instance" attribute: the same for all its requests
 * (postgrey adds one X-Greylist header per instance), another for the
 * next message. */
static const char *instance(struct session *s)
{
	static unsigned sequence;
	if (s->policy_instance[0] == '\0')
		snprintf(s->policy_instance, sizeof(s->policy_instance), "%x.%llx.%x",
		         (unsigned)getpid(), (unsigned long long)time(NULL), sequence++);
	return s->policy_instance;
}

/* The certificate's subject or issuer name as Postfix sends it: xtext,
 * and only for a verified certificate. */
static void add_ccert_name(struct str *req, const char *name, char *value, bool verified)
{
	struct str coded = STR_INIT;
	if (value && verified)
		xtext_encode(value, strlen(value), &coded);
	policy_request_add(req, name, str_cstr(&coded));
	str_free(&coded);
	free(value);
}

/* The client certificate's fingerprints as Postfix sends them: whenever
 * the client presented one, verified or not (a server that checks a
 * fingerprint needs no trusted CA). */
static void fingerprints(const struct session *s, char **cert_r, char **pkey_r)
{
	*cert_r = *pkey_r = NULL;
	const char *error;
	if (s->tls && tls_session_peer_fingerprints(s->tls, s->cfg->tls_fingerprint_digest, cert_r,
	                                            pkey_r, &error) < 0)
		log_warn("client certificate fingerprint: %s", error);
}

/* Postfix's attributes, in Postfix's order; those Postern does not know
 * are sent empty. */
/* Postfix's request without its end, in two parts: the attributes
 * before policy_context in *req, those after it in *tail (each server
 * has its own policy_context, which ask puts between them). */
static void build_request(struct session *s, const char *state, const char *rcpt, size_t rcpt_count,
                          long long size, struct str *req, struct str *tail)
{
	char number[32];
	policy_request_add(req, "request", "smtpd_access_policy");
	policy_request_add(req, "protocol_state", state);
	policy_request_add(req, "protocol_name", s->esmtp ? "ESMTP" : "SMTP");
	policy_request_add(req, "helo_name", s->helo);
	policy_request_add(req, "queue_id", s->queue_id);
	policy_request_add(req, "sender", s->env.sender);
	policy_request_add(req, "recipient", rcpt);
	snprintf(number, sizeof(number), "%zu", rcpt_count);
	policy_request_add(req, "recipient_count", number);
	policy_request_add(req, "client_address", s->client_addr);
	policy_request_add(req, "client_name", s->client_name);
	policy_request_add(req, "reverse_client_name", s->reverse_name);
	policy_request_add(req, "instance", instance(s));
	policy_request_add(req, "sasl_method", s->auth_user ? s->auth_method : "");
	policy_request_add(req, "sasl_username", s->auth_user);
	policy_request_add(req, "sasl_sender", s->mail_auth);
	snprintf(number, sizeof(number), "%lld", size > 0 ? size : 0);
	policy_request_add(req, "size", number);
	bool verified = s->tls && tls_session_peer_verified(s->tls);
	add_ccert_name(req, "ccert_subject", s->tls ? tls_session_peer_subject(s->tls) : NULL,
	               verified);
	add_ccert_name(req, "ccert_issuer", s->tls ? tls_session_peer_issuer(s->tls) : NULL,
	               verified);
	char *cert_fingerprint, *pkey_fingerprint;
	fingerprints(s, &cert_fingerprint, &pkey_fingerprint);
	policy_request_add(req, "ccert_fingerprint", cert_fingerprint);
	policy_request_add(req, "encryption_protocol", s->tls ? tls_session_protocol(s->tls) : "");
	policy_request_add(req, "encryption_cipher", s->tls ? tls_session_cipher(s->tls) : "");
	snprintf(number, sizeof(number), "%d", s->tls ? tls_session_cipher_bits(s->tls) : 0);
	policy_request_add(req, "encryption_keysize", number);
	/* postgrey takes etrn_domain as the sign of a Postfix that reads
	 * enhanced status codes in its replies. */
	policy_request_add(req, "etrn_domain", "");
	policy_request_add(req, "stress", "");
	policy_request_add(req, "ccert_pubkey_fingerprint", pkey_fingerprint);
	free(cert_fingerprint);
	free(pkey_fingerprint);
	policy_request_add(req, "client_port", s->client_port);
	char addr[64] = "", port[16] = "";
	session_server_address(s, addr, sizeof(addr), port, sizeof(port));
	policy_request_add(tail, "server_address", addr);
	policy_request_add(tail, "server_port", port);
	policy_request_add(tail, "compatibility_level", "");
	policy_request_add(tail, "mail_version", POSTERN_VERSION);
}

/* The action of the server at spec (asked with req, its policy_context,
 * tail and the request's end), or its default action when none can be
 * had from it. */
static void ask(const struct smtpd_settings *cfg, const char *spec, const struct str *req,
                const struct str *tail, struct str *action)
{
	struct policy_server *srv = server_for(cfg, spec);
	const struct policy_settings *set = &srv->settings;
	struct str whole = STR_INIT;
	str_append(&whole, req->data, req->len);
	policy_request_add(&whole, "policy_context", set->policy_context);
	str_append(&whole, tail->data, tail->len);
	policy_request_end(&whole);
	for (long long attempt = 1;; attempt++) {
		const char *error;
		if (policy_client_ask(srv->client, &whole, &set->limits, action, &error) == 0) {
			str_free(&whole);
			return;
		}
		log_warn("problem talking to server %s: %s", spec, error);
		if (attempt >= set->try_limit)
			break;
		struct timespec ts = {set->retry_delay_ms / 1000,
		                      (set->retry_delay_ms % 1000) * 1000000};
		nanosleep(&ts, NULL);
	}
	str_free(&whole);
	str_set(action, set->default_action);
}

/* Ask each server of specs in turn until one decides. */
static enum access_verdict ask_all(struct session *s, char *const *specs, const struct str *req,
                                   const struct str *tail, struct access_source *src)
{
	enum access_verdict v = ACCESS_GO_ON;
	struct str action = STR_INIT;
	for (size_t i = 0; specs[i] && v == ACCESS_GO_ON; i++) {
		ask(s->cfg, specs[i], req, tail, &action);
		char *origin = xasprintf("policy server %s", specs[i]);
		src->origin = origin;
		v = access_act(s, src, str_cstr(&action));
		free(origin);
	}
	src->origin = NULL;
	str_free(&action);
	return v;
}

/* Mail from mynetworks and authenticated clients is not asked about
 * unless smtpd_policy_service_trusted_clients says so: Postfix's usual
 * restrictions permit those clients before check_policy_service. */
static bool skips_client(const struct session *s)
{
	return !s->cfg->policy_trusted_clients && policy_client_trusted(s);
}

int policy_service_check_rcpt(struct session *s, const char *address)
{
	char *const *specs = s->cfg->policy_services;
	if (specs == NULL || specs[0] == NULL || skips_client(s))
		return 0;
	struct str req = STR_INIT, tail = STR_INIT;
	build_request(s, STATE_RCPT, address, 0, s->declared_size, &req, &tail);
	struct access_source src = {
	    .what = "Recipient address",
	    .subject = address,
	    .stage = STATE_RCPT,
	    .rcpt = address,
	};
	enum access_verdict v = ask_all(s, specs, &req, &tail, &src);
	str_free(&req);
	str_free(&tail);
	return v == ACCESS_REFUSED ? -1 : 0;
}

int policy_service_check_eod(struct session *s, long long size)
{
	char *const *specs = s->cfg->eod_policy_services;
	if (specs == NULL || specs[0] == NULL || skips_client(s))
		return 0;
	/* The recipient only when there is one, as Postfix sends it. */
	const char *rcpt = s->env.rcpt_count == 1 ? s->env.rcpts[0].address : NULL;
	struct str req = STR_INIT, tail = STR_INIT;
	build_request(s, STATE_EOD, rcpt, s->env.rcpt_count, size, &req, &tail);
	/* A copy: session_client's buffer is reused by the log lines. */
	char client[400];
	snprintf(client, sizeof(client), "%s", session_client(s));
	struct access_source src = {
	    .what = "End-of-data",
	    .subject = client,
	    .stage = STATE_EOD,
	    .rcpt = rcpt,
	    .after_headers = true,
	};
	access_deferrals_clear(s);
	enum access_verdict v = ask_all(s, specs, &req, &tail, &src);
	str_free(&req);
	str_free(&tail);
	int rc = v == ACCESS_REFUSED ? -1 : 0;
	if (rc == 0)
		rc = access_deferral_due(s);
	access_deferrals_clear(s);
	if (rc != 0)
		session_log_reject(s, STATE_EOD, rcpt, NULL);
	return rc;
}

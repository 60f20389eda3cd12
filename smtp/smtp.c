/*
 * smtp: the remote delivery agent. qmgr connects to private/smtp and sends
 * one "deliver" request: queue_id, queue_name ("active"), sender, nexthop
 * (a domain, "host:port", "[host]" or "[host]:port"), then per recipient
 * rcpt (s) and index (i); optionally deliver_to (s: with one recipient,
 * the address to send in its place, as local's mailbox_transport passes a
 * user an alias led to; the recipient must still match the queue file,
 * whose DSN details go with it) and verify (i): 1 for an address
 * verification probe (reject_unverified_recipient, sendmail -bv), absent
 * or 0 for a delivery. smtp answers one "result" per recipient (index,
 * state "delivered"|"deferred"|"bounced", status, reason — the remote
 * server's reply when there is one — relay "host[address]:port" or
 * "none", tls: the TLS summary or "none", and for a delivered one dsn
 * "passed"|"relayed") and then "done". A probe does all a delivery does
 * up to and including RCPT TO (routing, EHLO, STARTTLS, AUTH, XFORWARD,
 * MAIL FROM the queue file's sender; smtp_generic_maps on the envelope)
 * and never sends the content: a recipient whose RCPT got 2xx is
 * "delivered" with the reply as the reason ("host ... said: 250 ...")
 * and no dsn attribute, 4xx and 5xx are as for a delivery;
 * no content checks (smtp_header_checks, smtp_body_checks ...) are
 * applied. The queue file
 * is only read. The process keeps one DNS resolver, at most one idle
 * SMTP session for reuse between requests, and this host's addresses for
 * loop detection (Postfix's own_inet_addr and proxy_inet_addr).
 *
 * Built as lmtp (POSTERN_LMTP), the same service is the LMTP client: the
 * request is the same, the next hop an LMTP one ("unix:private/dovecot-lmtp",
 * "inet:host:port", "[host]:port", "host"), relay "name[path]" for a
 * UNIX-domain socket.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"
#include "conf/own_addresses.h"
#include "conf/params.h"
#include "server/server.h"
#include "smtp/smtp.h"
#include "util/alloc.h"
#include "util/ipc.h"
#include "util/log.h"

struct smtp_config smtp_cfg;
static struct generic_map_settings generic_settings;

static const char *const outcome_names[] = {
    [OUT_PENDING] = "deferred",
    [OUT_DELIVERED] = "delivered",
    [OUT_DEFERRED] = "deferred",
    [OUT_BOUNCED] = "bounced",
};

/* The parameter this program reads for the smtp client setting
 * smtp_name: as Postfix's lmtp(8) reads lmtp_X for smtp_X, the lmtp
 * program reads lmtp_X where the parameter table has it (smtp_helo_name
 * and smtp_helo_timeout are lmtp_lhlo_name and lmtp_lhlo_timeout); the
 * other smtp_X settings (TLS files and protocols, the other time limits)
 * are shared with smtp. Valid until the next call. */
static const char *client_param(const char *smtp_name)
{
	static char name[128];
	snprintf(name, sizeof(name), "%s", smtp_name);
	if (!smtp_cfg.lmtp || strncmp(smtp_name, "smtp_", 5) != 0)
		return name;
	const char *rest = smtp_name + 5;
	if (strncmp(rest, "helo_", 5) == 0)
		snprintf(name, sizeof(name), "lmtp_lhlo_%s", rest + 5);
	else
		snprintf(name, sizeof(name), "lmtp_%s", rest);
	const struct param_def *def = param_find(name);
	/* Not a per-service pattern (lmtp_destination_...): the table's own. */
	if (def == NULL || strcmp(def->name, name) != 0)
		snprintf(name, sizeof(name), "%s", smtp_name);
	return name;
}

static int ms(const struct conf *conf, const char *name)
{
	long long v = conf_get_time(conf, client_param(name)) * 1000;
	if (v <= 0)
		v = 1000;
	if (v > 24LL * 3600 * 1000)
		v = 24LL * 3600 * 1000;
	return (int)v;
}

static void load_settings(const struct conf *conf)
{
	smtp_cfg.queue_dir = conf_get(conf, "queue_directory");
	smtp_cfg.myhostname = conf_get(conf, "myhostname");
	smtp_cfg.helo_name = conf_get(conf, client_param("smtp_helo_name"));
	smtp_cfg.default_port = conf_get(conf, client_param("smtp_tcp_port"));
	smtp_cfg.bind_address = conf_get(conf, client_param("smtp_bind_address"));
	smtp_cfg.connect_timeout_ms = ms(conf, "smtp_connect_timeout");
	smtp_cfg.helo_timeout_ms = ms(conf, "smtp_helo_timeout");
	smtp_cfg.starttls_timeout_ms = ms(conf, "smtp_starttls_timeout");
	smtp_cfg.mail_timeout_ms = ms(conf, "smtp_mail_timeout");
	smtp_cfg.rcpt_timeout_ms = ms(conf, "smtp_rcpt_timeout");
	smtp_cfg.data_init_timeout_ms = ms(conf, "smtp_data_init_timeout");
	smtp_cfg.data_xfer_timeout_ms = ms(conf, "smtp_data_xfer_timeout");
	smtp_cfg.data_done_timeout_ms = ms(conf, "smtp_data_done_timeout");
	smtp_cfg.quit_timeout_ms = ms(conf, "smtp_quit_timeout");
	smtp_cfg.rset_timeout_ms = ms(conf, "smtp_rset_timeout");
	smtp_cfg.dns_timeout_ms = ms(conf, "dns_query_timeout");
	long long limit = conf_get_int(conf, client_param("smtp_mx_address_limit"));
	smtp_cfg.max_targets = limit > 0 ? (size_t)limit : 0;
	smtp_cfg.fallback_relays = conf_get_list(conf, client_param("smtp_fallback_relay"));
	/* relayhost is SMTP's: an LMTP next hop is never it. */
	smtp_cfg.relayhost = smtp_cfg.lmtp ? "" : conf_get(conf, "relayhost");
	for (size_t i = 0; smtp_cfg.fallback_relays && smtp_cfg.fallback_relays[i]; i++) {
		struct nexthop nh;
		const char *error = "";
		if (client_nexthop_parse(smtp_cfg.fallback_relays[i], &nh, &error) != 0)
			log_fatal("%s: bad next hop \"%s\": %s",
			          client_param("smtp_fallback_relay"), smtp_cfg.fallback_relays[i],
			          error);
		nexthop_free(&nh);
	}
	long long line_limit = conf_get_int(conf, client_param("smtp_line_length_limit"));
	smtp_cfg.line_length_limit = line_limit > 0 ? (size_t)line_limit : 0;
	smtp_cfg.disable_mime_output_conversion =
	    conf_get_bool(conf, "disable_mime_output_conversion");
	smtp_cfg.tls_policy_maps = conf_get(conf, client_param("smtp_tls_policy_maps"));
	smtp_cfg.verify_match = conf_get(conf, client_param("smtp_tls_verify_cert_match"));
	smtp_cfg.secure_match = conf_get(conf, client_param("smtp_tls_secure_cert_match"));
	smtp_cfg.sasl_password_maps = conf_get(conf, client_param("smtp_sasl_password_maps"));
	smtp_cfg.sender_dependent_auth =
	    conf_get_bool(conf, client_param("smtp_sender_dependent_authentication"));
	smtp_cfg.tls_wrappermode = conf_get_bool(conf, client_param("smtp_tls_wrappermode"));
	smtp_cfg.send_xforward = conf_get_bool(conf, client_param("smtp_send_xforward_command"));
	smtp_cfg.tls_cache_database =
	    conf_get(conf, client_param("smtp_tls_session_cache_database"));
	smtp_cfg.tls_cache_timeout_s =
	    conf_get_time(conf, client_param("smtp_tls_session_cache_timeout"));
	smtp_cfg.cache_time_ms =
	    conf_get_time(conf, client_param("smtp_connection_cache_time_limit")) * 1000;
	smtp_cfg.reuse_time_ms =
	    conf_get_time(conf, client_param("smtp_connection_reuse_time_limit")) * 1000;
	const char *level = conf_get(conf, client_param("smtp_tls_security_level"));
	int lv = tls_level_parse(level);
	if (lv < 0)
		log_fatal("%s: unknown level \"%s\"", client_param("smtp_tls_security_level"),
		          level);
	smtp_cfg.tls_level = (enum tls_level)lv;
	struct tls_policy check = {0};
	char *why = NULL;
	if (tls_policy_parse("verify", smtp_cfg.verify_match, smtp_cfg.secure_match, &check,
	                     &why) != 0 ||
	    tls_policy_parse("secure", smtp_cfg.verify_match, smtp_cfg.secure_match, &check,
	                     &why) != 0)
		log_fatal("smtp_tls_verify_cert_match or smtp_tls_secure_cert_match: %s", why);
	tls_policy_free(&check);
	const char *pref = conf_get(conf, client_param("smtp_address_preference"));
	int fam = dns_family_pref_parse(pref);
	if (fam < 0)
		log_fatal("smtp_address_preference: \"%s\" is not any, ipv4 or ipv6", pref);
	smtp_cfg.family = (enum dns_family_pref)fam;
	char *const *protocols = conf_get_list(conf, "inet_protocols");
	bool v4 = false, v6 = false;
	for (size_t i = 0; protocols && protocols[i]; i++) {
		v4 |= strcmp(protocols[i], "all") == 0 || strcmp(protocols[i], "ipv4") == 0;
		v6 |= strcmp(protocols[i], "all") == 0 || strcmp(protocols[i], "ipv6") == 0;
	}
	if (v4 && !v6)
		smtp_cfg.family = DNS_ONLY_IPV4;
	else if (v6 && !v4)
		smtp_cfg.family = DNS_ONLY_IPV6;
}

static void init(struct server *srv)
{
	const struct conf *conf = server_conf(srv);
	load_settings(conf);
	smtp_cfg.loop = server_loop(srv);
	/* smtp_generic_maps: its tables are opened on first use. */
	generic_settings = (struct generic_map_settings){
	    .maps = conf_get_list(conf, client_param("smtp_generic_maps")),
	    .mydestination = conf_get_list(conf, "mydestination"),
	    .myorigin = conf_get(conf, "myorigin"),
	    .delimiter = conf_get(conf, "recipient_delimiter"),
	    .own_addrs = smtp_cfg.own_addrs,
	};
	if (generic_settings.maps != NULL && generic_settings.maps[0] != NULL)
		smtp_cfg.generic = generic_map_new(&generic_settings);
	smtp_cfg.header_checks = conf_get_list(conf, client_param("smtp_header_checks"));
	smtp_cfg.mime_header_checks = conf_get_list(conf, client_param("smtp_mime_header_checks"));
	smtp_cfg.nested_header_checks =
	    conf_get_list(conf, client_param("smtp_nested_header_checks"));
	smtp_cfg.body_checks = conf_get_list(conf, client_param("smtp_body_checks"));
	smtp_cfg.body_checks_size_limit = conf_get_size(conf, "body_checks_size_limit");
	const char *error = "";
	struct dns_settings ds = {
	    .forwarders = conf_get_list(conf, "dns_forwarders"),
	    .hosts_file = conf_get(conf, "dns_hosts_file"),
	    .trust_anchor_file = conf_get(conf, "dns_trust_anchor_file"),
	};
	smtp_cfg.resolver = dns_resolver_new(&ds, &error);
	if (smtp_cfg.resolver == NULL)
		log_error("DNS unavailable, mail to domains will be deferred: %s", error);
}

/* Before the privilege drop: the client key may be readable by root only;
 * host names in inet_interfaces and proxy_interfaces are looked up before
 * a chroot. */
static void pre_drop(struct server *srv)
{
	const struct conf *conf = server_conf(srv);
	const char *error = "";
	/* An address the host cannot be found at would let mail loop: fatal,
	 * as in Postfix. */
	smtp_cfg.own_addrs = own_addresses(conf, &error);
	if (smtp_cfg.own_addrs == NULL)
		log_fatal("%s", error);
	int min, max;
	if (tls_protocols_parse(conf_get(conf, client_param("smtp_tls_protocols")), &min, &max,
	                        &error) != 0)
		log_fatal("smtp_tls_protocols: %s", error);
	const char *ciphers = conf_get(conf, client_param("smtp_tls_ciphers"));
	if (*ciphers != '\0' && (ciphers = tls_cipher_list(ciphers, &error)) == NULL)
		log_fatal("smtp_tls_ciphers: %s", error);
	struct tls_settings ts = {
	    .ciphers = ciphers,
	    .ca_file = conf_get(conf, client_param("smtp_tls_CAfile")),
	    .ca_path = conf_get(conf, client_param("smtp_tls_CApath")),
	    .protocols = conf_get(conf, client_param("smtp_tls_protocols")),
	    .cert_file = conf_get(conf, client_param("smtp_tls_cert_file")),
	    .key_file = conf_get(conf, client_param("smtp_tls_key_file")),
	    .chain_file = conf_get(conf, client_param("smtp_tls_chain_file")),
	};
	smtp_cfg.tls = tls_client_context(&ts, &error);
	if (smtp_cfg.tls == NULL)
		log_error("TLS unavailable in the smtp client: %s", error);
	/* A session made with other trust anchors or another client
	 * certificate is not resumed. */
	smtp_cfg.tls_cache_context = xasprintf(
	    "CAfile=%s CApath=%s cert=%s key=%s chain=%s protocols=%s ciphers=%s", ts.ca_file,
	    ts.ca_path, ts.cert_file, ts.key_file, ts.chain_file, ts.protocols, ciphers);
}

/* Open and check the queue file; NULL on success, else the reason. */
static char *open_message(const char *queue_id, struct queue_envelope *env,
                          struct smtp_message *msg)
{
	const char *error = "";
	size_t offset = 0;
	char *path = xasprintf("%s/active/%s", smtp_cfg.queue_dir, queue_id);
	char *problem = NULL;
	/* Non-blocking: a FIFO planted in active/ must not hang the open. */
	msg->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (msg->fd < 0)
		problem = xasprintf("cannot open queue file: %s", strerror(errno));
	else if (queue_file_read_fd(msg->fd, env, &offset, &error) != 0)
		problem = xasprintf("cannot read queue file: %s", error);
	free(path);
	if (problem == NULL) {
		for (const char *c = env->sender; *c; c++)
			if ((unsigned char)*c < 0x21 || *c == 0x7f || *c == '<' || *c == '>')
				problem = xstrdup("invalid envelope sender");
	}
	msg->offset = (int64_t)offset;
	msg->size = env->size;
	msg->env = env;
	return problem;
}

/* An address that can go into RCPT TO:<...> as it is. */
static bool address_sendable(const char *a)
{
	if (*a == '\0')
		return false;
	for (const char *c = a; *c; c++)
		if ((unsigned char)*c < 0x21 || *c == 0x7f || *c == '<' || *c == '>')
			return false;
	return true;
}

/* verify: the request was an address verification probe (no dsn: no
 * message went anywhere). */
static int send_result(int fd, const struct smtp_rcpt *r, bool verify, int timeout_ms)
{
	struct ipc_rec *rec = ipc_rec_new("result");
	ipc_rec_add_int(rec, "index", r->index);
	ipc_rec_add_str(rec, "state", outcome_names[r->outcome]);
	ipc_rec_add_str(rec, "status", r->status);
	ipc_rec_add_str(rec, "reason", r->reason ? r->reason : "");
	ipc_rec_add_str(rec, "relay", r->relay ? r->relay : "none");
	ipc_rec_add_str(rec, "tls", r->tls ? r->tls : "none");
	if (r->remote_mta)
		ipc_rec_add_str(rec, "remote_mta", r->remote_mta);
	if (r->diagnostic)
		ipc_rec_add_str(rec, "diagnostic", r->diagnostic);
	if (r->outcome == OUT_DELIVERED && !verify)
		ipc_rec_add_str(rec, "dsn", r->dsn_passed ? "passed" : "relayed");
	int rc = ipc_write(fd, rec, timeout_ms);
	ipc_rec_free(rec);
	return rc;
}

static void serve_request(int fd, const struct ipc_rec *req, int timeout_ms)
{
	const char *queue_id = ipc_rec_get_str(req, "queue_id");
	const char *queue_name = ipc_rec_get_str(req, "queue_name");
	const char *nexthop = ipc_rec_get_str(req, "nexthop");
	if (!queue_id || !queue_id_valid(queue_id) || !queue_name ||
	    strcmp(queue_name, "active") != 0 || nexthop == NULL || *nexthop == '\0') {
		log_warn("malformed deliver request: bad queue_id, queue_name or nexthop");
		return;
	}
	/* verify: absent or 0 is a delivery; anything else but 1 is not a
	 * request to guess at (a probe taken for a delivery would send mail):
	 * "done" alone, and qmgr defers every recipient. */
	const struct ipc_attr *a_verify = ipc_rec_find(req, "verify");
	if (a_verify != NULL &&
	    (a_verify->type != IPC_INT || (a_verify->num != 0 && a_verify->num != 1))) {
		log_warn("%s: malformed deliver request: bad verify", queue_id);
		struct ipc_rec *done = ipc_rec_new("done");
		(void)ipc_write(fd, done, timeout_ms);
		ipc_rec_free(done);
		return;
	}
	struct queue_envelope env;
	queue_envelope_init(&env);
	struct smtp_message msg = {.fd = -1, .verify = a_verify != NULL && a_verify->num == 1};
	char *problem = open_message(queue_id, &env, &msg);
	if (problem) {
		log_warn("%s: %s", queue_id, problem);
	} else if (!msg.verify && queue_envelope_is_verify(&env)) {
		/* A verify message is delivered to nobody, whatever the request. */
		log_warn("%s: deliver request without verify for a verify message: verifying",
		         queue_id);
		msg.verify = true;
	}
	if (msg.verify)
		log_info("%s: address verification probe via %s", queue_id, nexthop);
	/* local's mailbox_transport passes one recipient, perhaps as another
	 * address (deliver_to): the queue file's recipient is still checked. */
	const char *deliver_to = ipc_rec_get_str(req, "deliver_to");
	size_t count = 0;
	while (ipc_rec_get_nth(req, "rcpt", count) || ipc_rec_get_nth(req, "index", count))
		count++;
	struct smtp_rcpt *rcpts = xcalloc(count ? count : 1, sizeof(*rcpts));
	size_t n = 0;
	for (size_t i = 0; i < count; i++) {
		const struct ipc_attr *a_rcpt = ipc_rec_get_nth(req, "rcpt", i);
		const struct ipc_attr *a_index = ipc_rec_get_nth(req, "index", i);
		if (!a_rcpt || !a_index || a_rcpt->type != IPC_STR || a_index->type != IPC_INT) {
			log_warn("%s: malformed deliver request: recipient %zu", queue_id, i);
			break;
		}
		struct smtp_rcpt *r = &rcpts[n++];
		r->index = a_index->num;
		r->address = a_rcpt->value;
		bool matches = problem == NULL && a_index->num >= 0 &&
		               (uint64_t)a_index->num < env.rcpt_count &&
		               strcmp(env.rcpts[a_index->num].address, a_rcpt->value) == 0;
		if (problem) {
			rcpt_set(r, OUT_DEFERRED, "4.3.0", problem);
			r->held = true;
		} else if (!matches) {
			rcpt_set(r, OUT_DEFERRED, "4.3.0",
			         "recipient does not match the queue file");
			r->held = true;
		} else if (deliver_to != NULL && (count != 1 || !address_sendable(deliver_to))) {
			rcpt_set(r, OUT_DEFERRED, "4.3.0", "bad deliver_to in the request");
			r->held = true;
		} else if (deliver_to != NULL) {
			/* local's mailbox_transport: the mailbox owner an alias or
			 * a .forward led to, with this recipient's DSN details. */
			r->address = deliver_to;
			r->orcpt = env.rcpts[a_index->num].orcpt;
			r->notify = env.rcpts[a_index->num].notify;
		} else if (!address_sendable(r->address)) {
			rcpt_set(r, OUT_BOUNCED, "5.1.3", "bad address syntax");
		} else {
			r->orcpt = env.rcpts[a_index->num].orcpt;
			r->notify = env.rcpts[a_index->num].notify;
		}
	}
	/* Nothing goes out when the queue file cannot be read (every
	 * recipient is deferred above); a probe sends no content: no header
	 * checks for it. */
	if (problem == NULL && generic_apply(queue_id, &msg, rcpts, n) == 0 &&
	    (msg.verify || header_checks_apply(queue_id, &msg, rcpts, n) == 0))
		deliver_message(nexthop, &msg, rcpts, n);
	for (size_t i = 0; i < n; i++) {
		if (send_result(fd, &rcpts[i], msg.verify, timeout_ms) != 0) {
			log_warn("%s: lost connection to qmgr: %m", queue_id);
			break;
		}
	}
	struct ipc_rec *done = ipc_rec_new("done");
	(void)ipc_write(fd, done, timeout_ms);
	ipc_rec_free(done);
	for (size_t i = 0; i < n; i++) {
		free(rcpts[i].reason);
		free(rcpts[i].relay);
		free(rcpts[i].tls);
		free(rcpts[i].remote_mta);
		free(rcpts[i].diagnostic);
	}
	generic_release(&msg, rcpts, n);
	free(rcpts);
	free(problem);
	if (msg.fd >= 0)
		close(msg.fd);
	queue_envelope_free(&env);
}

static void serve(struct server *srv, int fd)
{
	int timeout_ms;
	struct ipc_rec *req;
	/* qmgr may send more requests on the same connection. */
	while ((req = server_read_request(srv, fd, "deliver", &timeout_ms)) != NULL) {
		serve_request(fd, req, timeout_ms);
		ipc_rec_free(req);
	}
}

static void shutdown_service(struct server *srv)
{
	(void)srv;
	deliver_drop_cached();
	smtp_tls_cache_close();
	free(smtp_cfg.tls_cache_context);
	if (smtp_cfg.tls_policy)
		table_close(smtp_cfg.tls_policy);
	if (smtp_cfg.sasl_passwords)
		table_close(smtp_cfg.sasl_passwords);
	generic_map_free(smtp_cfg.generic);
	tls_context_free(smtp_cfg.tls);
	dns_resolver_free(smtp_cfg.resolver);
	addr_set_free(smtp_cfg.own_addrs);
	bool lmtp = smtp_cfg.lmtp;
	memset(&smtp_cfg, 0, sizeof(smtp_cfg));
	smtp_cfg.lmtp = lmtp;
}

int main(int argc, char **argv)
{
	/* lmtp is these sources built with POSTERN_LMTP (smtp/CMakeLists.txt). */
#ifdef POSTERN_LMTP
	smtp_cfg.lmtp = true;
#endif
	static const struct server_ops ops = {
	    .mode = SERVER_SINGLE,
	    .pre_drop = pre_drop,
	    .init = init,
	    .serve = serve,
	    .shutdown = shutdown_service,
	};
	return server_main(argc, argv, &ops, NULL);
}

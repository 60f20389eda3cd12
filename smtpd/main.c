/*
 * smtpd: settings from main.conf (with master.conf -o overrides), the TLS
 * context (loaded before privileges are dropped, so the key may be
 * readable by root only), and the service entry point.
 */
#include <stdlib.h>
#include <string.h>

#include "mail/notify_classes.h"
#include "mail/receive_options.h"
#include "milter/milter_conf.h"
#include "server/server.h"
#include "smtp/address.h"
#include "smtpd/smtpd.h"
#include "tls/tls_sni.h"
#include "tls/tls_tickets.h"
#include "util/alloc.h"
#include "util/log.h"

static struct smtpd_settings settings;

static struct cidr_list *networks(const struct conf *conf, const char *name)
{
	char *bad = NULL;
	struct cidr_list *list = cidr_list_parse(conf_get_list(conf, name), &bad);
	if (list == NULL)
		log_fatal("%s: bad network address \"%s\"", name, bad);
	return list;
}

static enum tls_level tls_level(const char *value)
{
	if (strcmp(value, "none") == 0 || *value == '\0')
		return TLS_NONE;
	if (strcmp(value, "may") == 0)
		return TLS_MAY;
	if (strcmp(value, "encrypt") == 0)
		return TLS_ENCRYPT;
	log_fatal("smtpd_tls_security_level: \"%s\" is not none, may or encrypt", value);
}

static enum bare_newline_policy bare_policy(const char *value)
{
	if (strcmp(value, "yes") == 0 || strcmp(value, "reject") == 0)
		return BARE_REJECT;
	if (strcmp(value, "normalize") == 0)
		return BARE_NORMALIZE;
	if (strcmp(value, "no") == 0)
		return BARE_ALLOW;
	log_fatal("smtpd_forbid_bare_newline: \"%s\" is not yes, normalize or no", value);
}

static int bcc_lookup(void *ctx, const char *spec, const char *key, struct str *value)
{
	(void)ctx;
	return policy_table_value(spec, key, value);
}

/* Whether name can stand after the '@' of an address (a domain or an
 * address literal), as remote_header_rewrite_domain must. */
static bool is_domain(const char *name)
{
	char *mailbox = xasprintf("postmaster@%s", name);
	struct address a;
	const char *error = "";
	bool ok = address_parse(mailbox, strlen(mailbox), true, &a, &error) == 0;
	if (ok)
		address_free(&a);
	free(mailbox);
	return ok;
}

static void load_settings(struct server *srv)
{
	const struct conf *conf = server_conf(srv);
	struct smtpd_settings *c = &settings;
	c->conf = conf;
	c->hostname = conf_get(conf, "myhostname");
	c->reject_footer = conf_get_raw(conf, "smtpd_reject_footer");
	c->any_local_part = *conf_get(conf, "fallback_transport") != '\0' ||
	                    *conf_get_raw(conf, "luser_relay") != '\0';
	c->fallback_maps = conf_get_list(conf, "fallback_transport_maps");
	c->banner = conf_get(conf, "smtpd_banner");
	c->queue_dir = conf_get(conf, "queue_directory");
	c->data_dir = conf_get(conf, "data_directory");
	c->connection_count_limit = conf_get_int(conf, "smtpd_client_connection_count_limit");
	c->service_name = server_service_name(srv);
	c->event_limit_exceptions = networks(conf, "smtpd_client_event_limit_exceptions");
	c->rate_time_unit = conf_get_time(conf, "anvil_rate_time_unit");
	c->connection_rate_limit = conf_get_int(conf, "smtpd_client_connection_rate_limit");
	c->message_rate_limit = conf_get_int(conf, "smtpd_client_message_rate_limit");
	c->recipient_rate_limit = conf_get_int(conf, "smtpd_client_recipient_rate_limit");
	c->auth_rate_limit = conf_get_int(conf, "smtpd_client_auth_rate_limit");
	c->newtls_rate_limit = conf_get_int(conf, "smtpd_client_new_tls_session_rate_limit");
	c->tls_level = tls_level(conf_get(conf, "smtpd_tls_security_level"));
	c->wrapper_mode = conf_get_bool(conf, "smtpd_tls_wrappermode");
	c->auth_enable = conf_get_bool(conf, "smtpd_sasl_auth_enable");
	c->auth_header = conf_get_bool(conf, "smtpd_sasl_authenticated_header");
	c->auth_required = conf_get_bool(conf, "smtpd_auth_required");
	c->tls_auth_only = conf_get_bool(conf, "smtpd_tls_auth_only");
	c->add_missing_headers = conf_get_bool(conf, "smtpd_add_missing_headers");
	c->vrfy_disabled = conf_get_bool(conf, "disable_vrfy_command");
	c->helo_required = conf_get_bool(conf, "smtpd_helo_required");
	c->peername_lookup = conf_get_bool(conf, "smtpd_peername_lookup");
	c->bare_newline = bare_policy(conf_get(conf, "smtpd_forbid_bare_newline"));
	c->message_size_limit = conf_get_size(conf, "message_size_limit");
	c->queue_minfree = conf_get_size(conf, "queue_minfree");
	c->recipient_limit = conf_get_int(conf, "smtpd_recipient_limit");
	c->recipient_overshoot_limit = conf_get_int(conf, "smtpd_recipient_overshoot_limit");
	/* RFC 5321 4.5.3.1.4: clients may send command lines of 512 bytes. */
	c->line_length_limit = conf_get_int(conf, "line_length_limit");
	if (c->line_length_limit < 512)
		log_fatal("line_length_limit must be at least 512");
	c->hard_error_limit = conf_get_int(conf, "smtpd_hard_error_limit");
	c->soft_error_limit = conf_get_int(conf, "smtpd_soft_error_limit");
	c->error_sleep_ms = conf_get_time(conf, "smtpd_error_sleep_time") * 1000;
	c->junk_command_limit = conf_get_int(conf, "smtpd_junk_command_limit");
	c->auth_failure_limit = conf_get_int(conf, "smtpd_auth_failure_limit");
	c->timeout_ms = conf_get_time(conf, "smtpd_timeout") * 1000;
	c->starttls_timeout_ms = conf_get_time(conf, "smtpd_starttls_timeout") * 1000;
	c->greet_pause_ms = conf_get_time(conf, "smtpd_greet_pause") * 1000;
	const char *proxy = conf_get(conf, "smtpd_upstream_proxy_protocol");
	if (*proxy != '\0' && strcmp(proxy, "haproxy") != 0)
		log_fatal("smtpd_upstream_proxy_protocol: \"%s\" is not haproxy (or empty)", proxy);
	c->upstream_proxy = *proxy != '\0';
	c->upstream_proxy_timeout_ms = conf_get_time(conf, "smtpd_upstream_proxy_timeout") * 1000;
	c->mynetworks = networks(conf, "mynetworks");
	c->auth_exempt_networks = networks(conf, "smtpd_tls_auth_only_exempt");
	c->xforward_hosts = networks(conf, "smtpd_authorized_xforward_hosts");
	c->mydestination = conf_get_list(conf, "mydestination");
	c->virtual_domains = conf_get_list(conf, "virtual_mailbox_domains");
	c->relay_domains = conf_get_list(conf, "relay_domains");
	c->relay_recipient_maps = conf_get_list(conf, "relay_recipient_maps");
	bcc_config_from_conf(&c->bcc, conf);
	c->soft_bounce = conf_get_bool(conf, "soft_bounce");
	c->strict_envelopes = conf_get_bool(conf, "strict_rfc821_envelopes");
	c->content_filter = conf_get(conf, "content_filter");
	if (*c->content_filter && !content_filter_valid(c->content_filter))
		log_fatal("content_filter: \"%s\" is not transport:destination", c->content_filter);
	const char *bad;
	if (receive_options_parse(conf_get_list(conf, "receive_override_options"),
	                          &c->receive_options, &bad) != 0)
		log_fatal("receive_override_options: unknown option \"%s\"", bad);
	unsigned classes;
	if (notify_classes_parse(conf_get_list(conf, "notify_classes"), &classes, &bad) != 0)
		log_fatal("notify_classes: unknown class \"%s\"", bad);
	c->notify_classes = classes;
	const char *notice_rcpt = conf_get(conf, "error_notice_recipient");
	if (*notice_rcpt == '\0')
		log_fatal("error_notice_recipient must not be empty");
	c->error_notice_recipient =
	    strchr(notice_rcpt, '@') != NULL
	        ? xstrdup(notice_rcpt)
	        : xasprintf("%s@%s", notice_rcpt, conf_get(conf, "myorigin"));
	c->discard_ehlo_keywords = conf_get_list(conf, "smtpd_discard_ehlo_keywords");
	c->hopcount_limit = conf_get_int(conf, "hopcount_limit");
	c->bcc.lookup = bcc_lookup;
	c->virtual_maps = conf_get(conf, "virtual_mailbox_maps");
	c->alias_maps = conf_get_list(conf, "alias_maps");
	c->recipient_delimiter = conf_get(conf, "recipient_delimiter");
	c->virtual_alias = virtual_alias_from_conf(conf);
	c->auth_socket = xasprintf("%s/private/auth", c->queue_dir);
	auth_setup(c, conf);
	c->qmgr_socket = xasprintf("%s/public/qmgr", c->queue_dir);
	const char *error;
	c->canonical = canonical_from_conf(conf, &error);
	if (c->canonical == NULL)
		log_fatal("%s", error);
	if (canonical_header_clients_parse(conf_get_list(conf, "local_header_rewrite_clients"),
	                                   &c->header_rewrite_clients, &error) != 0)
		log_fatal("local_header_rewrite_clients: \"%s\" is not permit_inet_interfaces, "
		          "permit_mynetworks, permit_sasl_authenticated or static:all",
		          error);
	c->remote_header_domain = conf_get(conf, "remote_header_rewrite_domain");
	if (*c->remote_header_domain && !is_domain(c->remote_header_domain))
		log_fatal("remote_header_rewrite_domain: \"%s\" is not a domain",
		          c->remote_header_domain);
	if (*c->remote_header_domain == '\0')
		c->remote_header_domain = NULL;
	c->local_header_domain =
	    conf_get_bool(conf, "append_at_myorigin") ? conf_get(conf, "myorigin") : NULL;
	if (milter_defaults_from_conf(conf, &c->milter_defaults, &error) != 0)
		log_fatal("%s", error);
	struct milter_chain *check = milter_chain_new(
	    conf_get(conf, "smtpd_milters"), &c->milter_defaults, NULL, NULL, NULL, &error);
	if (check == NULL)
		log_fatal("smtpd_milters: %s", error);
	milter_chain_free(check);
	c->milter_daemon_name = conf_get(conf, "milter_macro_daemon_name");
	c->milter_macro_v = conf_get(conf, "milter_macro_v");
	c->client_access_maps = conf_get_list(conf, "smtpd_client_access_maps");
	c->helo_access_maps = conf_get_list(conf, "smtpd_helo_access_maps");
	c->sender_access_maps = conf_get_list(conf, "smtpd_sender_access_maps");
	c->recipient_access_maps = conf_get_list(conf, "smtpd_recipient_access_maps");
	c->access_reject_code = conf_get_int(conf, "access_map_reject_code");
	c->access_defer_code = conf_get_int(conf, "access_map_defer_code");
	if (c->access_reject_code < 400 || c->access_reject_code > 599 ||
	    c->access_defer_code < 400 || c->access_defer_code > 499)
		log_fatal(
		    "access_map_reject_code must be 4NN or 5NN and access_map_defer_code 4NN");
	c->dnsbl_sites = conf_get_list(conf, "smtpd_dnsbl_sites");
	c->dnsbl_timeout_ms = conf_get_time(conf, "smtpd_dnsbl_timeout") * 1000;
	c->dnsbl_reply_code = conf_get_int(conf, "smtpd_dnsbl_reply_code");
	c->rhsbl_client_sites = conf_get_list(conf, "smtpd_rhsbl_client_sites");
	c->rhsbl_reverse_client_sites = conf_get_list(conf, "smtpd_rhsbl_reverse_client_sites");
	c->rhsbl_helo_sites = conf_get_list(conf, "smtpd_rhsbl_helo_sites");
	c->rhsbl_sender_sites = conf_get_list(conf, "smtpd_rhsbl_sender_sites");
	c->rhsbl_recipient_sites = conf_get_list(conf, "smtpd_rhsbl_recipient_sites");
	c->reject_unknown_sender_domain = conf_get_bool(conf, "smtpd_reject_unknown_sender_domain");
	c->reject_unknown_recipient_domain =
	    conf_get_bool(conf, "smtpd_reject_unknown_recipient_domain");
	c->reject_unknown_helo = conf_get_bool(conf, "smtpd_reject_unknown_helo_hostname");
	c->reject_unknown_client = conf_get_bool(conf, "smtpd_reject_unknown_client_hostname");
	c->reject_unknown_reverse_client =
	    conf_get_bool(conf, "smtpd_reject_unknown_reverse_client_hostname");
	c->unknown_client_reject_code = conf_get_int(conf, "unknown_client_reject_code");
	c->dns_hosts_file = conf_get(conf, "dns_hosts_file");
	if (c->unknown_client_reject_code < 400 || c->unknown_client_reject_code > 599)
		log_fatal("unknown_client_reject_code must be 4NN or 5NN");
	if ((c->reject_unknown_client || c->reject_unknown_reverse_client) && !c->peername_lookup)
		log_warn("smtpd_peername_lookup = no: smtpd_reject_unknown_client_hostname and "
		         "smtpd_reject_unknown_reverse_client_hostname are not applied");
	c->unknown_hostname_reject_code = conf_get_int(conf, "unknown_hostname_reject_code");
	if (c->unknown_hostname_reject_code < 400 || c->unknown_hostname_reject_code > 599)
		log_fatal("unknown_hostname_reject_code must be 4NN or 5NN");
	c->reject_invalid_helo = conf_get_bool(conf, "smtpd_reject_invalid_helo_hostname");
	c->reject_non_fqdn_helo = conf_get_bool(conf, "smtpd_reject_non_fqdn_helo_hostname");
	c->reject_non_fqdn_sender = conf_get_bool(conf, "smtpd_reject_non_fqdn_sender");
	c->reject_non_fqdn_recipient = conf_get_bool(conf, "smtpd_reject_non_fqdn_recipient");
	c->invalid_hostname_reject_code = conf_get_int(conf, "invalid_hostname_reject_code");
	c->non_fqdn_reject_code = conf_get_int(conf, "non_fqdn_reject_code");
	if (c->invalid_hostname_reject_code < 400 || c->invalid_hostname_reject_code > 599 ||
	    c->non_fqdn_reject_code < 400 || c->non_fqdn_reject_code > 599)
		log_fatal(
		    "invalid_hostname_reject_code and non_fqdn_reject_code must be 4NN or 5NN");
	c->sender_login_maps = conf_get_list(conf, "smtpd_sender_login_maps");
	const char *login_mode = conf_get(conf, "smtpd_reject_sender_login_mismatch");
	if (!sender_login_mode_parse(login_mode, &c->sender_login_mode))
		log_fatal(
		    "smtpd_reject_sender_login_mismatch: \"%s\" is not " SENDER_LOGIN_MODE_WORDS,
		    login_mode);
	content_checks_setup(c, conf);
	policy_service_setup(c, conf);
	clientcerts_setup(c, conf);
	verify_setup(c, conf);
	proxy_filter_setup(c, conf);
	c->unknown_address_reject_code = conf_get_int(conf, "unknown_address_reject_code");
	c->dns_timeout_ms = conf_get_time(conf, "dns_query_timeout") * 1000;
	if (c->unknown_address_reject_code < 400 || c->unknown_address_reject_code > 599)
		log_fatal("unknown_address_reject_code must be 4NN or 5NN");
	if (c->dnsbl_reply_code < 400 || c->dnsbl_reply_code > 599)
		log_fatal("smtpd_dnsbl_reply_code must be 4NN or 5NN");
	if ((c->tls_level == TLS_ENCRYPT || c->wrapper_mode) && c->tls == NULL)
		log_fatal("TLS is required on this service but no certificate could be loaded "
		          "(smtpd_tls_cert_file)");
}

/* Before the privilege drop: the private key may be readable by root only. */
static void pre_drop(struct server *srv)
{
	const struct conf *conf = server_conf(srv);
	const char *cert = conf_get(conf, "smtpd_tls_cert_file");
	if (*cert == '\0') {
		if (*conf_get(conf, "tls_server_sni_maps") != '\0')
			log_warn("tls_server_sni_maps is set but smtpd_tls_cert_file is not: no "
			         "TLS on this "
			         "service (the SNI certificates need a default one)");
		return;
	}
	struct tls_settings ts = {
	    .cert_file = cert,
	    .key_file = conf_get(conf, "smtpd_tls_key_file"),
	    .chain_file = conf_get(conf, "smtpd_tls_chain_file"),
	    .protocols = conf_get(conf, "smtpd_tls_protocols"),
	    .ciphers = conf_get(conf, "smtpd_tls_cipher_list"),
	    .ca_file = conf_get(conf, "smtpd_tls_CAfile"),
	    .ca_path = conf_get(conf, "smtpd_tls_CApath"),
	    .ask_client_cert = conf_get_bool(conf, "smtpd_tls_ask_ccert"),
	    .ticket_lifetime_s =
	        tls_ticket_lifetime(conf_get_time(conf, "smtpd_tls_session_cache_timeout")),
	};
	const char *error;
	settings.tls = tls_server_context(&ts, &error);
	if (settings.tls == NULL)
		log_error("TLS disabled: %s", error);
	else
		tls_sni_setup(settings.tls, conf_get(conf, "tls_server_sni_maps"));
}

static void init(struct server *srv)
{
	load_settings(srv);
}

static void serve(struct server *srv, int fd)
{
	(void)srv;
	session_run(&settings, fd);
}

static void shutdown_service(struct server *srv)
{
	(void)srv;
	verify_shutdown();
}

int main(int argc, char **argv)
{
	static const struct server_ops ops = {
	    .mode = SERVER_SINGLE,
	    .pre_drop = pre_drop,
	    .init = init,
	    .serve = serve,
	    .shutdown = shutdown_service,
	};
	return server_main(argc, argv, &ops, NULL);
}

/*
 * mailctl check: validate main.conf and master.conf and the paths, users
 * and programs they name (and the services that per-transport parameters
 * and the transports of the address classes, local_transport and the
 * like, name), smtpd's DNS blocklist entries and policy servers, the
 * smtp client's TLS policy table source, the certificate files of
 * tls_server_sni_maps, and relaying by client certificate
 * (relay_clientcerts). Prints every problem as
 * "file:line: message" (or "file: parameter: message" for a default) and exits 1 if any is an
 * error.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/dovecot_auth.h"
#include "conf/bounce_template.h"
#include "conf/conf.h"
#include "conf/masterconf.h"
#include "conf/params.h"
#include "conf/postfix_hints.h"
#include "dns/dnsbl.h"
#include "mail/canonical.h"
#include "mail/notify_classes.h"
#include "mail/receive_options.h"
#include "mail/route.h"
#include "mailctl/mailctl.h"
#include "milter/milter_conf.h"
#include "policy/policy_entry.h"
#include "policy/policy_proto.h"
#include "smtp/access_action.h"
#include "smtp/sender_login_mode.h"
#include "smtp/tls_policy.h"
#include "table/table.h"
#include "table/table_source.h"
#include "tls/tls.h"
#include "tls/tls_session_cache.h"
#include "tls/tls_sni.h"
#include "util/alloc.h"
#include "util/cidr.h"
#include "util/privs.h"
#include "util/sock.h"
#include "util/str.h"

struct checker {
	struct conf *conf;
	char *main_path;
	const struct service_list *services; /* master.conf's */
	int errors;
	int warnings;
};

static void report(struct checker *ck, bool error, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void report(struct checker *ck, bool error, const char *where, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("%s: %s", where, error ? "error: " : "warning: ");
	vprintf(fmt, ap);
	putchar('\n');
	va_end(ap);
	if (error)
		ck->errors++;
	else
		ck->warnings++;
}

/* "main.conf:12" where the parameter was set, else "main.conf (default NAME)". */
static char *param_where(struct checker *ck, const char *name)
{
	const char *file;
	int line;
	if (conf_origin(ck->conf, name, &file, &line) && line > 0)
		return xasprintf("%s:%d", file, line);
	return xasprintf("%s (default %s)", ck->main_path, name);
}

static void check_dir_param(struct checker *ck, const char *name, bool may_be_created)
{
	const char *path = conf_get(ck->conf, name);
	char *where = param_where(ck, name);
	struct stat st;
	if (path[0] != '/') {
		report(ck, true, where, "%s = %s: not an absolute path", name, path);
	} else if (stat(path, &st) != 0) {
		if (!may_be_created || errno != ENOENT) {
			report(ck, true, where, "%s = %s: %s", name, path, strerror(errno));
		} else {
			char *parent = xstrdup(path);
			char *slash = strrchr(parent, '/');
			if (slash && slash != parent)
				*slash = '\0';
			if (stat(parent, &st) != 0 || !S_ISDIR(st.st_mode))
				report(ck, true, where, "%s = %s: neither it nor its parent exists",
				       name, path);
			else
				report(ck, false, where,
				       "%s = %s does not exist yet; master creates it", name, path);
			free(parent);
		}
	} else if (!S_ISDIR(st.st_mode)) {
		report(ck, true, where, "%s = %s: not a directory", name, path);
	}
	free(where);
}

static void check_user_param(struct checker *ck, const char *name)
{
	uid_t uid;
	gid_t gid;
	const char *error;
	const char *user = conf_get(ck->conf, name);
	if (privs_lookup(user, &uid, &gid, &error) == 0)
		return;
	char *where = param_where(ck, name);
	/* An unprivileged instance runs everything as its own user. */
	report(ck, privs_are_root(), where, "%s = %s: %s", name, user, error);
	free(where);
}

/* The milter lists and settings, as smtpd and pickup will read them. */
static void check_milter_params(struct checker *ck)
{
	struct milter_defaults d;
	const char *error;
	if (milter_defaults_from_conf(ck->conf, &d, &error) != 0) {
		const char *name = strncmp(error, "milter_protocol", 15) == 0
		                       ? "milter_protocol"
		                       : "milter_default_action";
		char *where = param_where(ck, name);
		report(ck, true, where, "%s", error);
		free(where);
		return;
	}
	static const char *const lists[] = {"smtpd_milters", "non_smtpd_milters"};
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		struct milter_spec *specs;
		size_t count;
		if (milter_specs_parse(conf_get(ck->conf, lists[i]), &d, &specs, &count, &error) ==
		    0) {
			milter_specs_free(specs, count);
			continue;
		}
		char *where = param_where(ck, lists[i]);
		report(ck, true, where, "%s: %s", lists[i], error);
		free(where);
	}
}

/* The lists of client networks (address/prefix) smtpd matches clients with. */
static void check_networks(struct checker *ck)
{
	static const char *const names[] = {"mynetworks", "smtpd_client_event_limit_exceptions",
	                                    "smtpd_tls_auth_only_exempt",
	                                    "smtpd_authorized_xforward_hosts"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char *bad = NULL;
		struct cidr_list *list = cidr_list_parse(conf_get_list(ck->conf, names[i]), &bad);
		if (list == NULL) {
			char *where = param_where(ck, names[i]);
			report(ck, true, where, "%s: \"%s\" is not an address or address/prefix",
			       names[i], bad ? bad : "");
			free(where);
		}
		cidr_list_free(list);
		free(bad);
	}
}

/* Every entry of the DNS and domain blocklists (smtpd would ignore a bad
 * one) and their reply code. */
static void check_dnsbl(struct checker *ck)
{
	static const char *const lists[] = {
	    "smtpd_dnsbl_sites",
	    "smtpd_rhsbl_client_sites",
	    "smtpd_rhsbl_reverse_client_sites",
	    "smtpd_rhsbl_helo_sites",
	    "smtpd_rhsbl_sender_sites",
	    "smtpd_rhsbl_recipient_sites",
	};
	for (size_t l = 0; l < sizeof(lists) / sizeof(lists[0]); l++) {
		char *const *entries = conf_get_list(ck->conf, lists[l]);
		for (size_t i = 0; entries && entries[i]; i++) {
			struct dnsbl_site site;
			const char *error;
			if (dnsbl_site_parse(entries[i], &site, &error) != 0) {
				char *where = param_where(ck, lists[l]);
				report(ck, true, where, "%s: \"%s\": %s", lists[l], entries[i],
				       error);
				free(where);
			}
			dnsbl_site_free(&site);
		}
	}
	long long code = conf_get_int(ck->conf, "smtpd_dnsbl_reply_code");
	if (code < 400 || code > 599) {
		char *where = param_where(ck, "smtpd_dnsbl_reply_code");
		report(ck, true, where, "smtpd_dnsbl_reply_code = %lld: expected 4NN or 5NN", code);
		free(where);
	}
}

/* Every entry of the list name parses: its settings in braces, if any,
 * then its endpoint. */
static void check_policy_endpoints(struct checker *ck, const struct conf *conf, const char *name,
                                   const char *where, const char *prefix)
{
	char *const *specs = conf_get_list(conf, name);
	struct policy_settings defaults = {
	    .limits.timeout_ms = 1000,
	    .try_limit = 1,
	    .default_action = (char *)"DUNNO",
	    .policy_context = (char *)"",
	};
	for (size_t i = 0; specs && specs[i]; i++) {
		struct policy_entry e;
		const char *error;
		if (policy_entry_parse(specs[i], &defaults, &e, &error) != 0) {
			report(ck, true, where, "%s%s: \"%s\": %s", prefix, name, specs[i], error);
			continue;
		}
		struct access_action a;
		access_action_parse(e.settings.default_action, 554, 450, &a);
		struct policy_endpoint ep;
		if (a.kind == ACCESS_INVALID || a.kind == ACCESS_IGNORED)
			report(ck, true, where, "%s%s: \"%s\": default_action: %s", prefix, name,
			       specs[i], a.error);
		else if (policy_endpoint_parse(e.endpoint, conf_get(conf, "queue_directory"), &ep,
		                               &error) != 0)
			report(ck, true, where, "%s%s: \"%s\": %s", prefix, name, specs[i], error);
		else
			policy_endpoint_free(&ep);
		policy_entry_free(&e);
	}
}

/* An access action smtpd can take (read with its reply codes). */
static void check_policy_action(struct checker *ck, const struct conf *conf, const char *name,
                                const char *where, const char *prefix)
{
	const char *value = conf_get(conf, name);
	struct access_action a;
	access_action_parse(value, 554, 450, &a);
	if (a.kind == ACCESS_INVALID || a.kind == ACCESS_IGNORED)
		report(ck, true, where, "%s%s: \"%s\": %s", prefix, name, value, a.error);
}

static void check_fingerprint_digest(struct checker *ck, const struct conf *conf, const char *name,
                                     const char *where, const char *prefix)
{
	const char *value = conf_get(conf, name);
	if (!tls_fingerprint_digest_known(value))
		report(ck, true, where, "%s%s = %s: not a digest OpenSSL knows", prefix, name,
		       value);
}

static void check_content_filter(struct checker *ck, const struct conf *conf, const char *name,
                                 const char *where, const char *prefix)
{
	const char *value = conf_get(conf, name);
	if (*value && !content_filter_valid(value))
		report(ck, true, where, "%s%s = %s: not transport:destination", prefix, name,
		       value);
}

static void check_receive_options(struct checker *ck, const struct conf *conf, const char *name,
                                  const char *where, const char *prefix)
{
	unsigned flags;
	const char *bad;
	if (receive_options_parse(conf_get_list(conf, name), &flags, &bad) != 0)
		report(ck, true, where, "%s%s: unknown option \"%s\"", prefix, name, bad);
}

/* smtpd_sasl_type, and for dovecot smtpd_sasl_path: Dovecot's socket
 * should be there (a warning: Dovecot makes it, and may start later), and
 * must not be one that master binds for a service of its own (Postern's
 * auth service listens on the default, private/auth). */
static void check_sasl(struct checker *ck, const struct conf *conf, const char *name,
                       const char *where, const char *prefix)
{
	const char *type = conf_get(conf, name);
	const char *path = conf_get(conf, "smtpd_sasl_path");
	const char *queue_dir = conf_get(conf, "queue_directory");
	const char *error;
	bool dovecot;
	struct dovecot_endpoint ep;
	if (dovecot_auth_type_parse(type, &dovecot, &error) != 0) {
		report(ck, true, where, "%s%s = %s: %s", prefix, name, type, error);
		return;
	}
	if (!dovecot)
		return;
	if (dovecot_endpoint_parse(path, queue_dir, &ep, &error) != 0) {
		report(ck, true, where, "%s%s = dovecot, smtpd_sasl_path = %s: %s", prefix, name,
		       path, error);
		return;
	}
	/* The path as given, and where it is if that is another name. */
	bool renamed = ep.path != NULL && strcmp(ep.path, path) != 0;
	char *shown = xasprintf("%s%s%s%s", path, renamed ? " (" : "", renamed ? ep.path : "",
	                        renamed ? ")" : "");
	struct stat st;
	if (ep.path != NULL && stat(ep.path, &st) != 0)
		report(
		    ck, false, where,
		    "%s%s = dovecot, smtpd_sasl_path = %s: %s (until Dovecot listens there, AUTH "
		    "is answered 454 4.7.0)",
		    prefix, name, shown, strerror(errno));
	else if (ep.path != NULL && !S_ISSOCK(st.st_mode))
		report(ck, false, where, "%s%s = dovecot, smtpd_sasl_path = %s: not a socket",
		       prefix, name, shown);
	free(shown);
	for (size_t i = 0; ep.path && ck->services && i < ck->services->count; i++) {
		const struct service_def *d = &ck->services->items[i];
		if (d->type == SERVICE_INET)
			continue;
		char *own = xasprintf("%s/%s/%s", queue_dir,
		                      d->private_socket ? "private" : "public", d->name);
		if (strcmp(own, ep.path) == 0)
			report(ck, true, where,
			       "%s%s = dovecot, smtpd_sasl_path = %s: master binds that socket for "
			       "service %s (%s:%d); take that service out or give Dovecot's auth "
			       "listener another path",
			       prefix, name, path, d->name, d->file, d->line);
		free(own);
	}
	dovecot_endpoint_free(&ep);
}

/* The settings smtpd reads for its policy servers (smtpd/policy_service.c)
 * and for content filters, which it refuses to start with if one is
 * wrong, and how to check each. */
static const struct {
	const char *name;
	void (*check)(struct checker *ck, const struct conf *conf, const char *name,
	              const char *where, const char *prefix);
	const char *also; /* another parameter whose -o calls for the check, or NULL */
} policy_params[] = {
    {"smtpd_policy_services", check_policy_endpoints, NULL},
    {"smtpd_end_of_data_policy_services", check_policy_endpoints, NULL},
    {"smtpd_policy_service_default_action", check_policy_action, NULL},
    {"smtpd_tls_fingerprint_digest", check_fingerprint_digest, NULL},
    {"content_filter", check_content_filter, NULL},
    {"receive_override_options", check_receive_options, NULL},
    {"smtpd_sasl_type", check_sasl, "smtpd_sasl_path"},
};
#define POLICY_PARAM_COUNT (sizeof(policy_params) / sizeof(policy_params[0]))

/* conf's policy settings as smtpd reads them. Problems are reported at
 * where (NULL: where main.conf sets the parameter), after prefix; only
 * the parameters marked in only (NULL: all) are checked. */
static void check_policy_settings(struct checker *ck, const struct conf *conf, const char *where,
                                  const char *prefix, const bool *only)
{
	for (size_t i = 0; i < POLICY_PARAM_COUNT; i++) {
		if (only && !only[i])
			continue;
		char *at = where ? xstrdup(where) : param_where(ck, policy_params[i].name);
		policy_params[i].check(ck, conf, policy_params[i].name, at, prefix);
		free(at);
	}
}

/* Whether the -o setting (len bytes of name before '=') sets name. */
static bool setting_is(const char *setting, size_t len, const char *name)
{
	return name != NULL && strlen(name) == len && strncmp(setting, name, len) == 0;
}

/* The policy settings of a service that sets one with -o, as its smtpd
 * reads them: main.conf with the service's -o settings over it. */
static void check_service_policy(struct checker *ck, const struct service_def *def,
                                 const char *where)
{
	bool only[POLICY_PARAM_COUNT] = {false};
	bool any = false;
	for (int i = 1; i + 1 < def->argc; i++) {
		if (strcmp(def->argv[i], "-o") != 0)
			continue;
		const char *setting = def->argv[++i];
		size_t len = strcspn(setting, "=");
		for (size_t j = 0; j < POLICY_PARAM_COUNT; j++)
			if (setting[len] == '=' &&
			    (setting_is(setting, len, policy_params[j].name) ||
			     setting_is(setting, len, policy_params[j].also)))
				only[j] = any = true;
	}
	if (!any)
		return;
	struct conf *conf = conf_new(conf_directory(ck->conf));
	struct diag_list diags;
	diag_list_init(&diags);
	conf_load_file(conf, ck->main_path, &diags); /* its problems are reported already */
	diag_list_free(&diags);
	for (int i = 1; i + 1 < def->argc; i++) {
		if (strcmp(def->argv[i], "-o") != 0)
			continue;
		const char *setting = def->argv[++i];
		const char *eq = strchr(setting, '=');
		const char *error;
		if (eq == NULL)
			continue;
		char *name = xstrndup(setting, (size_t)(eq - setting));
		/* A bad one is reported already. */
		if (param_find(name) != NULL)
			(void)conf_set(conf, name, eq + 1, &error);
		free(name);
	}
	char *prefix = xasprintf("service %s: -o ", def->name);
	check_policy_settings(ck, conf, where, prefix, only);
	free(prefix);
	conf_free(conf);
}

static void check_service(struct checker *ck, const struct service_def *def)
{
	char *where = xasprintf("%s:%d", def->file, def->line);
	const char *cmd = def->argv[0];
	char *program = cmd[0] == '/'
	                    ? xstrdup(cmd)
	                    : xasprintf("%s/%s", conf_get(ck->conf, "daemon_directory"), cmd);
	const char *hint = postfix_program_hint(cmd);
	if (access(program, X_OK) != 0 && hint != NULL)
		report(ck, true, where, "service %s: command %s: %s (Postfix's %s: %s)", def->name,
		       program, strerror(errno), cmd, hint);
	else if (access(program, X_OK) != 0)
		report(ck, true, where, "service %s: command %s: %s", def->name, program,
		       strerror(errno));
	free(program);
	if (def->chroot_path && access(def->chroot_path, X_OK) != 0)
		report(ck, true, where, "service %s: chroot %s: %s", def->name, def->chroot_path,
		       strerror(errno));
	if (def->privilege == SERVICE_USER) {
		uid_t uid;
		gid_t gid;
		const char *error;
		if (privs_lookup(def->user_spec, &uid, &gid, &error) != 0)
			report(ck, privs_are_root(), where, "service %s: user %s: %s", def->name,
			       def->user_spec, error);
		else if (uid == 0)
			report(ck, true, where,
			       "service %s: user %s is root; say 'n' in the unpriv column instead",
			       def->name, def->user_spec);
	}
	if (def->type == SERVICE_INET) {
		char *host = NULL, *port = NULL;
		const char *error;
		if (sock_split_hostport(def->name, &host, &port, &error) != 0)
			report(ck, true, where, "service %s: %s", def->name, error);
		free(host);
		free(port);
	}
	for (int i = 1; i + 1 < def->argc; i++) {
		if (strcmp(def->argv[i], "-o") != 0)
			continue;
		const char *setting = def->argv[++i];
		const char *eq = strchr(setting, '=');
		if (eq == NULL) {
			report(ck, true, where, "service %s: -o %s: expected name=value", def->name,
			       setting);
			continue;
		}
		char *name = xstrndup(setting, (size_t)(eq - setting));
		const struct param_def *p = param_find(name);
		const char *error;
		char *value = conf_expand(ck->conf, eq + 1);
		if (p == NULL && postfix_hint(name) != NULL)
			report(ck, false, where,
			       "service %s: -o %s: unknown parameter (Postfix's: %s)", def->name,
			       name, postfix_hint(name));
		else if (p == NULL)
			report(ck, false, where, "service %s: -o %s: unknown parameter", def->name,
			       name);
		else if (param_validate(p->type, value, &error) != 0)
			report(ck, true, where, "service %s: -o %s: %s", def->name, setting, error);
		free(value);
		free(name);
	}
	check_service_policy(ck, def, where);
	free(where);
}

/* Per-transport parameters (TRANSPORT_destination_concurrency_limit...)
 * set for a transport that master.conf lacks: qmgr has no use for them. */
static void check_transport_params(struct checker *ck, const struct service_list *services)
{
	for (const char *const *n = conf_set_names(ck->conf); *n; n++) {
		const struct param_pattern *pattern = param_find_pattern(*n);
		if (pattern == NULL || param_find(*n) != &pattern->def)
			continue;
		size_t len = strlen(*n) - strlen(pattern->suffix);
		const struct service_def *def = NULL;
		for (size_t i = 0; def == NULL && i < services->count; i++)
			if (services->items[i].type == SERVICE_UNIX &&
			    strncmp(services->items[i].name, *n, len) == 0 &&
			    services->items[i].name[len] == '\0')
				def = &services->items[i];
		if (def != NULL)
			continue;
		char *where = param_where(ck, *n);
		report(ck, false, where, "%s: no unix service %.*s in master.conf to apply it to",
		       *n, (int)len, *n);
		free(where);
	}
}

/* local_transport, virtual_transport, relay_transport and
 * default_transport name a transport qmgr has (smtp, local, error, or a
 * unix service in master.conf running one of them or lmtp), as qmgr defers the
 * mail of that class otherwise. */
static void check_class_transports(struct checker *ck, const struct service_list *services)
{
	static const char *const params[] = {"local_transport", "virtual_transport",
	                                     "relay_transport", "default_transport",
	                                     "content_filter"};
	/* qmgr's built-in transports, and the programs it delivers through
	 * (lmtp only with a service of its own). */
	static const char *const built_ins[] = {"smtp", "local", "error"};
	static const char *const programs[] = {"smtp", "lmtp", "local", "error"};
	struct str name = STR_INIT, nexthop = STR_INIT;
	for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
		const char *value = conf_get(ck->conf, params[i]);
		if (*value == '\0' && strcmp(params[i], "content_filter") == 0)
			continue;
		mail_route_split(value, &name, &nexthop);
		bool built_in = false;
		for (size_t k = 0; k < sizeof(built_ins) / sizeof(built_ins[0]); k++)
			built_in |= strcmp(str_cstr(&name), built_ins[k]) == 0;
		const struct service_def *def = NULL;
		for (size_t k = 0; !built_in && def == NULL && k < services->count; k++)
			if (services->items[k].type == SERVICE_UNIX &&
			    strcmp(services->items[k].name, str_cstr(&name)) == 0)
				def = &services->items[k];
		const char *program = NULL;
		if (def != NULL) {
			const char *slash = strrchr(def->argv[0], '/');
			program = slash ? slash + 1 : def->argv[0];
			for (size_t k = 0; program && k < sizeof(programs) / sizeof(programs[0]);
			     k++)
				if (strcmp(program, programs[k]) == 0)
					program = NULL;
		}
		char *where = param_where(ck, params[i]);
		if (name.len == 0)
			report(ck, true, where, "%s = %s: no transport named", params[i], value);
		else if (!built_in && def == NULL)
			report(ck, false, where,
			       "%s = %s: no unix service %s in master.conf: qmgr defers the mail "
			       "routed through it",
			       params[i], value, str_cstr(&name));
		else if (program != NULL)
			report(ck, false, where,
			       "%s = %s: service %s runs %s, not smtp, lmtp, local or error: qmgr "
			       "defers the mail routed through it",
			       params[i], value, str_cstr(&name), program);
		free(where);
	}
	str_free(&name);
	str_free(&nexthop);
}

/* Aliases sources edited since they were compiled; a bad quota action. */
static void check_local_delivery(struct checker *ck)
{
	char *const *sources = conf_get_list(ck->conf, "alias_database");
	for (size_t i = 0; sources && sources[i]; i++) {
		struct stat src, db;
		const char *source = table_source_of(sources[i]);
		char *table = xasprintf("%s.lmdb", source);
		if (stat(source, &src) == 0 &&
		    (stat(table, &db) != 0 || src.st_mtim.tv_sec > db.st_mtim.tv_sec ||
		     (src.st_mtim.tv_sec == db.st_mtim.tv_sec &&
		      src.st_mtim.tv_nsec > db.st_mtim.tv_nsec))) {
			char *where = param_where(ck, "alias_database");
			report(ck, false, where, "%s is %s: run newaliases (mailctl alias rebuild)",
			       source,
			       access(table, F_OK) == 0 ? "newer than its table" : "not built");
			free(where);
		}
		free(table);
	}
	const char *action = conf_get(ck->conf, "virtual_mailbox_quota_action");
	if (strcmp(action, "defer") != 0 && strcmp(action, "bounce") != 0) {
		char *where = param_where(ck, "virtual_mailbox_quota_action");
		report(ck, true, where,
		       "virtual_mailbox_quota_action = %s: expected defer or bounce", action);
		free(where);
	}
}

static bool newer(const struct stat *a, const struct stat *b)
{
	return a->st_mtim.tv_sec > b->st_mtim.tv_sec ||
	       (a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec > b->st_mtim.tv_nsec);
}

/* The tables a list parameter names that cannot be opened or are older
 * than their source. */
static void check_table_param(struct checker *ck, const char *name)
{
	char *const *maps = conf_get_list(ck->conf, name);
	for (size_t i = 0; maps && maps[i]; i++) {
		const char *error;
		struct table *t = table_open(maps[i], &error);
		char *where = param_where(ck, name);
		/* An LMDB table is compiled from a source; a regexp: or pcre: table is read
		 * as it is. */
		char *path = table_lmdb_path(maps[i]);
		bool compiled = path != NULL;
		if (t == NULL) {
			report(ck, true, where, "%s%s", error,
			       compiled ? " (build it with mailctl map build)" : "");
		} else if (!compiled) {
			table_close(t);
		} else {
			table_close(t);
			struct stat src, db;
			size_t len = strlen(path);
			char *source = len > 5 ? xstrndup(path, len - 5) : xstrdup(path);
			if (stat(source, &src) == 0 && stat(path, &db) == 0 && newer(&src, &db))
				report(ck, false, where,
				       "%s is newer than its table: run mailctl map build %s",
				       source, source);
			free(source);
		}
		free(path);
		free(where);
	}
}

/* notify_classes as qmgr reads it (an unknown class stops qmgr). */
static void check_notify_classes(struct checker *ck)
{
	unsigned flags;
	const char *bad;
	if (notify_classes_parse(conf_get_list(ck->conf, "notify_classes"), &flags, &bad) != 0) {
		char *where = param_where(ck, "notify_classes");
		report(ck, true, where, "notify_classes: unknown class \"%s\"", bad);
		free(where);
	}
}

/* virtual_alias_maps as above; a virtual alias domain that is also local
 * or virtual mailbox. */
static void check_virtual_alias(struct checker *ck)
{
	check_table_param(ck, "virtual_alias_maps");
	char *const *domains = conf_get_list(ck->conf, "virtual_alias_domains");
	for (size_t i = 0; domains && domains[i]; i++) {
		if (strchr(domains[i], ':') || strchr(domains[i], '/'))
			continue;
		const char *other =
		    str_list_contains_nocase(conf_get_list(ck->conf, "mydestination"), domains[i])
		        ? "mydestination"
		    : str_list_contains_nocase(conf_get_list(ck->conf, "virtual_mailbox_domains"),
		                               domains[i])
		        ? "virtual_mailbox_domains"
		        : NULL;
		if (other) {
			char *where = param_where(ck, "virtual_alias_domains");
			report(ck, false, where, "%s is also in %s: list a domain in one of them",
			       domains[i], other);
			free(where);
		}
	}
}

/* The canonical(5) tables, the class words of the *_classes parameters,
 * local_header_rewrite_clients, and the tables among the
 * masquerade_exceptions names, as smtpd and pickup read them. */
static void check_canonical(struct checker *ck)
{
	static const char *const maps[] = {"canonical_maps", "sender_canonical_maps",
	                                   "recipient_canonical_maps"};
	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
		check_table_param(ck, maps[i]);
	static const char *const classes[] = {"canonical_classes", "sender_canonical_classes",
	                                      "recipient_canonical_classes", "masquerade_classes"};
	for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++) {
		unsigned mask;
		const char *bad;
		if (canonical_classes_parse(conf_get_list(ck->conf, classes[i]), &mask, &bad) !=
		    0) {
			char *where = param_where(ck, classes[i]);
			report(
			    ck, true, where,
			    "%s: \"%s\" is not envelope_sender, envelope_recipient, header_sender "
			    "or header_recipient",
			    classes[i], bad);
			free(where);
		}
	}
	unsigned clients;
	const char *bad;
	if (canonical_header_clients_parse(conf_get_list(ck->conf, "local_header_rewrite_clients"),
	                                   &clients, &bad) != 0) {
		char *where = param_where(ck, "local_header_rewrite_clients");
		report(ck, true, where,
		       "local_header_rewrite_clients: \"%s\" is not permit_inet_interfaces, "
		       "permit_mynetworks, permit_sasl_authenticated or static:all",
		       bad);
		free(where);
	}
	char *const *exceptions = conf_get_list(ck->conf, "masquerade_exceptions");
	for (size_t i = 0; exceptions && exceptions[i]; i++) {
		if (strchr(exceptions[i], ':') == NULL)
			continue;
		const char *error;
		struct table *t = table_open(exceptions[i], &error);
		if (t != NULL) {
			table_close(t);
			continue;
		}
		char *where = param_where(ck, "masquerade_exceptions");
		report(ck, true, where, "masquerade_exceptions: %s", error);
		free(where);
	}
}

/* smtpd's access tables (access(5)), header and body checks (and the
 * smtp and lmtp clients' header checks), relay_recipient_maps, the BCC
 * tables, and its policy reply codes. */
static void check_access(struct checker *ck)
{
	static const char *const maps[] = {
	    "smtpd_client_access_maps",    "smtpd_helo_access_maps",  "smtpd_sender_access_maps",
	    "smtpd_recipient_access_maps", "smtpd_sender_login_maps", "header_checks",
	    "mime_header_checks",          "nested_header_checks",    "body_checks",
	    "relay_recipient_maps",        "sender_bcc_maps",         "recipient_bcc_maps",
	    "smtp_header_checks",          "lmtp_header_checks"};
	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
		check_table_param(ck, maps[i]);
	const char *mode = conf_get(ck->conf, "smtpd_reject_sender_login_mismatch");
	enum sender_login_mode parsed;
	bool known = sender_login_mode_parse(mode, &parsed);
	if (!known) {
		char *where = param_where(ck, "smtpd_reject_sender_login_mismatch");
		report(ck, true, where,
		       "smtpd_reject_sender_login_mismatch = %s: not " SENDER_LOGIN_MODE_WORDS,
		       mode);
		free(where);
	}
	static const struct {
		const char *name;
		long long low, high;
	} codes[] = {
	    {"access_map_reject_code", 400, 599},       {"access_map_defer_code", 400, 499},
	    {"unknown_address_reject_code", 400, 599},  {"unknown_hostname_reject_code", 400, 599},
	    {"invalid_hostname_reject_code", 400, 599}, {"non_fqdn_reject_code", 400, 599}};
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		long long code = conf_get_int(ck->conf, codes[i].name);
		if (code < codes[i].low || code > codes[i].high) {
			char *where = param_where(ck, codes[i].name);
			report(ck, true, where, "%s = %lld: not a %s reply code", codes[i].name,
			       code, codes[i].high == 499 ? "4NN" : "4NN or 5NN");
			free(where);
		}
	}
}

/* The smtp client's smtp_generic_maps tables; its TLS settings, and
 * every entry of the TLS policy table's source (file:line), as smtp will
 * read them. */
static void check_tls_policy(struct checker *ck)
{
	check_table_param(ck, "smtp_generic_maps");
	const char *verify = conf_get(ck->conf, "smtp_tls_verify_cert_match");
	const char *secure = conf_get(ck->conf, "smtp_tls_secure_cert_match");
	static const char *const levels[] = {"verify", "secure"};
	for (size_t i = 0; i < 2; i++) {
		struct tls_policy p = {0};
		char *why = NULL;
		if (tls_policy_parse(levels[i], verify, secure, &p, &why) != 0) {
			const char *name =
			    i == 0 ? "smtp_tls_verify_cert_match" : "smtp_tls_secure_cert_match";
			char *where = param_where(ck, name);
			report(ck, true, where, "%s: %s", name, why);
			free(where);
		}
		free(why);
		tls_policy_free(&p);
	}
	const char *level = conf_get(ck->conf, "smtp_tls_security_level");
	if (tls_level_parse(level) < 0) {
		char *where = param_where(ck, "smtp_tls_security_level");
		report(ck, true, where, "smtp_tls_security_level = %s: unknown level", level);
		free(where);
	}
	int min, max;
	const char *error;
	if (tls_protocols_parse(conf_get(ck->conf, "smtp_tls_protocols"), &min, &max, &error) !=
	    0) {
		char *where = param_where(ck, "smtp_tls_protocols");
		report(ck, true, where, "smtp_tls_protocols: %s", error);
		free(where);
	}
	const char *spec = conf_get(ck->conf, "smtp_tls_policy_maps");
	if (*spec == '\0')
		return;
	struct table *t = table_open(spec, &error);
	if (t == NULL) {
		char *where = param_where(ck, "smtp_tls_policy_maps");
		report(ck, true, where, "%s (build it with mailctl map build)", error);
		free(where);
		return;
	}
	table_close(t);
	char *path = table_lmdb_path(spec);
	size_t len = path ? strlen(path) : 0;
	if (len <= 5) {
		free(path);
		return;
	}
	char *source = xstrndup(path, len - 5);
	free(path);
	struct table_source src;
	struct diag_list diags;
	table_source_init(&src);
	diag_list_init(&diags);
	if (access(source, F_OK) == 0 && table_source_read(&src, source, &diags) == 0) {
		for (size_t i = 0; i < src.count; i++) {
			struct tls_policy p = {0};
			char *why = NULL;
			if (tls_policy_parse(src.items[i].value, verify, secure, &p, &why) != 0) {
				char *where = xasprintf("%s:%d", source, src.items[i].line);
				report(ck, true, where,
				       "smtp_tls_policy_maps: entry for \"%s\": %s (mail for it is "
				       "deferred)",
				       src.items[i].key, why);
				free(where);
			}
			free(why);
			tls_policy_free(&p);
		}
	}
	diag_list_free(&diags);
	table_source_free(&src);
	free(source);
}

/* Diagnostics read "file:line: message"; print each with its severity
 * after the place, and count it. */
static void print_diags(struct checker *ck, const struct diag_list *diags)
{
	for (size_t i = 0; i < diags->count; i++) {
		bool error = diags->items[i].severity == DIAG_ERROR;
		const char *text = diags->items[i].text;
		const char *colon = strstr(text, ": ");
		if (colon)
			printf("%.*s: %s%s\n", (int)(colon - text), text,
			       error ? "error: " : "warning: ", colon + 2);
		else
			printf("%s%s\n", error ? "error: " : "warning: ", text);
		if (error)
			ck->errors++;
		else
			ck->warnings++;
	}
}

/* bounce_template_file: readable and well-formed (qmgr would use the
 * built-in texts). */
static void check_bounce_templates(struct checker *ck)
{
	const char *path = conf_get(ck->conf, "bounce_template_file");
	if (*path == '\0')
		return;
	struct bounce_templates t;
	struct diag_list diags;
	diag_list_init(&diags);
	(void)bounce_templates_load(path, &t, &diags);
	print_diags(ck, &diags);
	diag_list_free(&diags);
	bounce_templates_free(&t);
}

/* smtp_tls_session_cache_database: a form smtp understands, in a
 * directory that exists (or is data_directory, which master makes). */
static void check_tls_session_cache(struct checker *ck)
{
	const char *spec = conf_get(ck->conf, "smtp_tls_session_cache_database");
	if (*spec == '\0')
		return;
	char *where = param_where(ck, "smtp_tls_session_cache_database");
	char *path = tls_session_cache_path(spec);
	if (path == NULL) {
		report(ck, true, where,
		       "smtp_tls_session_cache_database = %s: not lmdb:/path, hash:/path, "
		       "btree:/path or /path (TLS sessions would not be cached)",
		       spec);
	} else {
		char *parent = xstrdup(path);
		char *slash = strrchr(parent, '/');
		if (slash != NULL && slash != parent)
			*slash = '\0';
		struct stat st;
		if (strcmp(parent, conf_get(ck->conf, "data_directory")) != 0 &&
		    (stat(parent, &st) != 0 || !S_ISDIR(st.st_mode)))
			report(ck, false, where,
			       "smtp_tls_session_cache_database = %s: directory %s does not exist "
			       "(TLS sessions will not be cached)",
			       spec, parent);
		free(parent);
	}
	free(path);
	free(where);
}

static void report_sni_entry(const char *message, void *ctx)
{
	struct checker *ck = ctx;
	char *where = param_where(ck, "tls_server_sni_maps");
	report(ck, true, where, "tls_server_sni_maps: %s (smtpd and pop3d ignore the entry)",
	       message);
	free(where);
}

/* tls_server_sni_maps: a table whose entries can be listed, each naming
 * readable PEM files with a key that matches its certificate (as smtpd
 * and pop3d load them at start). */
static void check_tls_sni(struct checker *ck)
{
	const char *spec = conf_get(ck->conf, "tls_server_sni_maps");
	if (*spec == '\0')
		return;
	const char *error;
	struct tls_sni *sni = tls_sni_load(spec, report_sni_entry, ck, &error);
	if (sni == NULL) {
		char *where = param_where(ck, "tls_server_sni_maps");
		report(ck, true, where, "tls_server_sni_maps: %s", error);
		free(where);
	}
	tls_sni_free(sni);
}

/* A service's last "-o name=value" (expanded, malloc'd), or NULL. */
static char *service_setting(struct checker *ck, const struct service_def *def, const char *name)
{
	char *value = NULL;
	size_t len = strlen(name);
	for (int i = 1; i + 1 < def->argc; i++) {
		if (strcmp(def->argv[i], "-o") != 0)
			continue;
		const char *setting = def->argv[++i];
		if (strncmp(setting, name, len) == 0 && setting[len] == '=') {
			free(value);
			value = conf_expand(ck->conf, setting + len + 1);
		}
	}
	return value;
}

/* A setting as a service sees it: its -o value, else main.conf's. */
static bool service_bool(struct checker *ck, const struct service_def *def, const char *name)
{
	char *value = service_setting(ck, def, name);
	bool on = conf_get_bool(ck->conf, name);
	const char *error;
	if (value != NULL && param_parse_bool(value, &on, &error) != 0)
		on = false; /* reported with the service */
	free(value);
	return on;
}

static bool service_nonempty(struct checker *ck, const struct service_def *def, const char *name)
{
	char *value = service_setting(ck, def, name);
	bool set = value != NULL ? strspn(value, " \t,") < strlen(value)
	                         : *conf_get(ck->conf, name) != '\0';
	free(value);
	return set;
}

/* "AB:01:..." with len bytes, in either case. */
static bool fingerprint_form(const char *key, size_t len)
{
	if (len == 0 || strlen(key) != 3 * len - 1)
		return false;
	for (size_t i = 0; i < len; i++) {
		const char *byte = key + 3 * i;
		if (!isxdigit((unsigned char)byte[0]) || !isxdigit((unsigned char)byte[1]) ||
		    (i + 1 < len && byte[2] != ':'))
			return false;
	}
	return true;
}

struct fingerprint_walk {
	struct checker *ck;
	const char *spec;
	const char *digest;
	size_t len;
	int bad;
};

#define FINGERPRINT_REPORTS 5

static int check_fingerprint_key(const char *key, const char *value, void *ctx)
{
	(void)value;
	struct fingerprint_walk *w = ctx;
	if (fingerprint_form(key, w->len) || ++w->bad > FINGERPRINT_REPORTS)
		return 0;
	char *where = param_where(w->ck, "relay_clientcerts");
	report(w->ck, false, where,
	       "relay_clientcerts: %s: \"%s\" is not a %s fingerprint (%zu bytes as AB:01:...; "
	       "smtpd_tls_fingerprint_digest): it matches no client",
	       w->spec, key, w->digest, w->len);
	free(where);
	return 0;
}

/* relay_clientcerts and smtpd_relay_all_clientcerts (smtpd/clientcerts.c):
 * the tables open, their keys are fingerprints of the digest smtpd makes,
 * some smtpd service that relays by certificate asks for one (with a
 * certificate of its own), and one that trusts every verified
 * certificate has a CA to verify it with. */
static void check_clientcerts(struct checker *ck, const struct service_list *services)
{
	check_table_param(ck, "relay_clientcerts");
	const char *digest = conf_get(ck->conf, "smtpd_tls_fingerprint_digest");
	size_t len = tls_fingerprint_digest_size(digest);
	char *const *maps = conf_get_list(ck->conf, "relay_clientcerts");
	for (size_t i = 0; len > 0 && maps && maps[i]; i++) {
		const char *error;
		struct table *t = table_open(maps[i], &error);
		if (t == NULL)
			continue; /* reported above */
		struct fingerprint_walk w = {ck, maps[i], digest, len, 0};
		(void)table_walk(t, check_fingerprint_key, &w, &error); /* regexp: not listed */
		table_close(t);
		if (w.bad > FINGERPRINT_REPORTS) {
			char *where = param_where(ck, "relay_clientcerts");
			report(ck, false, where, "relay_clientcerts: %s: %d more keys like these",
			       maps[i], w.bad - FINGERPRINT_REPORTS);
			free(where);
		}
	}
	char *uses = NULL;  /* where the first smtpd service relaying by certificate sets it */
	char *no_ca = NULL; /* where one trusts all verified ones without a CA */
	const char *no_ca_service = NULL;
	const char *param = NULL;
	bool asks = false;
	for (size_t i = 0; i < services->count; i++) {
		const struct service_def *def = &services->items[i];
		const char *slash = strrchr(def->argv[0], '/');
		if (strcmp(slash ? slash + 1 : def->argv[0], "smtpd") != 0)
			continue;
		bool listed = service_nonempty(ck, def, "relay_clientcerts");
		bool all = service_bool(ck, def, "smtpd_relay_all_clientcerts");
		if (!listed && !all)
			continue;
		if (uses == NULL) {
			param = listed ? "relay_clientcerts" : "smtpd_relay_all_clientcerts";
			char *own = service_setting(ck, def, param);
			uses = own != NULL ? xasprintf("%s:%d", def->file, def->line)
			                   : param_where(ck, param);
			free(own);
		}
		if (!service_bool(ck, def, "smtpd_tls_ask_ccert") ||
		    !service_nonempty(ck, def, "smtpd_tls_cert_file"))
			continue;
		asks = true;
		if (all && !service_nonempty(ck, def, "smtpd_tls_CAfile") && no_ca == NULL) {
			no_ca = xasprintf("%s:%d", def->file, def->line);
			no_ca_service = def->name;
		}
	}
	if (uses != NULL && !asks)
		report(ck, false, uses,
		       "%s is set but no smtpd service that uses it asks for client certificates "
		       "(smtpd_tls_ask_ccert = yes, with an smtpd_tls_cert_file): no client relays "
		       "by certificate",
		       param);
	if (no_ca != NULL)
		report(
		    ck, false, no_ca,
		    "service %s: smtpd_relay_all_clientcerts = yes but smtpd_tls_CAfile is empty: "
		    "no client certificate verifies, so none relays by it",
		    no_ca_service);
	free(no_ca);
	free(uses);
}

int cmd_check(struct mailctl *m, int argc, char **argv)
{
	(void)argv;
	if (argc != 1) {
		mailctl_error("usage: mailctl check");
		return 2;
	}
	struct checker ck = {0};
	struct diag_list diags;
	diag_list_init(&diags);
	ck.main_path = xasprintf("%s/main.conf", m->config_dir);
	ck.conf = conf_new(m->config_dir);
	conf_load_file(ck.conf, ck.main_path, &diags);
	char *master_path = xasprintf("%s/master.conf", m->config_dir);
	struct service_list services;
	service_list_init(&services);
	masterconf_load_file(master_path, &services, &diags);
	ck.services = &services;
	print_diags(&ck, &diags);
	diag_list_free(&diags);
	check_dir_param(&ck, "queue_directory", true);
	check_dir_param(&ck, "data_directory", true);
	check_dir_param(&ck, "daemon_directory", false);
	check_user_param(&ck, "mail_owner");
	check_milter_params(&ck);
	check_dnsbl(&ck);
	check_policy_settings(&ck, ck.conf, NULL, "", NULL);
	const char *logfile = conf_get(ck.conf, "maillog_file");
	if (*logfile) {
		char *dir = xstrdup(logfile);
		char *slash = strrchr(dir, '/');
		if (slash)
			*slash = '\0';
		if (slash && *dir && access(dir, W_OK) != 0) {
			char *where = param_where(&ck, "maillog_file");
			report(&ck, true, where, "maillog_file = %s: directory %s: %s", logfile,
			       dir, strerror(errno));
			free(where);
		}
		free(dir);
	}
	check_local_delivery(&ck);
	check_virtual_alias(&ck);
	check_canonical(&ck);
	check_access(&ck);
	check_notify_classes(&ck);
	check_bounce_templates(&ck);
	/* The routing tables qmgr reads (a table it cannot read defers mail). */
	check_table_param(&ck, "transport_maps");
	check_table_param(&ck, "sender_dependent_relayhost_maps");
	check_table_param(&ck, "sender_dependent_default_transport_maps");
	check_table_param(&ck, "smtpd_milter_maps");
	check_networks(&ck);
	check_tls_policy(&ck);
	check_tls_session_cache(&ck);
	check_tls_sni(&ck);
	check_clientcerts(&ck, &services);
	for (size_t i = 0; i < services.count; i++)
		check_service(&ck, &services.items[i]);
	check_transport_params(&ck, &services);
	check_class_transports(&ck, &services);
	if (services.count == 0 && ck.errors == 0)
		report(&ck, false, master_path, "no services defined");
	printf("%s: %d error%s, %d warning%s\n", m->config_dir, ck.errors,
	       ck.errors == 1 ? "" : "s", ck.warnings, ck.warnings == 1 ? "" : "s");
	service_list_free(&services);
	free(master_path);
	free(ck.main_path);
	conf_free(ck.conf);
	return ck.errors ? 1 : 0;
}

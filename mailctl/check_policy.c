/*
 * mailctl check: the settings smtpd refuses to start with if one is
 * wrong (policy servers and their default action, the fingerprint
 * digest, content_filter, receive_override_options, SASL with Dovecot),
 * as main.conf sets them and as a master.conf service overrides them
 * with -o.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "auth/dovecot_auth.h"
#include "conf/conf.h"
#include "conf/masterconf.h"
#include "conf/params.h"
#include "mail/receive_options.h"
#include "mailctl/check.h"
#include "policy/policy_entry.h"
#include "policy/policy_proto.h"
#include "smtp/access_action.h"
#include "tls/tls.h"
#include "util/alloc.h"

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
void check_policy_settings(struct checker *ck, const struct conf *conf, const char *where,
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
void check_service_policy(struct checker *ck, const struct service_def *def, const char *where)
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

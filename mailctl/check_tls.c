/*
 * mailctl check: TLS settings and material. The smtp client's TLS
 * settings and policy table entries, its session cache, the certificates
 * of tls_server_sni_maps, and relaying by client certificate
 * (relay_clientcerts, smtpd_relay_all_clientcerts) across the smtpd
 * services of master.conf.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/conf.h"
#include "conf/masterconf.h"
#include "conf/params.h"
#include "mailctl/check.h"
#include "smtp/tls_policy.h"
#include "table/table.h"
#include "table/table_source.h"
#include "tls/tls.h"
#include "tls/tls_session_cache.h"
#include "tls/tls_sni.h"
#include "util/alloc.h"

/* The smtp client's smtp_generic_maps tables; its TLS settings, and
 * every entry of the TLS policy table's source (file:line), as smtp will
 * read them. */
void check_tls_policy(struct checker *ck)
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

/* smtp_tls_session_cache_database: a form smtp understands, in a
 * directory that exists (or is data_directory, which master makes). */
void check_tls_session_cache(struct checker *ck)
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
void check_tls_sni(struct checker *ck)
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
void check_clientcerts(struct checker *ck, const struct service_list *services)
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
		if (all && !service_nonempty(ck, def, "smtpd_tls_CAfile") &&
		    !service_nonempty(ck, def, "smtpd_tls_CApath") && no_ca == NULL) {
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
		report(ck, false, no_ca,
		       "service %s: smtpd_relay_all_clientcerts = yes but smtpd_tls_CAfile and "
		       "smtpd_tls_CApath are empty: no client certificate verifies, so none relays "
		       "by it",
		       no_ca_service);
	free(no_ca);
	free(uses);
}

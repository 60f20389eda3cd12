/*
 * mailctl check: main.conf parameters checked on their own, as the
 * programs that read them would: the directories and the mail owner, the
 * milter settings, the client network lists, the DNS and domain
 * blocklists with their reply templates, notify_classes and
 * bounce_template_file.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "auth/sasl_security.h"
#include "conf/bounce_template.h"
#include "conf/conf.h"
#include "dns/dnsbl.h"
#include "mail/notify_classes.h"
#include "mailctl/check.h"
#include "milter/milter_conf.h"
#include "smtp/rbl_reply.h"
#include "table/table.h"
#include "util/alloc.h"
#include "util/cidr.h"
#include "util/privs.h"

void check_dir_param(struct checker *ck, const char *name, bool may_be_created)
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

void check_user_param(struct checker *ck, const char *name)
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
void check_milter_params(struct checker *ck)
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
void check_networks(struct checker *ck)
{
	static const char *const names[] = {"mynetworks",
	                                    "smtpd_client_event_limit_exceptions",
	                                    "smtpd_tls_auth_only_exempt",
	                                    "smtpd_authorized_xforward_hosts",
	                                    "pop3d_tls_auth_only_exempt",
	                                    "pop3d_upstream_proxy_trusted_networks"};
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
/* At most this many bad templates of one rbl_reply_maps table are named. */
#define RBL_TEMPLATE_REPORTS 5

struct rbl_template_walk {
	struct checker *ck;
	const char *spec; /* the table */
	int bad;
};

static int check_rbl_template(const char *key, const char *value, void *ctx)
{
	struct rbl_template_walk *w = ctx;
	struct str why = STR_INIT;
	if (rbl_reply_check(value, &why) != 0 && ++w->bad <= RBL_TEMPLATE_REPORTS) {
		char *where = param_where(w->ck, "rbl_reply_maps");
		report(w->ck, false, where,
		       "rbl_reply_maps: %s: the template for %s, \"%s\": %s (smtpd would send "
		       "default_rbl_reply instead)",
		       w->spec, key, value, str_cstr(&why));
		free(where);
	}
	str_free(&why);
	return 0;
}

/* The tables of rbl_reply_maps open, and each template in them that can
 * be listed (not a regexp: or pcre: table's) expands. */
static void check_rbl_reply_maps(struct checker *ck)
{
	check_table_param(ck, "rbl_reply_maps");
	char *const *maps = conf_get_list(ck->conf, "rbl_reply_maps");
	for (size_t i = 0; maps && maps[i]; i++) {
		const char *error;
		struct table *t = table_open(maps[i], &error);
		if (t == NULL)
			continue; /* reported above */
		struct rbl_template_walk w = {ck, maps[i], 0};
		(void)table_walk(t, check_rbl_template, &w, &error); /* regexp: not listed */
		table_close(t);
		if (w.bad > RBL_TEMPLATE_REPORTS) {
			char *where = param_where(ck, "rbl_reply_maps");
			report(ck, false, where, "rbl_reply_maps: %s: %d more templates like these",
			       maps[i], w.bad - RBL_TEMPLATE_REPORTS);
			free(where);
		}
	}
}

void check_dnsbl(struct checker *ck)
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
	/* A bad template is logged by smtpd at each refusal, which then sends
	 * Postfix's built-in text: a warning. */
	struct str why = STR_INIT;
	const char *template = conf_get_raw(ck->conf, "default_rbl_reply");
	if (rbl_reply_check(template, &why) != 0) {
		char *where = param_where(ck, "default_rbl_reply");
		report(ck, false, where,
		       "default_rbl_reply: %s (smtpd would send Postfix's built-in reply instead)",
		       str_cstr(&why));
		free(where);
	}
	str_free(&why);
	check_rbl_reply_maps(ck);
}

/* notify_classes as qmgr reads it (an unknown class stops qmgr). */
void check_notify_classes(struct checker *ck)
{
	unsigned flags;
	const char *bad;
	if (notify_classes_parse(conf_get_list(ck->conf, "notify_classes"), &flags, &bad) != 0) {
		char *where = param_where(ck, "notify_classes");
		report(ck, true, where, "notify_classes: unknown class \"%s\"", bad);
		free(where);
	}
}

/* smtpd_sasl_security_options and smtpd_sasl_tls_security_options:
 * Postfix's words only (smtpd would not start). */
void check_sasl_security(struct checker *ck)
{
	static const char *const names[] = {"smtpd_sasl_security_options",
	                                    "smtpd_sasl_tls_security_options"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct sasl_policy p;
		const char *bad = "";
		if (sasl_policy_parse(conf_get_list(ck->conf, names[i]), &p, &bad) != 0) {
			char *where = param_where(ck, names[i]);
			report(ck, true, where, "%s: unknown option \"%s\" (%s)", names[i], bad,
			       sasl_policy_words);
			free(where);
		}
	}
}

/* bounce_template_file: readable and well-formed (qmgr would use the
 * built-in texts). */
void check_bounce_templates(struct checker *ck)
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

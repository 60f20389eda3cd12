/*
 * mailctl check: lookup tables that cannot be opened or are older than
 * their source, and the parameters that go with them: aliases and the
 * virtual mailbox quota action, virtual alias domains, canonical mapping
 * and masquerading, and smtpd's access tables and reply codes.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/conf.h"
#include "mail/canonical.h"
#include "mailctl/check.h"
#include "smtp/sender_login_mode.h"
#include "table/table.h"
#include "util/alloc.h"
#include "util/str.h"

/* Aliases sources edited since they were compiled; a bad quota action. */
void check_local_delivery(struct checker *ck)
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
void check_table_param(struct checker *ck, const char *name)
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

/* virtual_alias_maps as above; a virtual alias domain that is also local
 * or virtual mailbox. */
void check_virtual_alias(struct checker *ck)
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
void check_canonical(struct checker *ck)
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
void check_access(struct checker *ck)
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

/*
 * smtpd's recipient policy: mail for local and virtual domains is taken
 * only for recipients that exist (system users, postmaster and the names in
 * alias_maps; the virtual mailbox table: what local delivery uses),
 * mail for relay domains is taken, and anything else only from trusted
 * clients (mynetworks or authenticated). Never an open relay.
 */
#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "smtpd/smtpd.h"
#include "table/table.h"
#include "util/alloc.h"
#include "util/log.h"

static bool in_list(char *const *list, const char *domain)
{
	for (size_t i = 0; list && list[i]; i++)
		if (strcasecmp(list[i], domain) == 0)
			return true;
	return false;
}

bool policy_is_local_domain(const struct smtpd_settings *cfg, const char *domain)
{
	return in_list(cfg->mydestination, domain);
}

bool policy_client_trusted(const struct session *s)
{
	return s->auth_user != NULL || cidr_list_match(s->cfg->mynetworks, s->client_addr);
}

static char *lowercase(const char *text)
{
	char *copy = xstrdup(text);
	for (char *p = copy; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return copy;
}

/* Tables stay open for the process; a rebuilt file is noticed by lib/table. */
#define MAX_OPEN_TABLES 8
static struct {
	char *spec;
	struct table *table;
} open_tables[MAX_OPEN_TABLES];

/* 1 found, 0 not found, -1 lookup failure (the table is broken or missing).
 * With missing_is_empty, a table file that does not exist finds nothing. */
static int map_lookup(const char *spec, const char *key, bool missing_is_empty)
{
	const char *error;
	size_t slot = 0;
	while (slot < MAX_OPEN_TABLES && open_tables[slot].spec &&
	       strcmp(open_tables[slot].spec, spec) != 0)
		slot++;
	if (slot == MAX_OPEN_TABLES) {
		slot = 0; /* more tables than slots: reuse the first */
		table_close(open_tables[0].table);
		free(open_tables[0].spec);
		open_tables[0].spec = NULL;
	}
	if (open_tables[slot].spec == NULL) {
		struct stat st;
		if (missing_is_empty && table_spec_stat(spec, &st) != 0 && errno == ENOENT)
			return 0;
		struct table *t = table_open(spec, &error);
		if (t == NULL) {
			log_warn("table %s: %s", spec, error);
			return -1;
		}
		open_tables[slot].spec = xstrdup(spec);
		open_tables[slot].table = t;
	}
	struct str value = STR_INIT;
	int rc = table_lookup(open_tables[slot].table, key, &value, &error);
	if (rc < 0)
		log_warn("table %s: lookup %s: %s", spec, key, error);
	str_free(&value);
	return rc;
}

/* 1 if local is an alias, 0 if not, -1 if a table could not be read. */
static int local_alias_exists(const struct smtpd_settings *cfg, const char *local)
{
	char *name = lowercase(local);
	int rc = 0;
	for (size_t i = 0; cfg->alias_maps && cfg->alias_maps[i] && rc == 0; i++)
		rc = map_lookup(cfg->alias_maps[i], name, true);
	free(name);
	return rc;
}

static bool local_user_exists(const char *local)
{
	char *name = lowercase(local);
	struct passwd pw, *result = NULL;
	char buf[4096];
	bool found = getpwnam_r(name, &pw, buf, sizeof(buf), &result) == 0 && result != NULL;
	free(name);
	return found;
}

int policy_check_rcpt(struct session *s, const char *address, const char *local, const char *domain)
{
	bool local_domain =
	    domain == NULL || *domain == '\0' || policy_is_local_domain(s->cfg, domain);
	if (local_domain) {
		if (strcasecmp(local, "postmaster") == 0 || local_user_exists(local))
			return 0;
		int rc = local_alias_exists(s->cfg, local);
		if (rc == 1)
			return 0;
		if (rc < 0) {
			reply(s, 451, "4.3.0", "<%s>: Temporary lookup failure", address);
			return -1;
		}
		reply(s, 550, "5.1.1",
		      "<%s>: Recipient address rejected: User unknown in local recipient table",
		      address);
		return -1;
	}
	if (in_list(s->cfg->virtual_domains, domain)) {
		char *key = lowercase(address);
		int rc = map_lookup(s->cfg->virtual_maps, key, false);
		free(key);
		if (rc == 1)
			return 0;
		if (rc < 0) {
			reply(s, 451, "4.3.0", "<%s>: Temporary lookup failure", address);
			return -1;
		}
		reply(s, 550, "5.1.1",
		      "<%s>: Recipient address rejected: User unknown in virtual mailbox table",
		      address);
		return -1;
	}
	if (in_list(s->cfg->relay_domains, domain) || policy_client_trusted(s))
		return 0;
	reply(s, 554, "5.7.1", "<%s>: Relay access denied", address);
	return -1;
}

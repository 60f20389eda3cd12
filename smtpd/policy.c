/*
 * smtpd's recipient policy: mail for local and virtual domains is taken
 * only for recipients that exist (system users, postmaster and the names in
 * alias_maps, or any local part when fallback_transport or luser_relay
 * takes unknown users, or one fallback_transport_maps routes; the virtual mailbox table: what local
 * delivery uses; for every domain of ours, what virtual_alias_maps rewrites, and in a virtual alias
 * domain nothing else), each also with its recipient_delimiter extension, mail for relay domains is
 * taken (with relay_recipient_maps, only for the addresses they list), and anything else only from
 * trusted clients (mynetworks, authenticated, or trusted by their TLS client certificate:
 * clientcerts.c). Never an open relay.
 */
#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/extension.h"
#include "smtpd/smtpd.h"
#include "table/table_cache.h"
#include "util/alloc.h"
#include "util/log.h"
#include "util/str.h"

bool policy_is_local_domain(const struct smtpd_settings *cfg, const char *domain)
{
	return str_list_contains_nocase(cfg->mydestination, domain);
}

bool policy_client_trusted(const struct session *s)
{
	return s->auth_user != NULL || s->ccert_trust > 0 ||
	       cidr_list_match(s->cfg->mynetworks, s->client_addr);
}

/* 1 found, 0 not found, -1 lookup failure (the table is broken or missing).
 * With missing_is_empty, a table file that does not exist finds nothing. */
static int map_value(const char *spec, const char *key, bool missing_is_empty, struct str *value)
{
	const char *error;
	int rc = table_cache_lookup(spec, key, missing_is_empty, value, &error);
	if (rc < 0)
		log_warn("%s", error);
	return rc;
}

static int map_lookup(const char *spec, const char *key, bool missing_is_empty)
{
	struct str value = STR_INIT;
	int rc = map_value(spec, key, missing_is_empty, &value);
	str_free(&value);
	return rc;
}

int policy_table_value(const char *spec, const char *key, struct str *value)
{
	return map_value(spec, key, false, value);
}

/* 1 if local (or, with an extension, its base) is an alias, 0 if not, -1
 * if a table could not be read. */
static int local_alias_exists(const struct smtpd_settings *cfg, const char *local)
{
	char *name = str_lower_dup(local);
	int rc = 0;
	for (size_t i = 0; cfg->alias_maps && cfg->alias_maps[i] && rc == 0; i++)
		rc = map_lookup(cfg->alias_maps[i], name, true);
	char *base = extension_strip(name, cfg->recipient_delimiter);
	for (size_t i = 0; base && cfg->alias_maps && cfg->alias_maps[i] && rc == 0; i++)
		rc = map_lookup(cfg->alias_maps[i], base, true);
	free(base);
	free(name);
	return rc;
}

/* The getpwnam_r buffer starts here and doubles while it is too small. */
#define PASSWD_BUF_START 4096
#define PASSWD_BUF_MAX (1024 * 1024)

/* 1 if local (or, with an extension, its base) is a system user, 0 if
 * not, -1 if the user database could not say (logged). "Not found" is
 * what local delivery takes for it (no error, ENOENT or ESRCH): anything
 * else defers there, so it must not be refused here. */
static int local_user_exists(const struct smtpd_settings *cfg, const char *local)
{
	char *name = str_lower_dup(local);
	char *base = extension_strip(name, cfg->recipient_delimiter);
	const char *user = base ? base : name;
	struct passwd pw, *result = NULL;
	size_t size = PASSWD_BUF_START;
	char *buf = NULL;
	int err;
	do {
		buf = xrealloc(buf, size);
		err = getpwnam_r(user, &pw, buf, size, &result);
		size *= 2;
	} while (err == ERANGE && size <= PASSWD_BUF_MAX);
	int rc = result != NULL ? 1 : (err == 0 || err == ENOENT || err == ESRCH) ? 0 : -1;
	if (rc < 0)
		log_warn("user database unavailable: getpwnam_r %s: %s", user, strerror(err));
	free(buf);
	free(base);
	free(name);
	return rc;
}

/* The virtual mailbox table: the address, then without its extension. */
static int virtual_mailbox_exists(const struct smtpd_settings *cfg, const char *address)
{
	char *key = str_lower_dup(address);
	int rc = map_lookup(cfg->virtual_maps, key, false);
	char *base = rc == 0 ? extension_strip(key, cfg->recipient_delimiter) : NULL;
	if (base)
		rc = map_lookup(cfg->virtual_maps, base, false);
	free(base);
	free(key);
	return rc;
}

/* virtual_alias_maps come first, for every domain we take mail for (as
 * Postfix's cleanup rewrites before anything is delivered): 1 accepted
 * (the table has it), 0 not in the table, -1 refused (reply sent): 550
 * for an unknown address, 451 for a loop or an expansion over a limit
 * (the table needs fixing; nothing is lost meanwhile). */
static int check_virtual_alias(struct session *s, const char *address)
{
	struct virtual_alias_expansion x;
	int result = 0;
	switch (virtual_alias_expand(s->cfg->virtual_alias, address, &x)) {
	case VIRTUAL_ALIAS_EXPANDED:
		result = 1;
		break;
	case VIRTUAL_ALIAS_UNCHANGED:
		break;
	case VIRTUAL_ALIAS_TEMPFAIL:
		log_warn("<%s>: %s", address, x.reason);
		reply(s, 451, "4.3.0", "<%s>: Temporary lookup failure", address);
		result = -1;
		break;
	case VIRTUAL_ALIAS_FAILED:
		reply(s, 550, x.status, "<%s>: Recipient address rejected: %s", address, x.reason);
		result = -1;
		break;
	case VIRTUAL_ALIAS_DEFERRED:
		/* A table mistake: the client tries again later, as for a
		 * table that cannot be read. */
		log_warn("<%s>: %s", address, x.reason);
		reply(s, 451, x.status, "<%s>: Recipient address temporarily rejected: %s", address,
		      x.reason);
		result = -1;
		break;
	}
	virtual_alias_expansion_free(&x);
	return result;
}

/* relay_recipient_maps: the address, then without its extension, then
 * @domain, in each table in turn. 1 listed, 0 not, -1 a table could not
 * be read. */
static int relay_recipient_listed(const struct smtpd_settings *cfg, const char *address)
{
	char *key = str_lower_dup(address);
	char *base = extension_strip(key, cfg->recipient_delimiter);
	const char *keys[] = {key, base, strrchr(key, '@')}; /* "@domain": the key's end */
	int rc = 0;
	for (size_t i = 0; cfg->relay_recipient_maps[i] && rc == 0; i++)
		for (size_t k = 0; k < 3 && rc == 0; k++)
			if (keys[k] != NULL)
				rc = map_lookup(cfg->relay_recipient_maps[i], keys[k], false);
	free(base);
	free(key);
	return rc;
}

int policy_check_rcpt(struct session *s, const char *address, const char *local, const char *domain)
{
	const struct smtpd_settings *cfg = s->cfg;
	bool local_domain =
	    domain == NULL || *domain == '\0' || policy_is_local_domain(cfg, domain);
	bool virtual_mailbox =
	    !local_domain && str_list_contains_nocase(cfg->virtual_domains, domain);
	int virtual_alias = 0;
	if (!local_domain && !virtual_mailbox) {
		const char *error;
		virtual_alias = virtual_alias_is_domain(cfg->virtual_alias, domain, &error);
		if (virtual_alias < 0) {
			log_warn("<%s>: %s", address, error);
			reply(s, 451, "4.3.0", "<%s>: Temporary lookup failure", address);
			return -1;
		}
	}
	if (!local_domain && !virtual_mailbox && !virtual_alias &&
	    !str_list_contains_nocase(cfg->relay_domains, domain) && !policy_client_trusted(s)) {
		/* relay_clientcerts could not be read: the certificate might
		 * have made the client trusted (Postfix defers too) */
		if (s->ccert_trust < 0)
			reply(s, 451, "4.3.0", "<%s>: Temporary lookup failure", address);
		else
			reply(s, 554, "5.7.1", "<%s>: Relay access denied", address);
		return -1;
	}
	/* A service behind a content filter: the recipients were checked
	 * before the filter (a recipient that is unknown after all bounces). */
	if (cfg->receive_options & RECEIVE_NO_UNKNOWN_RECIPIENT_CHECKS)
		return 0;
	int rc = check_virtual_alias(s, address);
	if (rc != 0)
		return rc < 0 ? -1 : 0;
	if (local_domain) {
		if (strcasecmp(local, "postmaster") == 0)
			return 0;
		/* local passes unknown users to fallback_transport or forwards them
		 * to luser_relay: every local part is a recipient (Postfix: an
		 * empty local_recipient_maps) */
		if (cfg->any_local_part)
			return 0;
		int user = local_user_exists(cfg, local);
		if (user == 1)
			return 0;
		/* An alias is taken even while the user database fails: local
		 * expands aliases before it looks up users. */
		rc = local_alias_exists(cfg, local);
		if (rc == 1)
			return 0;
		/* A name fallback_transport_maps routes is one too. */
		int routed = 0;
		for (size_t i = 0; cfg->fallback_maps && cfg->fallback_maps[i] && routed == 0; i++)
			routed = map_lookup(cfg->fallback_maps[i], local, false);
		if (routed == 1)
			return 0;
		if (rc < 0 || user < 0 || routed < 0) {
			reply(s, 451, "4.3.0", "<%s>: Temporary lookup failure", address);
			return -1;
		}
		reply(s, 550, "5.1.1",
		      "<%s>: Recipient address rejected: User unknown in local recipient table",
		      address);
		return -1;
	}
	if (virtual_mailbox) {
		rc = virtual_mailbox_exists(cfg, address);
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
	if (virtual_alias) {
		/* not reached: the expansion refuses unknown addresses there */
		reply(s, 550, "5.1.1",
		      "<%s>: Recipient address rejected: User unknown in virtual alias table",
		      address);
		return -1;
	}
	if (cfg->relay_recipient_maps && cfg->relay_recipient_maps[0] &&
	    str_list_contains_nocase(cfg->relay_domains, domain)) {
		rc = relay_recipient_listed(cfg, address);
		if (rc < 0) {
			reply(s, 451, "4.3.0", "<%s>: Temporary lookup failure", address);
			return -1;
		}
		if (rc == 0) {
			reply(s, 550, "5.1.1",
			      "<%s>: Recipient address rejected: User unknown in relay recipient "
			      "table",
			      address);
			return -1;
		}
	}
	return 0; /* a relay domain, or a trusted client */
}

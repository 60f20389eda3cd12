/*
 * Aliases, for the expansion of a local recipient (expand.c): the
 * alias_maps look-up (each table opened on first use and kept open; a
 * table file not built yet counts as empty), the owner-NAME sender of an
 * alias NAME, and the expansion of one name: a loop, or an alias whose
 * targets (expand_target.c) get the privileges of the aliases table's
 * owner (default_privs when that is root), else a system user or an
 * unknown name (expand_forward.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "local/expand.h"
#include "local/local.h"
#include "mail/aliases.h"
#include "mail/aliases_db.h"
#include "table/table.h"
#include "util/alloc.h"

/* ---- alias tables ---- */

/* Open what is not open yet; a missing table file counts as empty. */
static int open_alias_maps(struct local_service *svc, const struct conf *conf, const char **error_r)
{
	char *const *specs = conf_get_list(conf, "alias_maps");
	size_t n = 0;
	while (specs && specs[n])
		n++;
	if (!svc->alias_maps_opened) {
		svc->alias_maps = xcalloc(n + 1, sizeof(*svc->alias_maps));
		svc->alias_map_count = n;
		svc->alias_maps_opened = true;
	}
	for (size_t i = 0; i < svc->alias_map_count; i++) {
		if (svc->alias_maps[i] != NULL)
			continue;
		struct stat st;
		if (table_spec_stat(specs[i], &st) != 0 && errno == ENOENT)
			continue; /* not built yet: no aliases there */
		svc->alias_maps[i] = table_open(specs[i], error_r);
		if (svc->alias_maps[i] == NULL)
			return -1;
	}
	return 0;
}

/* 1 found (targets, and the table's index), 0 not an alias, -1 error. */
int alias_lookup(struct expansion *ex, const char *name, struct alias_target **targets,
                 size_t *count, size_t *table_r, const char **error_r)
{
	if (open_alias_maps(ex->svc, ex->conf, error_r) != 0)
		return -1;
	for (size_t i = 0; i < ex->svc->alias_map_count; i++) {
		struct table *t = ex->svc->alias_maps[i];
		if (t == NULL)
			continue;
		int rc = aliases_db_lookup(t, name, targets, count, error_r);
		if (rc != 0) {
			*table_r = i;
			return rc;
		}
	}
	return 0;
}

/* ---- names ---- */

/* The owner-NAME sender for an alias NAME, or NULL. */
static char *owner_sender(struct expansion *ex, const char *name)
{
	char *owner_name = xasprintf("owner-%s", name);
	struct alias_target *targets = NULL;
	size_t count = 0, table = 0;
	const char *error;
	char *sender = NULL;
	if (strlen(owner_name) <= TABLE_MAX_KEY &&
	    alias_lookup(ex, owner_name, &targets, &count, &table, &error) == 1) {
		sender = xasprintf("%s@%s", owner_name, ex->domain);
		alias_targets_free(targets, count);
	}
	free(owner_name);
	return sender;
}

void expand_name(struct expansion *ex, const char *name, const struct owner *parent, bool noalias)
{
	const char *sender = parent ? parent->sender : ex->msg->sender;
	if (noalias) {
		deliver_user(ex, name, sender, true);
		return;
	}
	if (chain_has(ex, name)) {
		if (ex->depth > 0 && strcmp(ex->chain[ex->depth - 1], name) == 0) {
			/* "root: root, admin": root's own mailbox (or .forward) */
			deliver_user(ex, name, sender, false);
		} else {
			char *loop = chain_text(ex, name);
			char *text = xasprintf("mail forwarding loop: %s", loop);
			outcome(ex, name, "bounced", "5.4.6", text);
			free(text);
			free(loop);
		}
		return;
	}
	struct alias_target *targets = NULL;
	size_t count = 0, table = 0;
	const char *error = "";
	int rc = alias_lookup(ex, name, &targets, &count, &table, &error);
	if (rc < 0) {
		char *text = xasprintf("alias_maps look-up failed: %s", error);
		outcome(ex, name, "deferred", "4.3.0", text);
		free(text);
		return;
	}
	if (rc == 0) {
		/* a .forward of this user may name the user again: the mailbox */
		deliver_user(ex, name, sender, false);
		return;
	}
	char *key = xasprintf("alias:%s", name);
	struct owner o = {.kind = CTX_ALIAS};
	struct stat st;
	const char *spec = table_spec(ex->svc->alias_maps[table]);
	if (first_time(ex, key) && chain_push(ex, name)) {
		if (table_spec_stat(spec, &st) != 0) {
			outcome(ex, name, "deferred", "4.3.0", "cannot stat the aliases table");
		} else if (owner_for_uid(ex->conf, st.st_uid, &o, &error) != 0) {
			char *text = xasprintf("aliases table owner: %s", error);
			outcome(ex, name, "deferred", "4.3.0", text);
			free(text);
		} else {
			o.sender = owner_sender(ex, name);
			if (o.sender == NULL)
				o.sender = xstrdup(sender);
			if (ex->verify_via == NULL)
				ex->verify_via = "aliased to";
			handle_targets(ex, targets, count, &o);
		}
		ex->depth--;
	}
	owner_free(&o);
	free(key);
	alias_targets_free(targets, count);
}

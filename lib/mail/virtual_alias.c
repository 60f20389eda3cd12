/*
 * Virtual alias expansion: look-ups, recursion, and the envelope rewrite
 * (see virtual_alias.h for the rules).
 */
#include "mail/virtual_alias.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/extension.h"
#include "table/table.h"
#include "util/alloc.h"
#include "util/str.h"

/* Look-ups one recipient may cost, and the deepest nesting (each level is
 * a stack frame), whatever the settings say. */
#define MAX_LOOKUPS 100000
#define MAX_RECURSION 2000

struct open_table {
	char *spec;
	struct table *table;
};

struct virtual_alias {
	struct virtual_alias_settings settings;
	struct open_table *tables;
	size_t table_count;
	char error[512];
};

struct virtual_alias *virtual_alias_new(const struct virtual_alias_settings *settings)
{
	struct virtual_alias *va = xcalloc(1, sizeof(*va));
	va->settings = *settings;
	if (va->settings.delimiter == NULL)
		va->settings.delimiter = "";
	if (va->settings.myorigin == NULL)
		va->settings.myorigin = "localhost";
	if (va->settings.recursion_limit < 1)
		va->settings.recursion_limit = 1;
	if (va->settings.recursion_limit > MAX_RECURSION)
		va->settings.recursion_limit = MAX_RECURSION;
	if (va->settings.expansion_limit < 1)
		va->settings.expansion_limit = 1;
	return va;
}

struct virtual_alias *virtual_alias_from_conf(const struct conf *conf)
{
	struct virtual_alias_settings s = {
	    .maps = conf_get_list(conf, "virtual_alias_maps"),
	    .domains = conf_get_list(conf, "virtual_alias_domains"),
	    .mydestination = conf_get_list(conf, "mydestination"),
	    .myorigin = conf_get(conf, "myorigin"),
	    .delimiter = conf_get(conf, "recipient_delimiter"),
	    .recursion_limit = conf_get_int(conf, "virtual_alias_recursion_limit"),
	    .expansion_limit = conf_get_int(conf, "virtual_alias_expansion_limit"),
	};
	return virtual_alias_new(&s);
}

void virtual_alias_free(struct virtual_alias *va)
{
	if (va == NULL)
		return;
	for (size_t i = 0; i < va->table_count; i++) {
		table_close(va->tables[i].table);
		free(va->tables[i].spec);
	}
	free(va->tables);
	free(va);
}

static bool is_table_spec(const char *item)
{
	return strchr(item, ':') != NULL || strchr(item, '/') != NULL;
}

/* The open table for spec, or NULL with va->error. */
static struct table *get_table(struct virtual_alias *va, const char *spec)
{
	for (size_t i = 0; i < va->table_count; i++)
		if (strcmp(va->tables[i].spec, spec) == 0)
			return va->tables[i].table;
	const char *error;
	struct table *t = table_open(spec, &error);
	if (t == NULL) {
		snprintf(va->error, sizeof(va->error), "%s", error);
		return NULL;
	}
	va->tables = xreallocarray(va->tables, va->table_count + 1, sizeof(*va->tables));
	va->tables[va->table_count++] = (struct open_table){xstrdup(spec), t};
	return t;
}

/* key in one table: 1 found (value), 0 not, -1 with va->error. */
static int table_find(struct virtual_alias *va, const char *spec, const char *key,
                      struct str *value)
{
	struct table *t = get_table(va, spec);
	if (t == NULL)
		return -1;
	const char *error;
	int rc = table_lookup(t, key, value, &error);
	if (rc < 0)
		snprintf(va->error, sizeof(va->error), "table %s: %s", spec, error);
	return rc;
}

/* key in each table of virtual_alias_maps, in order. */
static int maps_find(struct virtual_alias *va, const char *key, struct str *value)
{
	for (size_t i = 0; va->settings.maps && va->settings.maps[i]; i++) {
		int rc = table_find(va, va->settings.maps[i], key, value);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int virtual_alias_is_domain(struct virtual_alias *va, const char *domain, const char **error_r)
{
	char *key = str_lower_dup(domain);
	int rc = 0;
	for (size_t i = 0; va->settings.domains && va->settings.domains[i] && rc == 0; i++) {
		const char *item = va->settings.domains[i];
		if (!is_table_spec(item)) {
			rc = strcasecmp(item, key) == 0;
			continue;
		}
		struct str value = STR_INIT;
		rc = table_find(va, item, key, &value);
		str_free(&value);
	}
	free(key);
	if (rc < 0)
		*error_r = va->error;
	return rc;
}

/* Look up one address (lower-cased) under the keys of virtual_alias.h.
 * 1 found, with the value and, when the match dropped the extension, the
 * extension to propagate in *ext_r ("+tag", fresh); 0 none; -1 error. */
static int lookup_address(struct virtual_alias *va, const char *lower, const char *original,
                          struct str *value, char **ext_r)
{
	*ext_r = NULL;
	const char *at = strrchr(lower, '@');
	size_t local_len = at ? (size_t)(at - lower) : strlen(lower);
	size_t base_len = extension_base_len(lower, local_len, va->settings.delimiter);
	const char *domain = at ? at + 1 : NULL;
	int rc = 0;
	char *key;
	if (domain) {
		rc = maps_find(va, lower, value);
		if (rc == 0 && base_len < local_len) {
			key = xasprintf("%.*s@%s", (int)base_len, lower, domain);
			rc = maps_find(va, key, value);
			free(key);
			if (rc == 1)
				*ext_r = xstrndup(original + base_len, local_len - base_len);
		}
	}
	if (rc == 0 &&
	    (domain == NULL || str_list_contains_nocase(va->settings.mydestination, domain))) {
		key = xstrndup(lower, local_len);
		rc = maps_find(va, key, value);
		free(key);
		if (rc == 0 && base_len < local_len) {
			key = xstrndup(lower, base_len);
			rc = maps_find(va, key, value);
			free(key);
			if (rc == 1)
				*ext_r = xstrndup(original + base_len, local_len - base_len);
		}
	}
	if (rc == 0 && domain) {
		key = xasprintf("@%s", domain);
		rc = maps_find(va, key, value);
		free(key);
	}
	return rc;
}

/* The addresses of a table value, qualified, with ext propagated. */
static size_t parse_value(const struct virtual_alias *va, const char *value, const char *ext,
                          char ***list_r)
{
	char **list = NULL;
	size_t count = 0;
	const char *p = value;
	while (*p) {
		while (*p == ',' || isspace((unsigned char)*p))
			p++;
		const char *start = p;
		while (*p && *p != ',' && !isspace((unsigned char)*p))
			p++;
		size_t len = (size_t)(p - start);
		if (len >= 2 && start[0] == '<' && start[len - 1] == '>') {
			start++;
			len -= 2;
		}
		if (len == 0)
			continue;
		char *item = xstrndup(start, len);
		char *at = strrchr(item, '@');
		char *full;
		if (at == NULL)
			full = xasprintf("%s%s@%s", item, ext ? ext : "", va->settings.myorigin);
		else
			full = xasprintf("%.*s%s%s", (int)(at - item), item, ext ? ext : "", at);
		free(item);
		list = xreallocarray(list, count + 1, sizeof(*list));
		list[count++] = full;
	}
	*list_r = list;
	return count;
}

static void free_list(char **list, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(list[i]);
	free(list);
}

struct path_step {
	const char *lower;  /* the address, lower-cased */
	size_t final_count; /* how many addresses were final when it began */
};

struct expand_state {
	struct virtual_alias *va;
	struct virtual_alias_expansion *x;
	const char *original;   /* the address being expanded */
	struct path_step *path; /* the addresses being expanded, outermost first */
	size_t path_len;
	char **final; /* lower-cased addresses that expand to themselves */
	size_t final_count;
	long long lookups;
	bool found_any;
	enum virtual_alias_outcome failure; /* 0 while all is well */
};

/* True if expanding lower again would only repeat an expansion that is
 * still going on: it is on the path, and no address has become final
 * since (the expansion of an address depends on nothing else). */
static bool is_loop(const struct expand_state *st, const char *lower)
{
	for (size_t i = 0; i < st->path_len; i++)
		if (strcmp(st->path[i].lower, lower) == 0 &&
		    st->path[i].final_count == st->final_count)
			return true;
	return false;
}

static bool contains(char **list, size_t count, const char *lower)
{
	for (size_t i = 0; i < count; i++)
		if (strcmp(list[i], lower) == 0)
			return true;
	return false;
}

static void fail(struct expand_state *st, enum virtual_alias_outcome how, const char *status,
                 char *reason)
{
	if (st->failure != 0) {
		free(reason);
		return;
	}
	st->failure = how;
	snprintf(st->x->status, sizeof(st->x->status), "%s", status);
	st->x->reason = reason;
}

static void emit(struct expand_state *st, const char *address, const char *lower)
{
	for (size_t i = 0; i < st->x->count; i++)
		if (strcasecmp(st->x->addresses[i], address) == 0)
			return;
	const char *at = strrchr(lower, '@');
	const char *error;
	int rc = at ? virtual_alias_is_domain(st->va, at + 1, &error) : 0;
	if (rc < 0) {
		fail(st, VIRTUAL_ALIAS_TEMPFAIL, "4.3.0",
		     xasprintf("virtual_alias_domains lookup failed: %s", error));
		return;
	}
	if (rc == 1) {
		fail(st, VIRTUAL_ALIAS_FAILED, "5.1.1",
		     strcasecmp(address, st->original) == 0
		         ? xstrdup("User unknown in virtual alias table")
		         : xasprintf("<%s>: User unknown in virtual alias table", address));
		return;
	}
	if ((long long)st->x->count >= st->va->settings.expansion_limit) {
		fail(st, VIRTUAL_ALIAS_DEFERRED, "4.6.0",
		     xasprintf("virtual alias expansion gives more than %lld addresses",
		               st->va->settings.expansion_limit));
		return;
	}
	st->x->addresses = xreallocarray(st->x->addresses, st->x->count + 1, sizeof(char *));
	st->x->addresses[st->x->count++] = xstrdup(address);
}

/* "a -> b -> a" for a loop back to lower. */
static char *loop_text(const struct expand_state *st, const char *lower)
{
	struct str s = STR_INIT;
	size_t from = 0;
	while (from < st->path_len && strcmp(st->path[from].lower, lower) != 0)
		from++;
	for (size_t i = from; i < st->path_len; i++)
		str_printf(&s, "%s -> ", st->path[i].lower);
	str_append_cstr(&s, lower);
	return str_steal(&s);
}

static void expand_address(struct expand_state *st, const char *address, long long depth)
{
	char *lower = str_lower_dup(address);
	if (contains(st->final, st->final_count, lower)) {
		emit(st, address, lower);
		free(lower);
		return;
	}
	if (is_loop(st, lower)) {
		char *loop = loop_text(st, lower);
		fail(st, VIRTUAL_ALIAS_DEFERRED, "4.4.6",
		     xasprintf("virtual alias loop: %s", loop));
		free(loop);
		free(lower);
		return;
	}
	if (depth > st->va->settings.recursion_limit) {
		fail(st, VIRTUAL_ALIAS_DEFERRED, "4.6.0",
		     xasprintf("virtual alias expansion nested more than %lld levels deep at <%s>",
		               st->va->settings.recursion_limit, address));
		free(lower);
		return;
	}
	if (++st->lookups > MAX_LOOKUPS) {
		fail(st, VIRTUAL_ALIAS_DEFERRED, "4.6.0",
		     xasprintf("virtual alias expansion takes more than %d look-ups", MAX_LOOKUPS));
		free(lower);
		return;
	}
	struct str value = STR_INIT;
	char *ext = NULL;
	int rc = lookup_address(st->va, lower, address, &value, &ext);
	if (rc < 0) {
		fail(st, VIRTUAL_ALIAS_TEMPFAIL, "4.3.0",
		     xasprintf("virtual_alias_maps lookup failed: %s", st->va->error));
	} else if (rc == 0) {
		emit(st, address, lower);
	} else {
		st->found_any = true;
		char **list = NULL;
		size_t count = parse_value(st->va, str_cstr(&value), ext, &list);
		/* First what expands to itself (it is kept as it is), then the rest. */
		for (size_t i = 0; i < count; i++)
			if (strcasecmp(list[i], address) == 0 &&
			    !contains(st->final, st->final_count, lower)) {
				st->final =
				    xreallocarray(st->final, st->final_count + 1, sizeof(char *));
				st->final[st->final_count++] = xstrdup(lower);
			}
		st->path = xreallocarray(st->path, st->path_len + 1, sizeof(*st->path));
		st->path[st->path_len++] = (struct path_step){lower, st->final_count};
		for (size_t i = 0; i < count && st->failure == 0; i++)
			expand_address(st, list[i], depth + 1);
		st->path_len--;
		free_list(list, count);
	}
	free(ext);
	str_free(&value);
	free(lower);
}

enum virtual_alias_outcome virtual_alias_expand(struct virtual_alias *va, const char *address,
                                                struct virtual_alias_expansion *x)
{
	memset(x, 0, sizeof(*x));
	struct expand_state st = {.va = va, .x = x, .original = address};
	expand_address(&st, address, 0);
	free(st.path);
	free_list(st.final, st.final_count);
	if (st.failure != 0) {
		free_list(x->addresses, x->count);
		x->addresses = NULL;
		x->count = 0;
		return st.failure;
	}
	return st.found_any ? VIRTUAL_ALIAS_EXPANDED : VIRTUAL_ALIAS_UNCHANGED;
}

void virtual_alias_expansion_free(struct virtual_alias_expansion *x)
{
	free_list(x->addresses, x->count);
	free(x->reason);
	memset(x, 0, sizeof(*x));
}

static bool has_recipient(const struct queue_envelope *env, const char *address)
{
	for (size_t i = 0; i < env->rcpt_count; i++)
		if (strcasecmp(env->rcpts[i].address, address) == 0)
			return true;
	return false;
}

static bool is_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

void virtual_alias_add_expansion(struct queue_envelope *out, const struct queue_rcpt *r,
                                 const struct virtual_alias_expansion *x)
{
	char *orcpt =
	    r->orcpt && r->orcpt[0]
	        ? xstrdup(r->orcpt)
	        : xasprintf("%s;%s", is_ascii(r->address) ? "rfc822" : "utf-8", r->address);
	for (size_t j = 0; j < x->count; j++)
		if (!has_recipient(out, x->addresses[j]))
			queue_envelope_add_rcpt(out, x->addresses[j], orcpt, r->notify);
	free(orcpt);
}

int virtual_alias_rewrite_envelope(struct virtual_alias *va, const struct queue_envelope *in,
                                   struct queue_envelope *out,
                                   struct virtual_alias_failure **failed_r, size_t *failed_count_r,
                                   char **reason_r)
{
	queue_envelope_copy_fields(out, in);
	struct virtual_alias_failure *failed = NULL;
	size_t failed_count = 0;
	for (size_t i = 0; i < in->rcpt_count; i++) {
		const struct queue_rcpt *r = &in->rcpts[i];
		struct virtual_alias_expansion x;
		enum virtual_alias_outcome rc = virtual_alias_expand(va, r->address, &x);
		if (rc == VIRTUAL_ALIAS_TEMPFAIL) {
			*reason_r = xasprintf("<%s>: %s", r->address, x.reason);
			virtual_alias_expansion_free(&x);
			virtual_alias_failures_free(failed, failed_count);
			queue_envelope_free(out);
			*failed_r = NULL;
			*failed_count_r = 0;
			return -1;
		}
		if (rc == VIRTUAL_ALIAS_FAILED) {
			failed = xreallocarray(failed, failed_count + 1, sizeof(*failed));
			struct virtual_alias_failure *f = &failed[failed_count++];
			f->address = xstrdup(r->address);
			f->orcpt = xstrdup(r->orcpt ? r->orcpt : "");
			f->notify = xstrdup(r->notify ? r->notify : "");
			memcpy(f->status, x.status, sizeof(f->status));
			f->reason = x.reason;
			x.reason = NULL;
		} else if (rc == VIRTUAL_ALIAS_UNCHANGED) {
			if (!has_recipient(out, r->address))
				queue_envelope_add_rcpt(out, r->address, r->orcpt, r->notify);
		} else if (rc == VIRTUAL_ALIAS_DEFERRED) {
			/* Queued as it is; qmgr expands it again at each attempt. */
			if (!has_recipient(out, r->address)) {
				queue_envelope_add_rcpt(out, r->address, r->orcpt, r->notify);
				out->rcpts[out->rcpt_count - 1].valias_pending = true;
			}
		} else {
			virtual_alias_add_expansion(out, r, &x);
		}
		virtual_alias_expansion_free(&x);
	}
	*failed_r = failed;
	*failed_count_r = failed_count;
	return 0;
}

void virtual_alias_failures_free(struct virtual_alias_failure *failed, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		free(failed[i].address);
		free(failed[i].orcpt);
		free(failed[i].notify);
		free(failed[i].reason);
	}
	free(failed);
}

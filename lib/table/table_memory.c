/*
 * Tables held in memory, for the Postfix table types that need no build
 * step: static:VALUE (every key finds VALUE; static:{text with spaces}),
 * inline:{ key=value, { key = text with spaces }, ... } (the entries
 * written in main.conf itself) and texthash:FILE (a table source file as
 * `mailctl map build` takes it, read when the table is opened). Keys are
 * matched exactly, as in LMDB tables; callers fold case as they do for
 * those.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/diag.h"
#include "table/table_private.h"
#include "table/table_source.h"
#include "util/alloc.h"

static char memory_error[512];

struct memory_entry {
	char *key;
	char *value;
	size_t pos; /* order of arrival */
};

struct table_memory {
	struct table table;
	struct memory_entry *entries; /* sorted by key */
	size_t count;
	char *static_value; /* static: the answer to every key */
};

static int compare_entries(const void *a, const void *b)
{
	return strcmp(((const struct memory_entry *)a)->key, ((const struct memory_entry *)b)->key);
}

static int memory_lookup(struct table *table, const char *key, size_t key_len, struct str *value)
{
	struct table_memory *t = (struct table_memory *)table;
	(void)key_len;
	const char *found = t->static_value;
	if (found == NULL && t->count > 0) {
		struct memory_entry probe = {(char *)key, NULL, 0};
		const struct memory_entry *e =
		    bsearch(&probe, t->entries, t->count, sizeof(*t->entries), compare_entries);
		found = e ? e->value : NULL;
	}
	if (found == NULL)
		return 0;
	str_clear(value);
	str_append(value, found, strlen(found));
	return 1;
}

static int memory_walk(struct table *table, table_walk_fn *fn, void *ctx)
{
	struct table_memory *t = (struct table_memory *)table;
	if (t->static_value != NULL)
		return table_set_error(
		    table, "table \"%s\": a static table cannot list its entries", table->spec);
	for (size_t i = 0; i < t->count; i++)
		if (fn(t->entries[i].key, t->entries[i].value, ctx) != 0)
			return 1;
	return 0;
}

static void memory_close(struct table *table)
{
	struct table_memory *t = (struct table_memory *)table;
	for (size_t i = 0; i < t->count; i++) {
		free(t->entries[i].key);
		free(t->entries[i].value);
	}
	free(t->entries);
	free(t->static_value);
	free(t);
}

static const struct table_vfuncs memory_vfuncs = {
    .type = "memory",
    .lookup = memory_lookup,
    .close = memory_close,
    .walk = memory_walk,
};

static struct table_memory *memory_new(void)
{
	struct table_memory *t = xcalloc(1, sizeof(*t));
	t->table.v = &memory_vfuncs;
	return t;
}

/* By key, then by order of arrival. */
static int compare_arrival(const void *a, const void *b)
{
	const struct memory_entry *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	return c != 0 ? c : (x->pos > y->pos) - (x->pos < y->pos);
}

/* Sort the entries; a key given twice keeps its first value (as
 * `mailctl map build` and Postfix's postmap do). */
static void memory_finish(struct table_memory *t)
{
	if (t->count > 1)
		qsort(t->entries, t->count, sizeof(*t->entries), compare_arrival);
	size_t n = 0;
	for (size_t i = 0; i < t->count; i++) {
		struct memory_entry *e = &t->entries[i];
		if (n > 0 && strcmp(t->entries[n - 1].key, e->key) == 0) {
			free(e->key);
			free(e->value);
			continue;
		}
		t->entries[n++] = *e;
	}
	t->count = n;
}

static void memory_add(struct table_memory *t, size_t *cap, char *key, char *value)
{
	if (t->count == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		t->entries = xreallocarray(t->entries, *cap, sizeof(*t->entries));
	}
	t->entries[t->count] = (struct memory_entry){key, value, t->count};
	t->count++;
}

/* text without the white space around it, malloc'd. */
static char *trimmed(const char *text, size_t len)
{
	while (len > 0 && isspace((unsigned char)*text)) {
		text++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)text[len - 1]))
		len--;
	return xstrndup(text, len);
}

/* "{text}" gives text (trimmed); anything else is taken as it is. NULL
 * with *error_r for a '{' without its '}'. */
static char *unbraced(const char *arg, const char **error_r)
{
	size_t len = strlen(arg);
	if (len == 0 || arg[0] != '{')
		return xstrdup(arg);
	if (arg[len - 1] != '}') {
		*error_r = "missing '}'";
		return NULL;
	}
	return trimmed(arg + 1, len - 2);
}

struct table *table_static_open(const char *arg, const char **error_r)
{
	const char *why = NULL;
	char *value = unbraced(arg, &why);
	if (value == NULL) {
		snprintf(memory_error, sizeof(memory_error), "table \"static:%s\": %s", arg, why);
		*error_r = memory_error;
		return NULL;
	}
	struct table_memory *t = memory_new();
	t->static_value = value;
	return &t->table;
}

/* One inline entry, "key=value" (white space around either side
 * trimmed), into t. -1 with memory_error set when it has no '='. */
static int inline_entry(struct table_memory *t, size_t *cap, const char *arg, const char *text,
                        size_t len)
{
	const char *eq = memchr(text, '=', len);
	char *key = eq ? trimmed(text, (size_t)(eq - text)) : NULL;
	if (eq == NULL || *key == '\0') {
		snprintf(memory_error, sizeof(memory_error),
		         "table \"inline:%s\": entry \"%.*s\" is not key=value", arg,
		         (int)(len > 100 ? 100 : len), text);
		free(key);
		return -1;
	}
	memory_add(t, cap, key, trimmed(eq + 1, len - (size_t)(eq + 1 - text)));
	return 0;
}

struct table *table_inline_open(const char *arg, const char **error_r)
{
	const char *why = NULL;
	char *body = unbraced(arg, &why);
	if (body == NULL || arg[0] != '{') {
		snprintf(memory_error, sizeof(memory_error), "table \"inline:%s\": %s", arg,
		         body == NULL ? why : "expected { key=value, ... }");
		*error_r = memory_error;
		free(body);
		return NULL;
	}
	struct table_memory *t = memory_new();
	size_t cap = 0;
	int rc = 0;
	/* Entries separated by commas or white space; "{ key = value }" keeps
	 * its spaces and commas. */
	for (const char *p = body; rc == 0 && *p;) {
		if (*p == ',' || isspace((unsigned char)*p)) {
			p++;
			continue;
		}
		if (*p == '{') {
			const char *end = strchr(p, '}');
			if (end == NULL) {
				snprintf(memory_error, sizeof(memory_error),
				         "table \"inline:%s\": missing '}'", arg);
				rc = -1;
				break;
			}
			rc = inline_entry(t, &cap, arg, p + 1, (size_t)(end - p - 1));
			p = end + 1;
			continue;
		}
		size_t len = strcspn(p, ", \t\r\n\v\f");
		rc = inline_entry(t, &cap, arg, p, len);
		p += len;
	}
	free(body);
	if (rc != 0) {
		*error_r = memory_error;
		memory_close(&t->table);
		return NULL;
	}
	memory_finish(t);
	return &t->table;
}

struct table *table_texthash_open(const char *path, const char **error_r)
{
	struct table_source src;
	struct diag_list diags;
	table_source_init(&src);
	diag_list_init(&diags);
	if (table_source_read(&src, path, &diags) != 0) {
		snprintf(memory_error, sizeof(memory_error), "%s", "cannot be read");
		for (size_t i = 0; i < diags.count; i++) {
			if (diags.items[i].severity == DIAG_ERROR) {
				snprintf(memory_error, sizeof(memory_error), "%s",
				         diags.items[i].text);
				break;
			}
		}
		*error_r = memory_error;
		diag_list_free(&diags);
		table_source_free(&src);
		return NULL;
	}
	diag_list_free(&diags);
	struct table_memory *t = memory_new();
	size_t cap = 0;
	for (size_t i = 0; i < src.count; i++)
		memory_add(t, &cap, xstrdup(src.items[i].key), xstrdup(src.items[i].value));
	table_source_free(&src);
	memory_finish(t);
	return &t->table;
}

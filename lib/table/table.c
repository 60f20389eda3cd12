/*
 * Lookup tables: parse a table spec and dispatch to the implementation
 * (see table.h). Implementations live in table_<type>.c.
 */
#include "table/table.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "table/table_private.h"
#include "util/alloc.h"

static char table_open_error[512];

/* hash: and btree: (Postfix's Berkeley DB types) are LMDB here: a
 * Postfix main.cf naming hash:/etc/postfix/access finds the
 * access.lmdb that `mailctl map build` made from the same source file. */
static struct table *lmdb_open(const char *arg, const char **error_r);

static const struct {
	const char *type;
	struct table *(*open)(const char *arg, const char **error_r);
} table_types[] = {
    {"btree", lmdb_open},          {"cidr", table_cidr_open},
    {"hash", lmdb_open},           {"inline", table_inline_open},
    {"lmdb", lmdb_open},           {"pcre", table_pcre_open},
    {"regexp", table_regexp_open}, {"socketmap", table_socketmap_open},
    {"static", table_static_open}, {"texthash", table_texthash_open},
};

static bool ends_with(const char *s, const char *suffix)
{
	size_t len = strlen(s), slen = strlen(suffix);
	return len >= slen && strcmp(s + len - slen, suffix) == 0;
}

/* FILE names the table as Postfix has it (FILE.lmdb), or the .lmdb
 * file itself. */
static struct table *lmdb_open(const char *arg, const char **error_r)
{
	if (ends_with(arg, ".lmdb"))
		return table_lmdb_open(arg, error_r);
	char *path = xasprintf("%s.lmdb", arg);
	struct table *t = table_lmdb_open(path, error_r);
	free(path);
	return t;
}

struct table *table_open(const char *spec, const char **error_r)
{
	/* proxy:TYPE:NAME (Postfix's proxymap in front of a table) is the
	 * table itself: every Postern program opens its tables directly. */
	if (strncmp(spec, "proxy:", 6) == 0 && strchr(spec + 6, ':') != NULL) {
		struct table *t = table_open(spec + 6, error_r);
		if (t != NULL) {
			free(t->spec);
			t->spec = xstrdup(spec);
		}
		return t;
	}
	const char *type = "lmdb", *arg = spec;
	size_t type_len = 4;
	const char *colon = strchr(spec, ':');
	if (colon != NULL && spec[0] != '/') {
		type = spec;
		type_len = (size_t)(colon - spec);
		arg = colon + 1;
	} else if (!ends_with(spec, ".lmdb")) {
		snprintf(table_open_error, sizeof(table_open_error),
		         "table \"%s\": expected TYPE:NAME or a path ending in .lmdb", spec);
		*error_r = table_open_error;
		return NULL;
	}
	if (*arg == '\0') {
		snprintf(table_open_error, sizeof(table_open_error), "table \"%s\": no file name",
		         spec);
		*error_r = table_open_error;
		return NULL;
	}
	for (size_t i = 0; i < sizeof(table_types) / sizeof(table_types[0]); i++) {
		if (strlen(table_types[i].type) != type_len ||
		    strncmp(table_types[i].type, type, type_len) != 0)
			continue;
		struct table *t = table_types[i].open(arg, error_r);
		if (t != NULL)
			t->spec = xstrdup(spec);
		return t;
	}
	snprintf(table_open_error, sizeof(table_open_error), "table \"%s\": unsupported type %.*s",
	         spec, (int)type_len, type);
	*error_r = table_open_error;
	return NULL;
}

int table_lookup(struct table *t, const char *key, struct str *value, const char **error_r)
{
	size_t key_len = strlen(key);
	if (key_len == 0)
		return 0;
	int rc = t->v->lookup(t, key, key_len, value);
	if (rc < 0)
		*error_r = str_cstr(&t->error);
	return rc;
}

int table_walk(struct table *t, table_walk_fn *fn, void *ctx, const char **error_r)
{
	int rc = t->v->walk != NULL
	             ? t->v->walk(t, fn, ctx)
	             : table_set_error(t, "table \"%s\": a %s table cannot list its entries",
	                               t->spec, t->v->type);
	if (rc < 0)
		*error_r = str_cstr(&t->error);
	return rc;
}

const char *table_spec(const struct table *t)
{
	return t->spec;
}

/* The length of the LMDB type prefix spec starts with ("lmdb:", and
 * Postfix's "hash:" and "btree:"), or 0. */
static size_t lmdb_prefix_len(const char *spec)
{
	static const char *const types[] = {"lmdb:", "hash:", "btree:"};
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strncmp(spec, types[i], strlen(types[i])) == 0)
			return strlen(types[i]);
	return 0;
}

char *table_lmdb_path(const char *spec)
{
	if (strncmp(spec, "proxy:", 6) == 0)
		spec += 6;
	if (spec[0] == '/')
		return ends_with(spec, ".lmdb") ? xstrdup(spec) : NULL;
	size_t len = lmdb_prefix_len(spec);
	if (len == 0 || spec[len] != '/')
		return NULL;
	const char *path = spec + len;
	return ends_with(path, ".lmdb") ? xstrdup(path) : xasprintf("%s.lmdb", path);
}

const char *table_source_of(const char *spec)
{
	return spec + lmdb_prefix_len(spec);
}

int table_spec_stat(const char *spec, struct stat *st)
{
	char *path = table_lmdb_path(spec);
	if (path == NULL) {
		errno = EINVAL;
		return -1;
	}
	int rc = stat(path, st);
	free(path);
	return rc;
}

void table_close(struct table *t)
{
	if (t == NULL)
		return;
	free(t->spec);
	str_free(&t->error);
	t->v->close(t);
}

int table_set_error(struct table *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	str_clear(&t->error);
	str_vprintf(&t->error, fmt, ap);
	va_end(ap);
	return -1;
}

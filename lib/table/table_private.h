/*
 * What a table implementation provides to table.c: a vtable and an open
 * function. Only table*.c include this.
 */
#ifndef POSTERN_TABLE_TABLE_PRIVATE_H
#define POSTERN_TABLE_TABLE_PRIVATE_H

#include "table/table.h"

struct table_vfuncs {
	const char *type;
	/* 1 found (value set), 0 not found, -1 error (t->error set). */
	int (*lookup)(struct table *t, const char *key, size_t key_len, struct str *value);
	void (*close)(struct table *t);
	/* Every entry, as table_walk; NULL for a type that cannot list them.
	 * 0 all seen, 1 fn stopped, -1 error (t->error set). */
	int (*walk)(struct table *t, table_walk_fn *fn, void *ctx);
};

/* The common part; each implementation embeds it first. */
struct table {
	const struct table_vfuncs *v;
	char *spec;
	struct str error; /* the last look-up error */
};

/* Open an LMDB file read-only: NULL with *error_r (static) on failure. */
struct table *table_lmdb_open(const char *path, const char **error_r);
/* Read a cidr_table(5) file: NULL with *error_r (static, naming the file
 * and line of an error in it) on failure. */
struct table *table_cidr_open(const char *path, const char **error_r);
/* Read and compile a regexp_table(5) file: NULL with *error_r (static,
 * "PATH, line N: what is wrong" for an error in the file) on failure. */
struct table *table_regexp_open(const char *path, const char **error_r);
/* The same for a pcre_table(5) file: its PCRE patterns are translated
 * to POSIX ones (pcre_translate.h), and one that cannot be exactly is an
 * error in the file. */
struct table *table_pcre_open(const char *path, const char **error_r);

/* Tables in memory (table_memory.c): static:VALUE, inline:{ k=v, ... }
 * and texthash:FILE; NULL with *error_r (static) on failure. */
struct table *table_static_open(const char *arg, const char **error_r);
struct table *table_inline_open(const char *arg, const char **error_r);
struct table *table_texthash_open(const char *path, const char **error_r);

/* A socketmap_table(5) client (table_socketmap.c): inet:HOST:PORT:NAME
 * or unix:PATH:NAME; NULL with *error_r (static) for a malformed one.
 * Nothing is connected until the first look-up. */
struct table *table_socketmap_open(const char *arg, const char **error_r);

/* Set t->error from a format; returns -1 for convenience. */
int table_set_error(struct table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif

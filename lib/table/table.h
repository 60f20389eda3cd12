/*
 * Lookup tables: a key → value interface with one file per implementation
 * (a small vtable: LMDB, regexp and cidr), and the builder that compiles an LMDB
 * table from entries.
 *
 * Readers: table_open("lmdb:/etc/postern/aliases.lmdb") (a bare path
 * ending in ".lmdb" means the same). An LMDB table is one file, opened
 * read-only and without a lock file; it is never modified in place. A
 * rebuild writes a new file under a temporary name and renames it over the
 * old one, and an open table notices that (the path is checked at most
 * once a second during look-ups) and switches to the new file without a
 * restart. Keys are looked up exactly as given: case folding, if any, is
 * the caller's business.
 *
 * regexp:/etc/postern/header_checks is a list of POSIX regular expressions
 * with results, as Postfix's regexp_table(5) (see regexp_table(5)): a
 * look-up returns the result of the first rule that matches the key. The
 * file is read and compiled once, at open; a changed file takes effect
 * when the program opens the table again. pcre:FILE (pcre_table(5)) is
 * the same with Postfix's PCRE patterns, translated to POSIX ones at
 * open (a pattern that cannot be translated exactly fails the open).
 * cidr:/etc/postern/client.cidr
 * (cidr_table(5)) is likewise read at open: "network/prefix result" rules,
 * the first whose network holds the key (a printable address) decides.
 * socketmap:inet:HOST:PORT:NAME and socketmap:unix:PATH:NAME
 * (socketmap_table(5)) ask a socket map server at each look-up.
 *
 * Writers: collect entries in a table_builder and write them out with
 * table_builder_write_lmdb(), which writes to a temporary file, grows the
 * map as needed, fsyncs, and renames over dest_path (then fsyncs the
 * directory). On failure the previous file at dest_path stays untouched.
 */
#ifndef POSTERN_TABLE_TABLE_H
#define POSTERN_TABLE_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "util/str.h"

/* The longest key an LMDB table stores (LMDB's limit with its default page
 * size); other tables take keys of any length. */
#define TABLE_MAX_KEY 511

struct table;

/* Open a table named by spec ("type:argument", or a path ending in .lmdb).
 * Returns NULL with *error_r (a static message) if the type is unknown or
 * the table cannot be opened (a missing file is an error). */
struct table *table_open(const char *spec, const char **error_r);

/* Look up key. Returns 1 and sets value (replacing its contents) when found,
 * 0 when not found, -1 on error with *error_r (valid until the next call
 * on t). An empty key is simply not found, and so is a key longer than
 * TABLE_MAX_KEY in an LMDB table. */
int table_lookup(struct table *t, const char *key, struct str *value, const char **error_r);

/* Every entry of a table that holds a list of them (lmdb and Postfix's
 * hash/btree names for it, texthash, inline), in key order: fn gets each
 * key and value as C strings (valid only during the call) and returns 0
 * to go on, anything else to stop. 0 when all were seen, 1 when fn
 * stopped, -1 with *error_r (valid until the next call on t) for a table
 * whose type computes its answers (static, regexp, cidr) or a read
 * error. For programs that must read everything a table names while
 * still privileged. */
typedef int table_walk_fn(const char *key, const char *value, void *ctx);
int table_walk(struct table *t, table_walk_fn *fn, void *ctx, const char **error_r);

/* The spec the table was opened with. */
const char *table_spec(const struct table *t);

/* The LMDB file an LMDB spec names (malloc'd): "/x.lmdb", and
 * "lmdb:", "hash:" or "btree:" with "/x" or "/x.lmdb" give "/x.lmdb"
 * (after a "proxy:"); NULL for any other spec. */
char *table_lmdb_path(const char *spec);

/* The source file an LMDB table is built from, as postmap and Postfix's
 * alias_database take it: spec without a leading "hash:", "btree:" or
 * "lmdb:" (a pointer into spec). */
const char *table_source_of(const char *spec);

/* stat() the file an LMDB spec names (table_lmdb_path): the owner of an
 * aliases table decides whose privileges its commands get. 0, or -1 with
 * errno (EINVAL for a spec that names no such file). */
int table_spec_stat(const char *spec, struct stat *st);

void table_close(struct table *t);

/* ---- Building ---- */

struct table_builder;

struct table_builder *table_builder_new(void);
/* Add one entry. When a key is added twice the first value is kept. */
void table_builder_add(struct table_builder *b, const char *key, size_t key_len, const void *value,
                       size_t value_len);
size_t table_builder_count(const struct table_builder *b);
/* Give the written file this owner (needs root; (uid_t)-1: the writer's). */
void table_builder_set_owner(struct table_builder *b, uid_t owner);
/* Write an LMDB table to dest_path with the given file mode and group
 * ((gid_t)-1 leaves the group alone). 0, or -1 with *error_r (static). */
int table_builder_write_lmdb(struct table_builder *b, const char *dest_path, mode_t mode,
                             gid_t group, const char **error_r);
void table_builder_free(struct table_builder *b);

/* Build from an array of C-string pairs in one call. */
struct table_entry {
	const char *key;
	const char *value;
};
int table_build_lmdb(const char *dest_path, const struct table_entry *entries, size_t count,
                     mode_t mode, gid_t group, const char **error_r);

#endif

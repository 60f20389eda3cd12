/*
 * An LMDB file that several processes read and write at once: the
 * persistent caches (the smtp TLS session cache, the address verification
 * cache), as opposed to the read-only lookup tables of table_lmdb.c. The
 * file is opened with locking (MDB_NOSUBDIR, its "-lock" file beside it);
 * every read is one read transaction and every change one small write
 * transaction, so writers in other processes wait on each other only
 * briefly. A crash may lose the last changes, never the file's integrity
 * (no meta-page sync: a cache only ever saves work). The map has a fixed
 * size: when the entries fill half of it, a write first removes the
 * entries its caller no longer wants, and all of them if that is not
 * enough. A map grown by another process is adopted; stale reader slots of
 * processes that died are cleared at open. Keys are 1..TABLE_MAX_KEY bytes.
 *
 * Open it in the process that uses it, after any fork (an LMDB
 * environment must not cross one). Errors are LMDB's text (static).
 */
#ifndef POSTERN_TABLE_CACHE_DB_H
#define POSTERN_TABLE_CACHE_DB_H

#include <stdbool.h>
#include <stddef.h>

#include "util/str.h"

struct cache_db;

/* The file a cache setting names (malloc'd): "lmdb:", "hash:" or
 * "btree:" with "/x" give "/x.lmdb" as for lookup tables
 * (table_lmdb_path), a plain absolute path is the file itself; NULL for
 * anything else. */
char *cache_db_path(const char *spec);

/* Open path, creating it (mode 0600, owned by the caller) if missing.
 * map_size: the most bytes the file may hold (0: 16 MiB). NULL with
 * *error_r when it cannot be opened or is not a regular file. */
struct cache_db *cache_db_open(const char *path, size_t map_size, const char **error_r);
void cache_db_close(struct cache_db *db);

/* 1 with value set to a copy of key's value, 0 when there is none (or the
 * key is empty or too long), -1 with *error_r. */
int cache_db_get(struct cache_db *db, const char *key, struct str *value, const char **error_r);

/* Which entries a crowded cache keeps: true to keep (value, len) of key. */
typedef bool cache_db_keep_fn(const char *key, size_t key_len, const void *value, size_t len,
                              void *ctx);

/* Save value under key, replacing what was there. When the map is
 * crowded, the entries keep refuses are removed first (all entries if
 * that is not enough; keep NULL: all). 0, or -1 with *error_r. */
int cache_db_put(struct cache_db *db, const char *key, const void *value, size_t len,
                 cache_db_keep_fn *keep, void *ctx, const char **error_r);

/* Remove key's entry (none is no error). 0, or -1 with *error_r. */
int cache_db_delete(struct cache_db *db, const char *key, const char **error_r);

/* Remove every entry keep refuses, in one write transaction; with
 * removed_r, how many went. 0, or -1 with *error_r. */
int cache_db_prune(struct cache_db *db, cache_db_keep_fn *keep, void *ctx, size_t *removed_r,
                   const char **error_r);

/* Call fn on every entry, in key order, in one read transaction (fn must
 * not change the cache); fn returns false to stop. 0, or -1 with *error_r. */
int cache_db_walk(struct cache_db *db, cache_db_keep_fn *fn, void *ctx, const char **error_r);

#endif

/*
 * The shared LMDB cache file (cache_db.h): open with locking, one
 * transaction per read or change, and room made by the caller's keep
 * function when the entries fill half the map.
 */
#include "table/cache_db.h"

#include <errno.h>
#include <lmdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "table/table.h"
#include "util/alloc.h"

#define CACHE_DEFAULT_MAP ((size_t)16 * 1024 * 1024)

struct cache_db {
	MDB_env *env;
	MDB_dbi dbi;
};

char *cache_db_path(const char *spec)
{
	char *path = table_lmdb_path(spec);
	if (path == NULL && spec[0] == '/')
		path = xstrdup(spec);
	return path;
}

struct cache_db *cache_db_open(const char *path, size_t map_size, const char **error_r)
{
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi dbi = 0;
	int fd = -1;
	struct stat st;
	int rc = mdb_env_create(&env);
	if (rc == 0)
		rc = mdb_env_set_mapsize(env, map_size ? map_size : CACHE_DEFAULT_MAP);
	if (rc == 0)
		rc = mdb_env_open(env, path, MDB_NOSUBDIR | MDB_NOMETASYNC, 0600);
	if (rc == 0 && (rc = mdb_env_get_fd(env, &fd)) == 0 && fstat(fd, &st) != 0)
		rc = errno;
	if (rc == 0 && !S_ISREG(st.st_mode))
		rc = EINVAL;
	if (rc == 0) {
		int dead = 0;
		(void)mdb_reader_check(env, &dead);
		rc = mdb_txn_begin(env, NULL, 0, &txn);
	}
	if (rc == 0)
		rc = mdb_dbi_open(txn, NULL, 0, &dbi);
	if (rc == 0) {
		rc = mdb_txn_commit(txn);
		txn = NULL;
	}
	if (rc != 0) {
		if (txn != NULL)
			mdb_txn_abort(txn);
		if (env != NULL)
			mdb_env_close(env);
		*error_r = mdb_strerror(rc);
		return NULL;
	}
	struct cache_db *db = xcalloc(1, sizeof(*db));
	db->env = env;
	db->dbi = dbi;
	return db;
}

void cache_db_close(struct cache_db *db)
{
	if (db == NULL)
		return;
	mdb_env_close(db->env);
	free(db);
}

/* A read (flags MDB_RDONLY) or write transaction, adopting a map that
 * another process made larger. */
static int begin(struct cache_db *db, unsigned int flags, MDB_txn **txn)
{
	int rc = mdb_txn_begin(db->env, NULL, flags, txn);
	if (rc == MDB_MAP_RESIZED) {
		rc = mdb_env_set_mapsize(db->env, 0);
		if (rc == 0)
			rc = mdb_txn_begin(db->env, NULL, flags, txn);
	}
	return rc;
}

static bool key_usable(const char *key, MDB_val *k)
{
	size_t len = strlen(key);
	k->mv_size = len;
	k->mv_data = (void *)key;
	return len > 0 && len <= TABLE_MAX_KEY;
}

static int finish(MDB_txn *txn, int rc, const char **error_r)
{
	if (rc == 0)
		rc = mdb_txn_commit(txn);
	else
		mdb_txn_abort(txn);
	if (rc != 0)
		*error_r = mdb_strerror(rc);
	return rc == 0 ? 0 : -1;
}

int cache_db_get(struct cache_db *db, const char *key, struct str *value, const char **error_r)
{
	MDB_val k, v;
	if (!key_usable(key, &k))
		return 0;
	MDB_txn *txn;
	int rc = begin(db, MDB_RDONLY, &txn);
	if (rc == 0) {
		rc = mdb_get(txn, db->dbi, &k, &v);
		if (rc == 0) {
			str_clear(value);
			str_append(value, v.mv_data, v.mv_size);
		}
		mdb_txn_abort(txn);
	}
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0) {
		*error_r = mdb_strerror(rc);
		return -1;
	}
	return 1;
}

/* Whether the entries fill more than half the map. LMDB reuses a page
 * freed by one transaction only from the next but one, so room is made
 * before the map is full, not when it is. */
static bool crowded(struct cache_db *db, MDB_txn *txn)
{
	MDB_stat st;
	MDB_envinfo info;
	if (mdb_stat(txn, db->dbi, &st) != 0 || mdb_env_info(db->env, &info) != 0 ||
	    st.ms_psize == 0)
		return false;
	size_t used = st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
	return used > info.me_mapsize / st.ms_psize / 2;
}

/* k as a C string in key (TABLE_MAX_KEY + 1 bytes); its length. */
static size_t copy_key(const MDB_val *k, char *key)
{
	size_t len = k->mv_size < TABLE_MAX_KEY ? k->mv_size : TABLE_MAX_KEY;
	memcpy(key, k->mv_data, len);
	key[len] = '\0';
	return len;
}

/* Call fn on every entry inside txn, in key order: with prune, remove
 * each one it refuses (all with fn NULL), counting them in *removed;
 * without, stop at the first it refuses. */
static int each_entry(struct cache_db *db, MDB_txn *txn, cache_db_keep_fn *fn, void *ctx,
                      bool prune, size_t *removed)
{
	MDB_cursor *cursor = NULL;
	int rc = mdb_cursor_open(txn, db->dbi, &cursor);
	MDB_val k, v;
	for (MDB_cursor_op op = MDB_FIRST; rc == 0; op = MDB_NEXT) {
		rc = mdb_cursor_get(cursor, &k, &v, op);
		if (rc != 0)
			break;
		char key[TABLE_MAX_KEY + 1];
		size_t key_len = copy_key(&k, key);
		if (fn != NULL && fn(key, key_len, v.mv_data, v.mv_size, ctx))
			continue;
		if (!prune)
			break;
		rc = mdb_cursor_del(cursor, 0);
		(*removed)++;
	}
	if (cursor != NULL)
		mdb_cursor_close(cursor);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int cache_db_put(struct cache_db *db, const char *key, const void *value, size_t len,
                 cache_db_keep_fn *keep, void *ctx, const char **error_r)
{
	MDB_val k;
	if (!key_usable(key, &k)) {
		*error_r = "key empty or too long";
		return -1;
	}
	MDB_txn *txn;
	int rc = begin(db, 0, &txn);
	if (rc != 0) {
		*error_r = mdb_strerror(rc);
		return -1;
	}
	size_t removed = 0;
	if (crowded(db, txn)) {
		rc = each_entry(db, txn, keep, ctx, true, &removed);
		if (rc == 0 && crowded(db, txn))
			rc = mdb_drop(txn, db->dbi, 0);
	}
	MDB_val v = {.mv_size = len, .mv_data = (void *)value};
	if (rc == 0)
		rc = mdb_put(txn, db->dbi, &k, &v, 0);
	return finish(txn, rc, error_r);
}

int cache_db_delete(struct cache_db *db, const char *key, const char **error_r)
{
	MDB_val k;
	if (!key_usable(key, &k))
		return 0;
	MDB_txn *txn;
	int rc = begin(db, 0, &txn);
	if (rc != 0) {
		*error_r = mdb_strerror(rc);
		return -1;
	}
	rc = mdb_del(txn, db->dbi, &k, NULL);
	return finish(txn, rc == MDB_NOTFOUND ? 0 : rc, error_r);
}

int cache_db_prune(struct cache_db *db, cache_db_keep_fn *keep, void *ctx, size_t *removed_r,
                   const char **error_r)
{
	MDB_txn *txn;
	int rc = begin(db, 0, &txn);
	if (rc != 0) {
		*error_r = mdb_strerror(rc);
		return -1;
	}
	size_t removed = 0;
	rc = each_entry(db, txn, keep, ctx, true, &removed);
	if (removed_r)
		*removed_r = rc == 0 ? removed : 0;
	return finish(txn, rc, error_r);
}

int cache_db_walk(struct cache_db *db, cache_db_keep_fn *fn, void *ctx, const char **error_r)
{
	MDB_txn *txn;
	int rc = begin(db, MDB_RDONLY, &txn);
	if (rc == 0) {
		rc = each_entry(db, txn, fn, ctx, false, NULL);
		mdb_txn_abort(txn);
	}
	if (rc != 0) {
		*error_r = mdb_strerror(rc);
		return -1;
	}
	return 0;
}

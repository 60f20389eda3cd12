/*
 * LMDB tables: the one place that wraps LMDB for lookup tables.
 *
 * Reader: a table is one file (MDB_NOSUBDIR) opened with MDB_RDONLY and
 * MDB_NOLOCK. That is safe because a table file is never written after it
 * is renamed into place, and it means readers need no lock file, no write
 * access and leave no stale reader slots. At most once a second a look-up
 * stats the path; when the inode changed (a rebuild was renamed over it)
 * the new file is opened and the old one closed. If the new file cannot be
 * opened, the old one keeps answering until the next check.
 *
 * Builder: all entries go in one write transaction on a fresh temporary
 * file next to the destination; when the map is full the transaction is
 * abandoned, the map doubled and the transaction redone. Then the file is
 * synced, renamed over the destination, and the directory synced.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <lmdb.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "table/table.h"
#include "table/table_private.h"
#include "util/alloc.h"
#include "util/dir_sync.h"
#include "util/event.h"

#define LMDB_RECHECK_MS 1000
#define LMDB_INITIAL_MAP (1024 * 1024)
#define LMDB_MAX_MAP ((size_t)1 << 40)

static char lmdb_error[512];

static const char *set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static const char *set_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(lmdb_error, sizeof(lmdb_error), fmt, ap);
	va_end(ap);
	return lmdb_error;
}

/* ---- Reading ---- */

struct lmdb_file {
	MDB_env *env;
	MDB_dbi dbi;
	dev_t dev;
	ino_t ino;
};

struct table_lmdb {
	struct table table; /* first */
	char *path;
	struct lmdb_file file;
	int64_t last_check_ms;
};

static void lmdb_file_close(struct lmdb_file *f)
{
	if (f->env)
		mdb_env_close(f->env);
	f->env = NULL;
}

/* Open path read-only; 0 or -1 with *error_r. */
static int lmdb_file_open(const char *path, struct lmdb_file *f, const char **error_r)
{
	memset(f, 0, sizeof(*f));
	int rc = mdb_env_create(&f->env);
	if (rc != 0) {
		*error_r = set_error("lmdb %s: %s", path, mdb_strerror(rc));
		f->env = NULL;
		return -1;
	}
	rc = mdb_env_open(f->env, path, MDB_NOSUBDIR | MDB_RDONLY | MDB_NOLOCK, 0644);
	MDB_txn *txn = NULL;
	if (rc == 0)
		rc = mdb_txn_begin(f->env, NULL, MDB_RDONLY, &txn);
	if (rc == 0)
		rc = mdb_dbi_open(txn, NULL, 0, &f->dbi);
	if (rc == 0)
		rc = mdb_txn_commit(txn);
	else if (txn != NULL)
		mdb_txn_abort(txn);
	int fd = -1;
	struct stat st;
	if (rc == 0 && (rc = mdb_env_get_fd(f->env, &fd)) == 0 && fstat(fd, &st) != 0)
		rc = errno;
	if (rc != 0) {
		*error_r = set_error("open %s: %s", path, mdb_strerror(rc));
		lmdb_file_close(f);
		return -1;
	}
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	return 0;
}

/* Switch to a rebuilt file if the path now names a different one. */
static void lmdb_check_rebuilt(struct table_lmdb *t)
{
	int64_t now = event_now_ms();
	if (now - t->last_check_ms < LMDB_RECHECK_MS)
		return;
	t->last_check_ms = now;
	struct stat st;
	if (stat(t->path, &st) != 0 || (st.st_dev == t->file.dev && st.st_ino == t->file.ino))
		return;
	struct lmdb_file fresh;
	const char *error;
	if (lmdb_file_open(t->path, &fresh, &error) != 0)
		return; /* keep answering from the old file; try again later */
	lmdb_file_close(&t->file);
	t->file = fresh;
}

static int lmdb_lookup(struct table *table, const char *key, size_t key_len, struct str *value)
{
	struct table_lmdb *t = (struct table_lmdb *)table;
	if (key_len > TABLE_MAX_KEY)
		return 0; /* LMDB cannot store it, so it is not there */
	lmdb_check_rebuilt(t);
	MDB_txn *txn;
	int rc = mdb_txn_begin(t->file.env, NULL, MDB_RDONLY, &txn);
	if (rc == MDB_MAP_RESIZED) {
		/* Only a writer in place can cause this; adopt the new size. */
		rc = mdb_env_set_mapsize(t->file.env, 0);
		if (rc == 0)
			rc = mdb_txn_begin(t->file.env, NULL, MDB_RDONLY, &txn);
	}
	if (rc != 0)
		return table_set_error(table, "%s: %s", t->path, mdb_strerror(rc));
	MDB_val k = {.mv_size = key_len, .mv_data = (void *)key}, v;
	rc = mdb_get(txn, t->file.dbi, &k, &v);
	int result;
	if (rc == 0) {
		str_clear(value);
		str_append(value, v.mv_data, v.mv_size);
		result = 1;
	} else if (rc == MDB_NOTFOUND || rc == MDB_BAD_VALSIZE) {
		result = 0;
	} else {
		result = table_set_error(table, "%s: look-up: %s", t->path, mdb_strerror(rc));
	}
	mdb_txn_abort(txn);
	return result;
}

/* Every entry under one read transaction, with a cursor. */
static int lmdb_walk(struct table *table, table_walk_fn *fn, void *ctx)
{
	struct table_lmdb *t = (struct table_lmdb *)table;
	lmdb_check_rebuilt(t);
	MDB_txn *txn;
	MDB_cursor *cursor = NULL;
	int rc = mdb_txn_begin(t->file.env, NULL, MDB_RDONLY, &txn);
	if (rc != 0)
		return table_set_error(table, "%s: %s", t->path, mdb_strerror(rc));
	rc = mdb_cursor_open(txn, t->file.dbi, &cursor);
	struct str key = STR_INIT, value = STR_INIT;
	int result = 0;
	MDB_val k, v;
	for (MDB_cursor_op op = MDB_FIRST; rc == 0 && result == 0; op = MDB_NEXT) {
		rc = mdb_cursor_get(cursor, &k, &v, op);
		if (rc != 0)
			break;
		str_clear(&key);
		str_append(&key, k.mv_data, k.mv_size);
		str_clear(&value);
		str_append(&value, v.mv_data, v.mv_size);
		result = fn(str_cstr(&key), str_cstr(&value), ctx) != 0 ? 1 : 0;
	}
	if (rc != 0 && rc != MDB_NOTFOUND)
		result = table_set_error(table, "%s: read: %s", t->path, mdb_strerror(rc));
	if (cursor != NULL)
		mdb_cursor_close(cursor);
	mdb_txn_abort(txn);
	str_free(&key);
	str_free(&value);
	return result;
}

static void lmdb_close(struct table *table)
{
	struct table_lmdb *t = (struct table_lmdb *)table;
	lmdb_file_close(&t->file);
	free(t->path);
	free(t);
}

static const struct table_vfuncs lmdb_vfuncs = {
    .type = "lmdb",
    .lookup = lmdb_lookup,
    .close = lmdb_close,
    .walk = lmdb_walk,
};

struct table *table_lmdb_open(const char *path, const char **error_r)
{
	struct lmdb_file file;
	if (lmdb_file_open(path, &file, error_r) != 0)
		return NULL;
	struct table_lmdb *t = xcalloc(1, sizeof(*t));
	t->table.v = &lmdb_vfuncs;
	str_init(&t->table.error);
	t->path = xstrdup(path);
	t->file = file;
	t->last_check_ms = event_now_ms();
	return &t->table;
}

/* ---- Building ---- */

struct builder_entry {
	char *key;
	size_t key_len;
	char *value;
	size_t value_len;
};

struct table_builder {
	struct builder_entry *items;
	size_t count, cap;
	size_t bytes; /* keys and values together */
	uid_t owner;  /* (uid_t)-1: leave alone */
};

struct table_builder *table_builder_new(void)
{
	struct table_builder *b = xcalloc(1, sizeof(struct table_builder));
	b->owner = (uid_t)-1;
	return b;
}

void table_builder_set_owner(struct table_builder *b, uid_t owner)
{
	b->owner = owner;
}

void table_builder_add(struct table_builder *b, const char *key, size_t key_len, const void *value,
                       size_t value_len)
{
	if (b->count == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 64;
		b->items = xreallocarray(b->items, b->cap, sizeof(*b->items));
	}
	struct builder_entry *e = &b->items[b->count++];
	e->key = xmemdup(key, key_len);
	e->key_len = key_len;
	e->value = xmemdup(value_len ? value : "", value_len);
	e->value_len = value_len;
	b->bytes += key_len + value_len;
}

size_t table_builder_count(const struct table_builder *b)
{
	return b->count;
}

void table_builder_free(struct table_builder *b)
{
	if (b == NULL)
		return;
	for (size_t i = 0; i < b->count; i++) {
		free(b->items[i].key);
		/* Values may be secrets (password hashes): clear before freeing. */
		explicit_bzero(b->items[i].value, b->items[i].value_len);
		free(b->items[i].value);
	}
	free(b->items);
	free(b);
}

/* Put every entry in one transaction (keys are checked already). Returns 0
 * or an LMDB error code; MDB_MAP_FULL means: grow the map and retry. */
static int builder_put_all(const struct table_builder *b, MDB_env *env)
{
	MDB_txn *txn;
	MDB_dbi dbi;
	int rc = mdb_txn_begin(env, NULL, 0, &txn);
	if (rc != 0)
		return rc;
	rc = mdb_dbi_open(txn, NULL, 0, &dbi);
	for (size_t i = 0; rc == 0 && i < b->count; i++) {
		const struct builder_entry *e = &b->items[i];
		MDB_val k = {.mv_size = e->key_len, .mv_data = e->key};
		MDB_val v = {.mv_size = e->value_len, .mv_data = e->value};
		rc = mdb_put(txn, dbi, &k, &v, MDB_NOOVERWRITE);
		if (rc == MDB_KEYEXIST)
			rc = 0; /* the first value wins */
	}
	if (rc != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	return mdb_txn_commit(txn);
}

/* Write the entries into the (empty) file at path; 0 or -1 with *error_r. */
static int builder_write_file(const struct table_builder *b, const char *path, mode_t mode,
                              const char **error_r)
{
	for (size_t i = 0; i < b->count; i++)
		if (b->items[i].key_len == 0 || b->items[i].key_len > TABLE_MAX_KEY) {
			*error_r =
			    set_error("key \"%.*s\" is empty or longer than %d bytes",
			              (int)(b->items[i].key_len > 80 ? 80 : b->items[i].key_len),
			              b->items[i].key, TABLE_MAX_KEY);
			return -1;
		}
	MDB_env *env;
	int rc = mdb_env_create(&env);
	if (rc != 0) {
		*error_r = set_error("lmdb: %s", mdb_strerror(rc));
		return -1;
	}
	size_t map_size = LMDB_INITIAL_MAP + b->bytes;
	rc = mdb_env_set_mapsize(env, map_size);
	if (rc == 0)
		rc = mdb_env_open(env, path, MDB_NOSUBDIR | MDB_NOLOCK, mode);
	while (rc == 0) {
		rc = builder_put_all(b, env);
		if (rc != MDB_MAP_FULL)
			break;
		if (map_size >= LMDB_MAX_MAP)
			break;
		map_size *= 2;
		rc = mdb_env_set_mapsize(env, map_size);
	}
	if (rc == 0)
		rc = mdb_env_sync(env, 1);
	mdb_env_close(env);
	if (rc != 0)
		*error_r = set_error("write %s: %s", path, mdb_strerror(rc));
	return rc == 0 ? 0 : -1;
}

static int fsync_parent(const char *path, const char **error_r)
{
	if (dir_sync_parent(path) != 0) {
		*error_r = set_error("fsync the directory of %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int table_builder_write_lmdb(struct table_builder *b, const char *dest_path, mode_t mode,
                             gid_t group, const char **error_r)
{
	char *tmp = xasprintf("%s.tmpXXXXXX", dest_path);
	int fd = mkstemp(tmp);
	if (fd < 0) {
		*error_r = set_error("create %s: %s", tmp, strerror(errno));
		free(tmp);
		return -1;
	}
	int rc = 0;
	if (fchmod(fd, mode) != 0 ||
	    ((group != (gid_t)-1 || b->owner != (uid_t)-1) && fchown(fd, b->owner, group) != 0)) {
		*error_r = set_error("set mode, owner or group of %s: %s", tmp, strerror(errno));
		rc = -1;
	}
	if (rc == 0)
		rc = builder_write_file(b, tmp, mode, error_r);
	if (rc == 0 && fsync(fd) != 0) {
		*error_r = set_error("fsync %s: %s", tmp, strerror(errno));
		rc = -1;
	}
	close(fd);
	if (rc == 0 && rename(tmp, dest_path) != 0) {
		*error_r = set_error("rename %s to %s: %s", tmp, dest_path, strerror(errno));
		rc = -1;
	}
	if (rc != 0)
		unlink(tmp);
	else
		rc = fsync_parent(dest_path, error_r);
	free(tmp);
	return rc;
}

int table_build_lmdb(const char *dest_path, const struct table_entry *entries, size_t count,
                     mode_t mode, gid_t group, const char **error_r)
{
	struct table_builder *b = table_builder_new();
	for (size_t i = 0; i < count; i++)
		table_builder_add(b, entries[i].key, strlen(entries[i].key), entries[i].value,
		                  strlen(entries[i].value));
	int rc = table_builder_write_lmdb(b, dest_path, mode, group, error_r);
	table_builder_free(b);
	return rc;
}

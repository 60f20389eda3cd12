/*
 * A mailbox: Maildir plus the LMDB index (see store.h). All index changes
 * go through store_write(), which runs one operation in a write
 * transaction and redoes it after growing the map on MDB_MAP_FULL; the
 * operations are written so that redoing them is harmless.
 *
 * Index records, all in the unnamed database:
 *   "V"              UIDVALIDITY (4 bytes big-endian)
 *   "N"              UIDNEXT (4 bytes)
 *   "M"              highest MODSEQ (8 bytes)
 *   "u" + uid (4)    size (8), modseq (8), flags, NUL, base name, NUL,
 *                    internal date (8, seconds; absent in records of
 *                    older versions: then the time the base name starts
 *                    with)
 *   "b" + base name  uid (4)
 * Keys sort so that a cursor over "u" walks messages in UID order and one
 * over "b" walks them by base name.
 */
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"
#include "util/alloc.h"
#include "util/log.h"

#define STORE_INITIAL_MAP ((size_t)1 << 20)
#define STORE_MAX_MAP ((size_t)1 << 36)
/* LMDB's default key limit is 511 bytes; "b" takes one. */
#define STORE_MAX_BASE 500
/* Returned by a write operation that set *error_r itself. */
#define STORE_FAILED (-1)

struct store {
	char *path;
	MDB_env *env;
	MDB_dbi dbi;
	uint32_t uidvalidity, uidnext;
	uint64_t modseq;
	struct store_message *msgs;
	size_t count, cap;
	int lock_fd; /* store_lock_session(), or -1 */
};

static char store_error[512];

static const char *set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static const char *set_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(store_error, sizeof(store_error), fmt, ap);
	va_end(ap);
	return store_error;
}

/* ---- Encoding ---- */

static void put_be(unsigned char *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (unsigned char)(v >> (8 * (bytes - 1 - i)));
}

static uint64_t get_be(const unsigned char *p, int bytes)
{
	uint64_t v = 0;
	for (int i = 0; i < bytes; i++)
		v = v << 8 | p[i];
	return v;
}

static void uid_key(unsigned char key[5], uint32_t uid)
{
	key[0] = 'u';
	put_be(key + 1, uid, 4);
}

static int get_u64(MDB_txn *txn, MDB_dbi dbi, const char *name, int bytes, uint64_t *v_r)
{
	MDB_val k = {.mv_size = strlen(name), .mv_data = (void *)name}, v;
	int rc = mdb_get(txn, dbi, &k, &v);
	if (rc == 0 && v.mv_size != (size_t)bytes)
		rc = MDB_CORRUPTED;
	if (rc == 0)
		*v_r = get_be(v.mv_data, bytes);
	return rc;
}

static int put_u64(MDB_txn *txn, MDB_dbi dbi, const char *name, int bytes, uint64_t value)
{
	unsigned char buf[8];
	put_be(buf, value, bytes);
	MDB_val k = {.mv_size = strlen(name), .mv_data = (void *)name};
	MDB_val v = {.mv_size = (size_t)bytes, .mv_data = buf};
	return mdb_put(txn, dbi, &k, &v, 0);
}

/* Write the "u" and "b" records of m. */
static int put_message(MDB_txn *txn, MDB_dbi dbi, const struct store_message *m)
{
	unsigned char key[5];
	uid_key(key, m->uid);
	size_t flags_len = strlen(m->flags), base_len = strlen(m->base);
	struct str rec = STR_INIT;
	unsigned char num[16];
	put_be(num, (uint64_t)m->size, 8);
	put_be(num + 8, m->modseq, 8);
	str_append(&rec, num, 16);
	str_append(&rec, m->flags, flags_len + 1);
	str_append(&rec, m->base, base_len + 1);
	put_be(num, (uint64_t)m->internal_date, 8);
	str_append(&rec, num, 8);
	MDB_val k = {.mv_size = 5, .mv_data = key}, v = {.mv_size = rec.len, .mv_data = rec.data};
	int rc = mdb_put(txn, dbi, &k, &v, 0);
	str_free(&rec);
	if (rc != 0)
		return rc;
	char *bkey = xasprintf("b%s", m->base);
	put_be(num, m->uid, 4);
	MDB_val bk = {.mv_size = base_len + 1, .mv_data = bkey},
	        bv = {.mv_size = 4, .mv_data = num};
	rc = mdb_put(txn, dbi, &bk, &bv, 0);
	free(bkey);
	return rc;
}

/* The seconds a Maildir base name starts with (delivery names do), or 0. */
static int64_t date_from_name(const char *base)
{
	int64_t t = 0;
	for (const char *p = base; *p >= '0' && *p <= '9' && t < INT64_MAX / 10 - 10; p++)
		t = t * 10 + (*p - '0');
	return t;
}

/* Decode a "u" record into m (m->base allocated). */
static int decode_message(const MDB_val *k, const MDB_val *v, struct store_message *m)
{
	const unsigned char *p = v->mv_data;
	if (k->mv_size != 5 || v->mv_size < 17)
		return MDB_CORRUPTED;
	const char *flags = (const char *)p + 16;
	size_t rest = v->mv_size - 16;
	const char *nul = memchr(flags, '\0', rest);
	if (nul == NULL || (size_t)(nul - flags) > MAILDIR_MAX_FLAGS)
		return MDB_CORRUPTED;
	memset(m, 0, sizeof(*m));
	m->uid = (uint32_t)get_be((const unsigned char *)k->mv_data + 1, 4);
	m->size = (int64_t)get_be(p, 8);
	m->modseq = get_be(p + 8, 8);
	memcpy(m->flags, flags, (size_t)(nul - flags) + 1);
	const char *base = nul + 1, *end = flags + rest;
	const char *base_end = memchr(base, '\0', (size_t)(end - base));
	if (base_end != NULL && end - base_end != 9)
		return MDB_CORRUPTED;
	m->base = xstrndup(base, (size_t)((base_end ? base_end : end) - base));
	m->internal_date = base_end ? (int64_t)get_be((const unsigned char *)base_end + 1, 8)
	                            : date_from_name(m->base);
	return 0;
}

static int delete_message(MDB_txn *txn, MDB_dbi dbi, uint32_t uid, const char *base)
{
	unsigned char key[5];
	uid_key(key, uid);
	MDB_val k = {.mv_size = 5, .mv_data = key};
	int rc = mdb_del(txn, dbi, &k, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return rc;
	char *bkey = xasprintf("b%s", base);
	MDB_val bk = {.mv_size = strlen(bkey), .mv_data = bkey};
	rc = mdb_del(txn, dbi, &bk, NULL);
	free(bkey);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Read the "u" record of uid: 0, MDB_NOTFOUND or an error. */
static int get_message(MDB_txn *txn, MDB_dbi dbi, uint32_t uid, struct store_message *m)
{
	unsigned char key[5];
	uid_key(key, uid);
	MDB_val k = {.mv_size = 5, .mv_data = key}, v;
	int rc = mdb_get(txn, dbi, &k, &v);
	return rc == 0 ? decode_message(&k, &v, m) : rc;
}

/* ---- The in-memory list ---- */

static void messages_clear(struct store *s)
{
	for (size_t i = 0; i < s->count; i++)
		free(s->msgs[i].base);
	s->count = 0;
}

static struct store_message *messages_add(struct store *s)
{
	if (s->count == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->msgs = xreallocarray(s->msgs, s->cap, sizeof(*s->msgs));
	}
	return &s->msgs[s->count++];
}

static int compare_uid(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = ((const struct store_message *)b)->uid;
	return x < y ? -1 : x > y;
}

static struct store_message *find_uid(const struct store *s, uint32_t uid)
{
	if (s->count == 0)
		return NULL;
	return bsearch(&uid, s->msgs, s->count, sizeof(*s->msgs), compare_uid);
}

/* Replace the list with every "u" record, and read the counters. */
static int load_index(struct store *s, MDB_txn *txn)
{
	uint64_t v, n, m;
	int rc = get_u64(txn, s->dbi, "V", 4, &v);
	if (rc == 0)
		rc = get_u64(txn, s->dbi, "N", 4, &n);
	if (rc == 0)
		rc = get_u64(txn, s->dbi, "M", 8, &m);
	if (rc != 0)
		return rc;
	s->uidvalidity = (uint32_t)v;
	s->uidnext = (uint32_t)n;
	s->modseq = m;
	messages_clear(s);
	MDB_cursor *cur;
	if ((rc = mdb_cursor_open(txn, s->dbi, &cur)) != 0)
		return rc;
	MDB_val k = {.mv_size = 1, .mv_data = "u"}, val;
	for (rc = mdb_cursor_get(cur, &k, &val, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &val, MDB_NEXT)) {
		if (((const char *)k.mv_data)[0] != 'u')
			break;
		struct store_message msg;
		if ((rc = decode_message(&k, &val, &msg)) != 0)
			break;
		*messages_add(s) = msg;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
}

/* ---- Write transactions ---- */

typedef int store_write_fn(struct store *s, MDB_txn *txn, void *ctx, const char **error_r);

static int txn_begin(struct store *s, unsigned int flags, MDB_txn **txn_r)
{
	int rc = mdb_txn_begin(s->env, NULL, flags, txn_r);
	if (rc == MDB_MAP_RESIZED) {
		/* Another process grew the map: adopt its size. */
		rc = mdb_env_set_mapsize(s->env, 0);
		if (rc == 0)
			rc = mdb_txn_begin(s->env, NULL, flags, txn_r);
	}
	return rc;
}

static int grow_map(struct store *s)
{
	MDB_envinfo info;
	int rc = mdb_env_info(s->env, &info);
	if (rc != 0)
		return rc;
	if (info.me_mapsize >= STORE_MAX_MAP)
		return MDB_MAP_FULL;
	return mdb_env_set_mapsize(s->env, info.me_mapsize * 2);
}

/* Run fn in a write transaction and commit; on MDB_MAP_FULL grow the map
 * and run it again. fn returns 0, an LMDB/errno code, or STORE_FAILED
 * with *error_r set. 0 or -1 with *error_r. */
static int store_write(struct store *s, store_write_fn *fn, void *ctx, const char **error_r)
{
	for (;;) {
		MDB_txn *txn;
		int rc = txn_begin(s, 0, &txn);
		if (rc != 0) {
			*error_r = set_error("%s: %s", s->path, mdb_strerror(rc));
			return -1;
		}
		rc = fn(s, txn, ctx, error_r);
		if (rc == 0)
			rc = mdb_txn_commit(txn);
		else
			mdb_txn_abort(txn);
		if (rc == MDB_MAP_FULL && (rc = grow_map(s)) == 0)
			continue;
		if (rc == STORE_FAILED)
			return -1;
		if (rc != 0) {
			*error_r =
			    set_error("%s/%s: %s", s->path, STORE_INDEX_NAME, mdb_strerror(rc));
			return -1;
		}
		return 0;
	}
}

/* ---- Opening ---- */

/* The root Maildir of the mailbox at path: its parent for a Maildir++
 * folder (ROOT/.NAME, store/folders.h), else path itself. */
static char *mailbox_root(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (slash != NULL && slash[1] == '.' && slash > path)
		return xstrndup(path, (size_t)(slash - path));
	return xstrdup(path);
}

/* A UIDVALIDITY for a new index: the clock, but above the last one given
 * to any mailbox of the same root, so that a folder deleted and made again
 * within a second never gets its old value back (RFC 3501 2.3.1.1). The
 * last one is kept in ROOT/STORE_UIDVALIDITY_NAME, under flock; without
 * that file (unwritable root) the clock alone decides. */
static uint32_t new_uidvalidity(const char *path)
{
	uint32_t value = (uint32_t)time(NULL);
	if (value == 0)
		value = 1;
	char *root = mailbox_root(path);
	char *file = xasprintf("%s/%s", root, STORE_UIDVALIDITY_NAME);
	int fd = open(file, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd >= 0 && flock(fd, LOCK_EX) == 0) {
		char buf[32] = {0};
		ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
		unsigned long long last = n > 0 ? strtoull(buf, NULL, 10) : 0;
		if (last >= value && last < UINT32_MAX)
			value = (uint32_t)last + 1;
		int len = snprintf(buf, sizeof(buf), "%u\n", value);
		if (pwrite(fd, buf, (size_t)len, 0) == len)
			(void)ftruncate(fd, len);
	}
	if (fd >= 0)
		close(fd);
	free(file);
	free(root);
	return value;
}

static int init_index(struct store *s, MDB_txn *txn, void *ctx, const char **error_r)
{
	(void)ctx;
	(void)error_r;
	int rc = mdb_dbi_open(txn, NULL, 0, &s->dbi);
	uint64_t v;
	if (rc == 0 && (rc = get_u64(txn, s->dbi, "V", 4, &v)) == MDB_NOTFOUND) {
		rc = put_u64(txn, s->dbi, "V", 4, new_uidvalidity(s->path));
		if (rc == 0)
			rc = put_u64(txn, s->dbi, "N", 4, 1);
		if (rc == 0)
			rc = put_u64(txn, s->dbi, "M", 8, 1);
	}
	if (rc == 0)
		rc = load_index(s, txn);
	return rc;
}

struct store *store_open(const char *path, const char **error_r)
{
	if (maildir_create(path, error_r) != 0)
		return NULL;
	struct store *s = xcalloc(1, sizeof(*s));
	s->path = xstrdup(path);
	s->lock_fd = -1;
	char *index = xasprintf("%s/%s", path, STORE_INDEX_NAME);
	int rc = mdb_env_create(&s->env);
	if (rc == 0)
		rc = mdb_env_set_mapsize(s->env, STORE_INITIAL_MAP);
	if (rc == 0)
		rc = mdb_env_open(s->env, index, MDB_NOSUBDIR, 0600);
	if (rc != 0) {
		*error_r = set_error("open %s: %s", index, mdb_strerror(rc));
		free(index);
		if (s->env != NULL)
			mdb_env_close(s->env);
		s->env = NULL;
		store_close(s);
		return NULL;
	}
	free(index);
	int dead;
	mdb_reader_check(s->env, &dead); /* clear slots of crashed readers */
	if (store_write(s, init_index, NULL, error_r) != 0) {
		store_close(s);
		return NULL;
	}
	messages_clear(s); /* the list is only filled by store_sync */
	return s;
}

void store_close(struct store *s)
{
	if (s == NULL)
		return;
	messages_clear(s);
	free(s->msgs);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	if (s->env != NULL)
		mdb_env_close(s->env);
	free(s->path);
	free(s);
}

/* ---- Sync ---- */

static int compare_entry_base(const void *a, const void *b)
{
	const struct maildir_entry *x = a, *y = b;
	int c = strcmp(x->base, y->base);
	/* For the same base the cur/ one sorts first: files only move there. */
	return c != 0 ? c : (int)y->in_cur - (int)x->in_cur;
}

/* Scan the Maildir, sorted by base name, one entry per base. */
static int scan_sorted(const char *path, struct maildir_list *list, const char **error_r)
{
	if (maildir_list(path, list, error_r) != 0)
		return -1;
	if (list->count > 0)
		qsort(list->items, list->count, sizeof(*list->items), compare_entry_base);
	size_t out = 0;
	for (size_t i = 0; i < list->count; i++) {
		if (out > 0 && strcmp(list->items[out - 1].base, list->items[i].base) == 0)
			maildir_entry_free(&list->items[i]);
		else
			list->items[out++] = list->items[i];
	}
	list->count = out;
	return 0;
}

static const struct maildir_entry *scan_find(const struct maildir_list *list, const char *base)
{
	size_t lo = 0, hi = list->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(base, list->items[mid].base);
		if (c == 0)
			return &list->items[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

struct sync_ctx {
	struct maildir_list scan;
	struct maildir_list rescan; /* made only when something seems gone */
	bool rescanned;
	bool changed; /* modseq already bumped in this transaction */
	uint64_t modseq;
	uint32_t uidnext;
};

static uint64_t sync_modseq(struct sync_ctx *c)
{
	if (!c->changed) {
		c->changed = true;
		c->modseq++;
	}
	return c->modseq;
}

/* An indexed message whose file the scan did not see: it may have been
 * renamed during the scan, so only a second scan's word counts. */
static int sync_gone(struct store *s, MDB_txn *txn, struct sync_ctx *c,
                     const struct store_message *m, const char **error_r)
{
	if (!c->rescanned) {
		if (scan_sorted(s->path, &c->rescan, error_r) != 0)
			return STORE_FAILED;
		c->rescanned = true;
	}
	const struct maildir_entry *e = scan_find(&c->rescan, m->base);
	if (e == NULL) {
		sync_modseq(c);
		return delete_message(txn, s->dbi, m->uid, m->base);
	}
	if (strcmp(e->flags, m->flags) == 0)
		return 0;
	struct store_message updated = *m;
	memcpy(updated.flags, e->flags, sizeof(updated.flags));
	updated.modseq = sync_modseq(c);
	return put_message(txn, s->dbi, &updated);
}

/* Check every indexed message against the scan: update flags changed by
 * other tools, drop the gone ones, mark the scanned ones as known. */
static int sync_known(struct store *s, MDB_txn *txn, struct sync_ctx *c, bool *known,
                      const char **error_r)
{
	MDB_cursor *cur;
	int rc = mdb_cursor_open(txn, s->dbi, &cur);
	if (rc != 0)
		return rc;
	/* Collect first: the loop body writes to the database. */
	size_t n = 0, cap = 0;
	struct store_message *all = NULL;
	MDB_val k = {.mv_size = 1, .mv_data = "u"}, v;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (((const char *)k.mv_data)[0] != 'u')
			break;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			all = xreallocarray(all, cap, sizeof(*all));
		}
		if ((rc = decode_message(&k, &v, &all[n])) != 0)
			break;
		n++;
	}
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND)
		rc = 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const struct maildir_entry *e = scan_find(&c->scan, all[i].base);
		if (e == NULL) {
			rc = sync_gone(s, txn, c, &all[i], error_r);
			continue;
		}
		known[e - c->scan.items] = true;
		if (strcmp(e->flags, all[i].flags) != 0) {
			memcpy(all[i].flags, e->flags, sizeof(all[i].flags));
			all[i].modseq = sync_modseq(c);
			rc = put_message(txn, s->dbi, &all[i]);
		}
	}
	for (size_t i = 0; i < n; i++)
		free(all[i].base);
	free(all);
	return rc;
}

/* A new message's internal date: its file's modification time (delivery
 * time, or what an IMAP APPEND or another tool set), else its name's. */
static int64_t file_date(const char *path, const struct maildir_entry *e)
{
	char *file = xasprintf("%s/%s/%s", path, e->in_cur ? "cur" : "new", e->name);
	struct stat st;
	int rc = stat(file, &st);
	free(file);
	if (rc == 0)
		return (int64_t)st.st_mtime;
	int64_t t = date_from_name(e->base);
	return t > 0 ? t : (int64_t)time(NULL);
}

static int sync_txn(struct store *s, MDB_txn *txn, void *ctx, const char **error_r)
{
	struct sync_ctx *c = ctx;
	/* Start afresh: this may be a retry after growing the map. */
	maildir_list_free(&c->scan);
	maildir_list_free(&c->rescan);
	c->rescanned = c->changed = false;
	uint64_t uidnext;
	int rc = get_u64(txn, s->dbi, "N", 4, &uidnext);
	if (rc == 0)
		rc = get_u64(txn, s->dbi, "M", 8, &c->modseq);
	if (rc != 0)
		return rc;
	c->uidnext = (uint32_t)uidnext;
	/* Scan inside the transaction: no other writer runs meanwhile. */
	if (scan_sorted(s->path, &c->scan, error_r) != 0)
		return STORE_FAILED;
	bool *known = xcalloc(c->scan.count + 1, sizeof(bool));
	rc = sync_known(s, txn, c, known, error_r);
	/* Unseen files, in name order (delivery names start with the time). */
	for (size_t i = 0; rc == 0 && i < c->scan.count; i++) {
		const struct maildir_entry *e = &c->scan.items[i];
		if (known[i] || strlen(e->base) > STORE_MAX_BASE)
			continue; /* an overlong name cannot be a key: left unindexed */
		if (c->uidnext == UINT32_MAX) {
			*error_r = set_error("%s: out of UIDs", s->path);
			rc = STORE_FAILED;
			break;
		}
		struct store_message m = {.uid = c->uidnext++,
		                          .base = e->base,
		                          .size = e->size,
		                          .internal_date = file_date(s->path, e)};
		memcpy(m.flags, e->flags, sizeof(m.flags));
		m.modseq = sync_modseq(c);
		rc = put_message(txn, s->dbi, &m);
	}
	free(known);
	if (rc == 0)
		rc = put_u64(txn, s->dbi, "N", 4, c->uidnext);
	if (rc == 0)
		rc = put_u64(txn, s->dbi, "M", 8, c->modseq);
	if (rc == 0)
		rc = load_index(s, txn);
	return rc;
}

int store_sync(struct store *s, const char **error_r)
{
	struct sync_ctx c;
	memset(&c, 0, sizeof(c));
	int rc = store_write(s, sync_txn, &c, error_r);
	maildir_list_free(&c.scan);
	maildir_list_free(&c.rescan);
	return rc;
}

/* ---- Acting on one message ---- */

struct flags_ctx {
	uint32_t uid;
	const char *flags; /* normalised */
	int result;        /* 1 or 0 */
	uint64_t modseq;
};

static int set_flags_txn(struct store *s, MDB_txn *txn, void *ctx, const char **error_r)
{
	struct flags_ctx *c = ctx;
	struct store_message m;
	int rc = get_message(txn, s->dbi, c->uid, &m);
	c->result = 0;
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	int found = maildir_set_flags(s->path, m.base, c->flags, error_r);
	if (found == 1 && strcmp(m.flags, c->flags) != 0) {
		uint64_t modseq = 0;
		rc = get_u64(txn, s->dbi, "M", 8, &modseq);
		if (rc == 0)
			rc = put_u64(txn, s->dbi, "M", 8, ++modseq);
		memcpy(m.flags, c->flags, strlen(c->flags) + 1);
		m.modseq = modseq;
		if (rc == 0)
			rc = put_message(txn, s->dbi, &m);
	}
	free(m.base);
	if (found < 0)
		return STORE_FAILED;
	c->result = found;
	c->modseq = m.modseq;
	return rc;
}

int store_set_flags(struct store *s, uint32_t uid, const char *flags, const char **error_r)
{
	char norm[MAILDIR_MAX_FLAGS + 1];
	if (strlen(flags) > MAILDIR_MAX_FLAGS || maildir_flags_normalize(flags, norm) != 0) {
		*error_r = set_error("invalid flags \"%.60s\"", flags);
		return -1;
	}
	struct store_message *mine = find_uid(s, uid);
	struct flags_ctx c = {.uid = uid, .flags = norm};
	if (store_write(s, set_flags_txn, &c, error_r) != 0)
		return -1;
	if (c.result == 1 && mine != NULL) {
		memcpy(mine->flags, norm, sizeof(norm));
		mine->modseq = c.modseq;
		if (c.modseq > s->modseq)
			s->modseq = c.modseq;
	}
	return c.result;
}

struct expunge_ctx {
	uint32_t uid;
	int result;
};

static int expunge_txn(struct store *s, MDB_txn *txn, void *ctx, const char **error_r)
{
	struct expunge_ctx *c = ctx;
	struct store_message m;
	int rc = get_message(txn, s->dbi, c->uid, &m);
	c->result = 0;
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	int found = maildir_delete(s->path, m.base, error_r);
	if (found >= 0) {
		/* Gone from disk either way: drop it from the index. */
		uint64_t modseq = 0;
		rc = delete_message(txn, s->dbi, m.uid, m.base);
		if (rc == 0)
			rc = get_u64(txn, s->dbi, "M", 8, &modseq);
		if (rc == 0)
			rc = put_u64(txn, s->dbi, "M", 8, modseq + 1);
	}
	free(m.base);
	if (found < 0)
		return STORE_FAILED;
	c->result = 1;
	return rc;
}

int store_expunge(struct store *s, uint32_t uid, const char **error_r)
{
	struct expunge_ctx c = {.uid = uid};
	if (store_write(s, expunge_txn, &c, error_r) != 0)
		return -1;
	struct store_message *mine = find_uid(s, uid);
	if (mine != NULL) {
		free(mine->base);
		size_t i = (size_t)(mine - s->msgs);
		memmove(mine, mine + 1, (s->count - i - 1) * sizeof(*mine));
		s->count--;
	}
	return c.result;
}

static int compare_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

struct expunge_many_ctx {
	const uint32_t *uids;
	size_t count;
	size_t removed;
};

static int expunge_many_txn(struct store *s, MDB_txn *txn, void *ctx, const char **error_r)
{
	(void)error_r;
	struct expunge_many_ctx *c = ctx;
	c->removed = 0;
	bool changed = false;
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < c->count; i++) {
		struct store_message m;
		rc = get_message(txn, s->dbi, c->uids[i], &m);
		if (rc == MDB_NOTFOUND) {
			rc = 0;
			c->removed++;
			continue;
		}
		if (rc != 0)
			break;
		/* A file that cannot be removed stays, indexed; the others go. */
		const char *ignored;
		if (maildir_delete(s->path, m.base, &ignored) >= 0) {
			rc = delete_message(txn, s->dbi, m.uid, m.base);
			changed = true;
			c->removed++;
		}
		free(m.base);
	}
	uint64_t modseq = 0;
	if (rc == 0 && changed && (rc = get_u64(txn, s->dbi, "M", 8, &modseq)) == 0)
		rc = put_u64(txn, s->dbi, "M", 8, modseq + 1);
	return rc;
}

int store_expunge_uids(struct store *s, const uint32_t *uids, size_t count, size_t *removed_r,
                       const char **error_r)
{
	struct expunge_many_ctx c = {.uids = uids, .count = count};
	*removed_r = 0;
	if (count == 0)
		return 0;
	if (store_write(s, expunge_many_txn, &c, error_r) != 0)
		return -1;
	*removed_r = c.removed;
	/* Drop them from this handle's list. */
	uint32_t *sorted = xreallocarray(NULL, count, sizeof(*sorted));
	memcpy(sorted, uids, count * sizeof(*sorted));
	qsort(sorted, count, sizeof(*sorted), compare_u32);
	size_t out = 0;
	for (size_t i = 0; i < s->count; i++) {
		bool gone = bsearch(&s->msgs[i].uid, sorted, count, sizeof(*sorted), compare_u32);
		if (gone)
			free(s->msgs[i].base);
		else
			s->msgs[out++] = s->msgs[i];
	}
	s->count = out;
	free(sorted);
	return 0;
}

int store_read_message(struct store *s, uint32_t uid, struct str *out, const char **error_r)
{
	const struct store_message *m = find_uid(s, uid);
	if (m == NULL)
		return 0;
	return maildir_read_message(s->path, m->base, out, error_r);
}

int store_open_message(struct store *s, uint32_t uid, int *fd_r, const char **error_r)
{
	const struct store_message *m = find_uid(s, uid);
	if (m == NULL)
		return 0;
	/* The names the index expects first: no directory is read when the
	 * file is where the last sync saw it (POP3 opens every message). */
	char *guess[2] = {
	    xasprintf("%s/cur/%s:2,%s", s->path, m->base, m->flags),
	    xasprintf("%s/new/%s", s->path, m->base),
	};
	if (m->flags[0] == '\0') {
		char *t = guess[0];
		guess[0] = guess[1];
		guess[1] = t;
	}
	int fd = -1;
	for (int i = 0; i < 2 && fd < 0; i++)
		fd = open(guess[i], O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	free(guess[0]);
	free(guess[1]);
	if (fd >= 0) {
		*fd_r = fd;
		return 1;
	}
	return maildir_open_message(s->path, m->base, fd_r, error_r);
}

int store_crlf_size(struct store *s, uint32_t uid, int64_t *size_r, const char **error_r)
{
	const struct store_message *m = find_uid(s, uid);
	if (m == NULL)
		return 0;
	int64_t size = maildir_crlf_size_from_name(m->base);
	if (size >= 0) {
		*size_r = size;
		return 1;
	}
	int fd = -1;
	int rc = store_open_message(s, uid, &fd, error_r);
	if (rc <= 0)
		return rc;
	char buf[65536];
	bool last_cr = false;
	size = 0;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*error_r = set_error("read %s: %s", m->base, strerror(errno));
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n' && !last_cr)
				size++;
			last_cr = buf[i] == '\r';
		}
		size += n;
	}
	close(fd);
	*size_r = size;
	return 1;
}

int store_lock_session(struct store *s, const char **error_r)
{
	if (s->lock_fd >= 0)
		return 1;
	char *path = xasprintf("%s/%s", s->path, STORE_SESSION_LOCK_NAME);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		*error_r = set_error("open %s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	int rc;
	while ((rc = flock(fd, LOCK_EX | LOCK_NB)) != 0 && errno == EINTR)
		;
	if (rc != 0) {
		int err = errno;
		close(fd);
		if (err == EWOULDBLOCK) {
			free(path);
			return 0;
		}
		*error_r = set_error("lock %s: %s", path, strerror(err));
		free(path);
		return -1;
	}
	free(path);
	s->lock_fd = fd;
	return 1;
}

/* ---- Accessors ---- */

const struct store_message *store_messages(const struct store *s, size_t *count_r)
{
	*count_r = s->count;
	return s->msgs;
}

const struct store_message *store_lookup_uid(const struct store *s, uint32_t uid)
{
	return find_uid(s, uid);
}

const char *store_path(const struct store *s)
{
	return s->path;
}

uint32_t store_uidvalidity(const struct store *s)
{
	return s->uidvalidity;
}

uint32_t store_uidnext(const struct store *s)
{
	return s->uidnext;
}

uint64_t store_highest_modseq(const struct store *s)
{
	return s->modseq;
}

/* ---- Adding messages: APPEND, COPY, MOVE ---- */

struct add_ctx {
	const char *base;
	int64_t size;
	const char *flags; /* normalised */
	int64_t internal_date;
	uint32_t uid; /* the message's UID, once indexed */
};

/* Index a file just put into the Maildir under a new UID, unless a sync
 * of another process indexed it first (then that UID). */
static int add_txn(struct store *s, MDB_txn *txn, void *ctx, const char **error_r)
{
	struct add_ctx *c = ctx;
	char *bkey = xasprintf("b%s", c->base);
	MDB_val bk = {.mv_size = strlen(bkey), .mv_data = bkey}, bv;
	int rc = mdb_get(txn, s->dbi, &bk, &bv);
	free(bkey);
	if (rc == 0) {
		if (bv.mv_size != 4)
			return MDB_CORRUPTED;
		c->uid = (uint32_t)get_be(bv.mv_data, 4);
		return 0;
	}
	if (rc != MDB_NOTFOUND)
		return rc;
	uint64_t uidnext, modseq;
	if ((rc = get_u64(txn, s->dbi, "N", 4, &uidnext)) != 0 ||
	    (rc = get_u64(txn, s->dbi, "M", 8, &modseq)) != 0)
		return rc;
	if (uidnext >= UINT32_MAX) {
		*error_r = set_error("%s: out of UIDs", s->path);
		return STORE_FAILED;
	}
	struct store_message m = {.uid = (uint32_t)uidnext,
	                          .base = (char *)c->base,
	                          .size = c->size,
	                          .modseq = modseq + 1,
	                          .internal_date = c->internal_date};
	memcpy(m.flags, c->flags, strlen(c->flags) + 1);
	if ((rc = put_message(txn, s->dbi, &m)) != 0 ||
	    (rc = put_u64(txn, s->dbi, "N", 4, uidnext + 1)) != 0 ||
	    (rc = put_u64(txn, s->dbi, "M", 8, modseq + 1)) != 0)
		return rc;
	c->uid = m.uid;
	return 0;
}

static int normalize_flags(const char *flags, char *norm, const char **error_r)
{
	if (strlen(flags) > MAILDIR_MAX_FLAGS || maildir_flags_normalize(flags, norm) != 0) {
		*error_r = set_error("invalid flags \"%.60s\"", flags);
		return -1;
	}
	return 0;
}

int store_append(struct store *s, const void *data, size_t len, const char *flags,
                 int64_t internal_date, uint32_t *uid_r, const char **error_r)
{
	char norm[MAILDIR_MAX_FLAGS + 1];
	if (normalize_flags(flags, norm, error_r) != 0)
		return -1;
	if (internal_date <= 0)
		internal_date = (int64_t)time(NULL);
	struct maildir_delivery *d = maildir_delivery_begin(s->path, error_r);
	if (d == NULL)
		return -1;
	char *name = NULL;
	if (maildir_delivery_write(d, data, len, error_r) != 0 ||
	    maildir_delivery_set_mtime(d, internal_date, error_r) != 0) {
		maildir_delivery_abort(d);
		return -1;
	}
	if (maildir_delivery_commit(d, &name, error_r) != 0)
		return -1;
	/* In new/ now (a delivery's name has no ':'): give it its flags. */
	struct add_ctx c = {
	    .base = name, .size = (int64_t)len, .flags = norm, .internal_date = internal_date};
	int rc = maildir_set_flags(s->path, name, norm, error_r);
	if (rc == 0)
		*error_r = set_error("%s: appended message %s vanished", s->path, name);
	if (rc == 1 && store_write(s, add_txn, &c, error_r) != 0)
		rc = -1;
	free(name);
	if (rc != 1)
		return -1;
	*uid_r = c.uid;
	return 1;
}

/* Copy or move (keep false) message uid of src into dst. */
static int transfer(struct store *src, uint32_t uid, struct store *dst, bool keep, uint32_t *uid_r,
                    const char **error_r)
{
	const struct store_message *m = find_uid(src, uid);
	if (m == NULL)
		return 0;
	char *base = NULL;
	int rc = maildir_transfer(src->path, m->base, dst->path, m->flags, keep, &base, error_r);
	if (rc != 1)
		return rc;
	struct add_ctx c = {
	    .base = base, .size = m->size, .flags = m->flags, .internal_date = m->internal_date};
	rc = store_write(dst, add_txn, &c, error_r) == 0 ? 1 : -1;
	free(base);
	/* A moved message's file is gone: expunging it only drops the index
	 * entry (and its place in src's list). A failure there is mended by
	 * src's next sync. */
	const char *ignored;
	if (rc == 1 && !keep && store_expunge(src, uid, &ignored) < 0)
		log_warn("%s: %s", src->path, ignored);
	if (rc == 1)
		*uid_r = c.uid;
	return rc;
}

int store_copy(struct store *src, uint32_t uid, struct store *dst, uint32_t *uid_r,
               const char **error_r)
{
	return transfer(src, uid, dst, true, uid_r, error_r);
}

int store_move(struct store *src, uint32_t uid, struct store *dst, uint32_t *uid_r,
               const char **error_r)
{
	return transfer(src, uid, dst, false, uid_r, error_r);
}

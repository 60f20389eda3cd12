/*
 * The mailbox index in LMDB (store.h): its records, and store_write(),
 * which runs one operation in a write transaction and redoes it after
 * growing the map on MDB_MAP_FULL; the operations are written so that
 * redoing them is harmless.
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
#include <lmdb.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store/store_internal.h"
#include "util/alloc.h"

#define STORE_MAX_MAP ((size_t)1 << 36)

/* ---- Encoding ---- */

static void put_be(unsigned char *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (unsigned char)(v >> (8 * (bytes - 1 - i)));
}

uint64_t store_get_be(const unsigned char *p, int bytes)
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

int store_index_get_u64(MDB_txn *txn, MDB_dbi dbi, const char *name, int bytes, uint64_t *v_r)
{
	MDB_val k = {.mv_size = strlen(name), .mv_data = (void *)name}, v;
	int rc = mdb_get(txn, dbi, &k, &v);
	if (rc == 0 && v.mv_size != (size_t)bytes)
		rc = MDB_CORRUPTED;
	if (rc == 0)
		*v_r = store_get_be(v.mv_data, bytes);
	return rc;
}

int store_index_put_u64(MDB_txn *txn, MDB_dbi dbi, const char *name, int bytes, uint64_t value)
{
	unsigned char buf[8];
	put_be(buf, value, bytes);
	MDB_val k = {.mv_size = strlen(name), .mv_data = (void *)name};
	MDB_val v = {.mv_size = (size_t)bytes, .mv_data = buf};
	return mdb_put(txn, dbi, &k, &v, 0);
}

/* Write the "u" and "b" records of m. */
int store_index_put_message(MDB_txn *txn, MDB_dbi dbi, const struct store_message *m)
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
int64_t store_date_from_name(const char *base)
{
	int64_t t = 0;
	for (const char *p = base; *p >= '0' && *p <= '9' && t < INT64_MAX / 10 - 10; p++)
		t = t * 10 + (*p - '0');
	return t;
}

/* Decode a "u" record into m (m->base allocated). */
int store_index_decode_message(const MDB_val *k, const MDB_val *v, struct store_message *m)
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
	m->uid = (uint32_t)store_get_be((const unsigned char *)k->mv_data + 1, 4);
	m->size = (int64_t)store_get_be(p, 8);
	m->modseq = store_get_be(p + 8, 8);
	memcpy(m->flags, flags, (size_t)(nul - flags) + 1);
	const char *base = nul + 1, *end = flags + rest;
	const char *base_end = memchr(base, '\0', (size_t)(end - base));
	if (base_end != NULL && end - base_end != 9)
		return MDB_CORRUPTED;
	m->base = xstrndup(base, (size_t)((base_end ? base_end : end) - base));
	m->internal_date = base_end ? (int64_t)store_get_be((const unsigned char *)base_end + 1, 8)
	                            : store_date_from_name(m->base);
	return 0;
}

int store_index_delete_message(MDB_txn *txn, MDB_dbi dbi, uint32_t uid, const char *base)
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
int store_index_get_message(MDB_txn *txn, MDB_dbi dbi, uint32_t uid, struct store_message *m)
{
	unsigned char key[5];
	uid_key(key, uid);
	MDB_val k = {.mv_size = 5, .mv_data = key}, v;
	int rc = mdb_get(txn, dbi, &k, &v);
	return rc == 0 ? store_index_decode_message(&k, &v, m) : rc;
}

/* ---- Write transactions ---- */

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
int store_write(struct store *s, store_write_fn *fn, void *ctx, const char **error_r)
{
	for (;;) {
		MDB_txn *txn;
		int rc = txn_begin(s, 0, &txn);
		if (rc != 0) {
			*error_r = store_set_error("%s: %s", s->path, mdb_strerror(rc));
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
			*error_r = store_set_error("%s/%s: %s", s->path, STORE_INDEX_NAME,
			                           mdb_strerror(rc));
			return -1;
		}
		return 0;
	}
}

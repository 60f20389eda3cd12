/*
 * What the files of the mailbox store (store.c, store_index.c,
 * store_sync.c, store_message.c, store_expunge.c, store_add.c) share with
 * each other and nothing else: programs include store/store.h.
 */
#ifndef POSTERN_STORE_STORE_INTERNAL_H
#define POSTERN_STORE_STORE_INTERNAL_H

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

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

/* Format an error message into the module's buffer (store.c) and return
 * it, for *error_r. */
const char *store_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- The handle (store.c) ---- */

/* The message with this UID in s's list, or NULL. */
struct store_message *store_find_uid(const struct store *s, uint32_t uid);
/* Replace s's list with every "u" record, and read the counters. 0 or an
 * LMDB error. */
int store_load_index(struct store *s, MDB_txn *txn);

/* ---- Index records (store_index.c; 0, MDB_NOTFOUND or an LMDB error) ---- */

/* The big-endian number of bytes bytes at p. */
uint64_t store_get_be(const unsigned char *p, int bytes);
/* The seconds a Maildir base name starts with (delivery names do), or 0. */
int64_t store_date_from_name(const char *base);
/* The counter record name ("V", "N", "M") of bytes bytes. */
int store_index_get_u64(MDB_txn *txn, MDB_dbi dbi, const char *name, int bytes, uint64_t *v_r);
int store_index_put_u64(MDB_txn *txn, MDB_dbi dbi, const char *name, int bytes, uint64_t value);
/* Write the "u" and "b" records of m. */
int store_index_put_message(MDB_txn *txn, MDB_dbi dbi, const struct store_message *m);
/* Decode a "u" record into m (m->base allocated). */
int store_index_decode_message(const MDB_val *k, const MDB_val *v, struct store_message *m);
/* Delete the "u" and "b" records of a message. */
int store_index_delete_message(MDB_txn *txn, MDB_dbi dbi, uint32_t uid, const char *base);
/* Read the "u" record of uid into m (m->base allocated). */
int store_index_get_message(MDB_txn *txn, MDB_dbi dbi, uint32_t uid, struct store_message *m);

/* ---- Write transactions (store_index.c) ---- */

/* One operation in a write transaction; run again, from the start, when
 * the map had to grow. */
typedef int store_write_fn(struct store *s, MDB_txn *txn, void *ctx, const char **error_r);

/* Run fn in a write transaction and commit; on MDB_MAP_FULL grow the map
 * and run it again. fn returns 0, an LMDB/errno code, or STORE_FAILED
 * with *error_r set. 0 or -1 with *error_r. */
int store_write(struct store *s, store_write_fn *fn, void *ctx, const char **error_r);

#endif

/*
 * Expunging messages from a mailbox (store.h): one by UID, or many in one
 * index transaction (POP3's UPDATE state). A message's file is removed
 * and its index entry dropped; it leaves the handle's list at once.
 */
#include <lmdb.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store/store_internal.h"
#include "util/alloc.h"

struct expunge_ctx {
	uint32_t uid;
	int result;
};

static int expunge_txn(struct store *s, MDB_txn *txn, void *ctx, const char **error_r)
{
	struct expunge_ctx *c = ctx;
	struct store_message m;
	int rc = store_index_get_message(txn, s->dbi, c->uid, &m);
	c->result = 0;
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	int found = maildir_delete(s->path, m.base, error_r);
	if (found >= 0) {
		/* Gone from disk either way: drop it from the index. */
		uint64_t modseq = 0;
		rc = store_index_delete_message(txn, s->dbi, m.uid, m.base);
		if (rc == 0)
			rc = store_index_get_u64(txn, s->dbi, "M", 8, &modseq);
		if (rc == 0)
			rc = store_index_put_u64(txn, s->dbi, "M", 8, modseq + 1);
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
	struct store_message *mine = store_find_uid(s, uid);
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
		rc = store_index_get_message(txn, s->dbi, c->uids[i], &m);
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
			rc = store_index_delete_message(txn, s->dbi, m.uid, m.base);
			changed = true;
			c->removed++;
		}
		free(m.base);
	}
	uint64_t modseq = 0;
	if (rc == 0 && changed && (rc = store_index_get_u64(txn, s->dbi, "M", 8, &modseq)) == 0)
		rc = store_index_put_u64(txn, s->dbi, "M", 8, modseq + 1);
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

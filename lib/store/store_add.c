/*
 * Adding messages to a mailbox (store.h): IMAP APPEND, COPY and MOVE. The
 * file goes into the Maildir as a delivery does, then is indexed at once
 * under a new UID, unless another process's sync indexed it first.
 */
#include <lmdb.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store.h"
#include "store/store_internal.h"
#include "util/alloc.h"
#include "util/log.h"

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
		c->uid = (uint32_t)store_get_be(bv.mv_data, 4);
		return 0;
	}
	if (rc != MDB_NOTFOUND)
		return rc;
	uint64_t uidnext, modseq;
	if ((rc = store_index_get_u64(txn, s->dbi, "N", 4, &uidnext)) != 0 ||
	    (rc = store_index_get_u64(txn, s->dbi, "M", 8, &modseq)) != 0)
		return rc;
	if (uidnext >= UINT32_MAX) {
		*error_r = store_set_error("%s: out of UIDs", s->path);
		return STORE_FAILED;
	}
	struct store_message m = {.uid = (uint32_t)uidnext,
	                          .base = (char *)c->base,
	                          .size = c->size,
	                          .modseq = modseq + 1,
	                          .internal_date = c->internal_date};
	memcpy(m.flags, c->flags, strlen(c->flags) + 1);
	if ((rc = store_index_put_message(txn, s->dbi, &m)) != 0 ||
	    (rc = store_index_put_u64(txn, s->dbi, "N", 4, uidnext + 1)) != 0 ||
	    (rc = store_index_put_u64(txn, s->dbi, "M", 8, modseq + 1)) != 0)
		return rc;
	c->uid = m.uid;
	return 0;
}

static int normalize_flags(const char *flags, char *norm, const char **error_r)
{
	if (strlen(flags) > MAILDIR_MAX_FLAGS || maildir_flags_normalize(flags, norm) != 0) {
		*error_r = store_set_error("invalid flags \"%.60s\"", flags);
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
		*error_r = store_set_error("%s: appended message %s vanished", s->path, name);
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
	const struct store_message *m = store_find_uid(src, uid);
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

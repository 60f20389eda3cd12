/*
 * Bringing a mailbox's index up to date with its Maildir (store_sync,
 * store.h): in one write transaction, the directories are scanned, flags
 * changed by other tools are taken over, messages whose files are gone
 * are dropped (after a second scan confirms it) and every new file gets
 * the next UID.
 */
#include <lmdb.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "store/store.h"
#include "store/store_internal.h"
#include "util/alloc.h"

/* LMDB's default key limit is 511 bytes; "b" takes one. */
#define STORE_MAX_BASE 500

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
		return store_index_delete_message(txn, s->dbi, m->uid, m->base);
	}
	if (strcmp(e->flags, m->flags) == 0)
		return 0;
	struct store_message updated = *m;
	memcpy(updated.flags, e->flags, sizeof(updated.flags));
	updated.modseq = sync_modseq(c);
	return store_index_put_message(txn, s->dbi, &updated);
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
		if ((rc = store_index_decode_message(&k, &v, &all[n])) != 0)
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
			rc = store_index_put_message(txn, s->dbi, &all[i]);
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
	int64_t t = store_date_from_name(e->base);
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
	int rc = store_index_get_u64(txn, s->dbi, "N", 4, &uidnext);
	if (rc == 0)
		rc = store_index_get_u64(txn, s->dbi, "M", 8, &c->modseq);
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
			*error_r = store_set_error("%s: out of UIDs", s->path);
			rc = STORE_FAILED;
			break;
		}
		struct store_message m = {.uid = c->uidnext++,
		                          .base = e->base,
		                          .size = e->size,
		                          .internal_date = file_date(s->path, e)};
		memcpy(m.flags, e->flags, sizeof(m.flags));
		m.modseq = sync_modseq(c);
		rc = store_index_put_message(txn, s->dbi, &m);
	}
	free(known);
	if (rc == 0)
		rc = store_index_put_u64(txn, s->dbi, "N", 4, c->uidnext);
	if (rc == 0)
		rc = store_index_put_u64(txn, s->dbi, "M", 8, c->modseq);
	if (rc == 0)
		rc = store_load_index(s, txn);
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

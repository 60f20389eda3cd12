/*
 * A mailbox handle (store.h): opening one (creating its Maildir and
 * index), its message list as of the last sync, the POP3 session lock,
 * and the error messages of the whole module. The rest of it:
 * store_index.c (the index records and write transactions), store_sync.c,
 * store_message.c (flags and reading), store_expunge.c, store_add.c
 * (APPEND, COPY, MOVE) and store_watch.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"
#include "store/store_internal.h"
#include "util/alloc.h"

#define STORE_INITIAL_MAP ((size_t)1 << 20)

static char store_error[512];

const char *store_set_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(store_error, sizeof(store_error), fmt, ap);
	va_end(ap);
	return store_error;
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

struct store_message *store_find_uid(const struct store *s, uint32_t uid)
{
	if (s->count == 0)
		return NULL;
	return bsearch(&uid, s->msgs, s->count, sizeof(*s->msgs), compare_uid);
}

/* Replace the list with every "u" record, and read the counters. */
int store_load_index(struct store *s, MDB_txn *txn)
{
	uint64_t v, n, m;
	int rc = store_index_get_u64(txn, s->dbi, "V", 4, &v);
	if (rc == 0)
		rc = store_index_get_u64(txn, s->dbi, "N", 4, &n);
	if (rc == 0)
		rc = store_index_get_u64(txn, s->dbi, "M", 8, &m);
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
		if ((rc = store_index_decode_message(&k, &val, &msg)) != 0)
			break;
		*messages_add(s) = msg;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
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
	if (rc == 0 && (rc = store_index_get_u64(txn, s->dbi, "V", 4, &v)) == MDB_NOTFOUND) {
		rc = store_index_put_u64(txn, s->dbi, "V", 4, new_uidvalidity(s->path));
		if (rc == 0)
			rc = store_index_put_u64(txn, s->dbi, "N", 4, 1);
		if (rc == 0)
			rc = store_index_put_u64(txn, s->dbi, "M", 8, 1);
	}
	if (rc == 0)
		rc = store_load_index(s, txn);
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
		*error_r = store_set_error("open %s: %s", index, mdb_strerror(rc));
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

/* ---- The POP3 session lock ---- */

int store_lock_session(struct store *s, const char **error_r)
{
	if (s->lock_fd >= 0)
		return 1;
	char *path = xasprintf("%s/%s", s->path, STORE_SESSION_LOCK_NAME);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		*error_r = store_set_error("open %s: %s", path, strerror(errno));
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
		*error_r = store_set_error("lock %s: %s", path, strerror(err));
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
	return store_find_uid(s, uid);
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

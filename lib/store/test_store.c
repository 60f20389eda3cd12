/*
 * Unit tests for store/store: UIDs assigned once and kept across reopen,
 * new messages getting higher UIDs, flags and MODSEQ, expunge, messages
 * delivered or removed by others, and two processes syncing at once;
 * internal dates, APPEND, COPY and MOVE between mailboxes, and watching a
 * mailbox for changes.
 */
#include <fcntl.h>
#include <ftw.h>
#include <lmdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/store.h"
#include "util/alloc.h"
#include "util/testing.h"

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static char *make_dir(void)
{
	char tmpl[] = "/tmp/test_store.XXXXXX";
	char *dir = mkdtemp(tmpl);
	if (dir == NULL)
		abort();
	char *md = xasprintf("%s/Maildir", dir);
	const char *error = NULL;
	if (maildir_create(md, &error) != 0)
		abort();
	return md;
}

static void drop_dir(char *md)
{
	char *parent = xstrndup(md, strlen(md) - strlen("/Maildir"));
	nftw(parent, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(parent);
	free(md);
}

static char *deliver(const char *md, const char *text)
{
	const char *error = NULL;
	char *name = NULL;
	if (maildir_deliver(md, text, strlen(text), &name, &error) != 0) {
		fprintf(stderr, "deliver: %s\n", error);
		abort();
	}
	return name;
}

static struct store *open_synced(const char *md)
{
	const char *error = NULL;
	struct store *s = store_open(md, &error);
	if (s == NULL || store_sync(s, &error) != 0) {
		fprintf(stderr, "store: %s\n", error);
		abort();
	}
	return s;
}

static uint32_t uid_of(const struct store *s, const char *base)
{
	size_t n;
	const struct store_message *m = store_messages(s, &n);
	for (size_t i = 0; i < n; i++)
		if (strcmp(m[i].base, base) == 0)
			return m[i].uid;
	return 0;
}

TEST(open_and_uids)
{
	char *md = make_dir();
	const char *error = NULL;
	struct store *s = store_open(md, &error);
	CHECK(s != NULL);
	CHECK(store_uidvalidity(s) != 0);
	CHECK(store_uidnext(s) == 1);
	CHECK(store_highest_modseq(s) >= 1);
	size_t n = 99;
	store_messages(s, &n);
	CHECK(n == 0);
	char *a = deliver(md, "message a\n");
	char *b = deliver(md, "message bb\n");
	CHECK(store_sync(s, &error) == 0);
	const struct store_message *m = store_messages(s, &n);
	CHECK(n == 2);
	CHECK(n == 2 && m[0].uid == 1 && m[1].uid == 2);
	CHECK(uid_of(s, a) != 0 && uid_of(s, b) != 0);
	CHECK(store_uidnext(s) == 3);
	const struct store_message *mb = store_lookup_uid(s, uid_of(s, b));
	CHECK(mb != NULL && mb->size == 11);
	CHECK(store_lookup_uid(s, 77) == NULL);
	CHECK(store_sync(s, &error) == 0); /* idempotent */
	store_messages(s, &n);
	CHECK(n == 2 && store_uidnext(s) == 3);
	uint32_t validity = store_uidvalidity(s), ua = uid_of(s, a), ub = uid_of(s, b);
	store_close(s);

	/* Reopen: same UIDVALIDITY and UIDs; a new message gets a higher UID. */
	char *c = deliver(md, "message c\n");
	s = open_synced(md);
	CHECK(store_uidvalidity(s) == validity);
	CHECK(uid_of(s, a) == ua && uid_of(s, b) == ub);
	CHECK(uid_of(s, c) == 3);
	CHECK(store_uidnext(s) == 4);
	struct str text = STR_INIT;
	CHECK(store_read_message(s, ub, &text, &error) == 1);
	CHECK_STR(str_cstr(&text), "message bb\n");
	CHECK(store_read_message(s, 999, &text, &error) == 0);
	str_free(&text);
	store_close(s);
	free(a);
	free(b);
	free(c);
	drop_dir(md);
}

TEST(flags_and_modseq)
{
	char *md = make_dir();
	const char *error = NULL;
	char *a = deliver(md, "a\n");
	struct store *s = open_synced(md);
	uint32_t uid = uid_of(s, a);
	uint64_t before = store_highest_modseq(s);
	CHECK(store_set_flags(s, uid, "SF", &error) == 1);
	const struct store_message *m = store_lookup_uid(s, uid);
	CHECK_STR(m->flags, "FS");
	CHECK(m->modseq > before && store_highest_modseq(s) == m->modseq);
	uint64_t after = store_highest_modseq(s);
	/* Unchanged flags: no new MODSEQ. */
	CHECK(store_set_flags(s, uid, "FS", &error) == 1);
	CHECK(store_highest_modseq(s) == after);
	CHECK(store_set_flags(s, uid, "S:", &error) == -1);
	CHECK(store_set_flags(s, 4242, "S", &error) == 0);
	char *onfile = xasprintf("%s/cur/%s:2,FS", md, a);
	struct stat st;
	CHECK(stat(onfile, &st) == 0);
	free(onfile);

	/* Flags survive reopen, and another handle sees them. */
	struct store *t = open_synced(md);
	m = store_lookup_uid(t, uid);
	CHECK(m != NULL && strcmp(m->flags, "FS") == 0);
	CHECK(store_highest_modseq(t) == after);
	store_close(t);

	/* A flag change by another tool is taken over at sync, with a MODSEQ. */
	char *from = xasprintf("%s/cur/%s:2,FS", md, a);
	char *to = xasprintf("%s/cur/%s:2,RS", md, a);
	CHECK(rename(from, to) == 0);
	free(from);
	free(to);
	CHECK(store_sync(s, &error) == 0);
	m = store_lookup_uid(s, uid);
	CHECK_STR(m->flags, "RS");
	CHECK(m->modseq > after);
	CHECK(uid_of(s, a) == uid);
	store_close(s);
	free(a);
	drop_dir(md);
}

TEST(other_process_and_expunge)
{
	char *md = make_dir();
	const char *error = NULL;
	char *a = deliver(md, "a\n");
	char *b = deliver(md, "b\n");
	struct store *s = open_synced(md);
	struct store *t = open_synced(md);
	/* Delivered during the session: appears only after the next sync. */
	char *c = deliver(md, "c\n");
	size_t n;
	store_messages(s, &n);
	CHECK(n == 2);
	CHECK(store_sync(s, &error) == 0);
	store_messages(s, &n);
	CHECK(n == 3 && uid_of(s, c) == 3);
	CHECK(store_sync(t, &error) == 0);
	CHECK(uid_of(t, c) == 3);

	/* Expunge through s: gone from s at once, from t at its next sync. */
	uint32_t ua = uid_of(s, a);
	CHECK(store_expunge(s, ua, &error) == 1);
	CHECK(store_lookup_uid(s, ua) == NULL);
	CHECK(store_expunge(s, ua, &error) == 0);
	CHECK(store_lookup_uid(t, ua) != NULL);
	CHECK(store_sync(t, &error) == 0);
	CHECK(store_lookup_uid(t, ua) == NULL);
	store_messages(t, &n);
	CHECK(n == 2);

	/* Deleted by another tool: dropped at sync; UIDs are never reused. */
	struct maildir_entry e;
	CHECK(maildir_find(md, b, &e, &error) == 1);
	char *path = xasprintf("%s/%s/%s", md, e.in_cur ? "cur" : "new", e.name);
	CHECK(unlink(path) == 0);
	free(path);
	maildir_entry_free(&e);
	CHECK(store_sync(s, &error) == 0);
	store_messages(s, &n);
	CHECK(n == 1 && uid_of(s, b) == 0);
	char *d = deliver(md, "d\n");
	CHECK(store_sync(s, &error) == 0);
	CHECK(uid_of(s, d) == 4);
	CHECK(store_uidnext(s) == 5);
	store_close(s);
	store_close(t);
	free(a);
	free(b);
	free(c);
	free(d);
	drop_dir(md);
}

TEST(foreign_files)
{
	char *md = make_dir();
	const char *error = NULL;
	struct store *s = store_open(md, &error);
	const char *names[] = {
	    "new/1000000001.V801I2M3.example.org",
	    "cur/1000000002.M1P2Q3.host,S=4,W=5:2,SF",
	    "cur/1000000003.abc.host:2,",
	    "cur/1000000004.abc.host:1,other",
	};
	for (size_t i = 0; i < 4; i++) {
		char *p = xasprintf("%s/%s", md, names[i]);
		FILE *f = fopen(p, "w");
		CHECK(f != NULL);
		fputs("abcd", f);
		fclose(f);
		free(p);
	}
	CHECK(store_sync(s, &error) == 0);
	size_t n;
	const struct store_message *m = store_messages(s, &n);
	CHECK(n == 4);
	for (size_t i = 0; i < n; i++) {
		CHECK(m[i].uid == i + 1); /* name order */
		CHECK(m[i].size == 4);
	}
	CHECK(n == 4 && strcmp(m[1].base, "1000000002.M1P2Q3.host,S=4,W=5") == 0);
	CHECK(n == 4 && strcmp(m[1].flags, "FS") == 0);
	CHECK(store_set_flags(s, 1, "S", &error) == 1);
	struct str text = STR_INIT;
	CHECK(store_read_message(s, 1, &text, &error) == 1);
	CHECK_STR(str_cstr(&text), "abcd");
	str_free(&text);
	/* The index file itself is not taken for a message. */
	CHECK(store_sync(s, &error) == 0);
	store_messages(s, &n);
	CHECK(n == 4);
	store_close(s);
	/* Not a directory: clean error. */
	char *bad = xasprintf("%s/cur/1000000003.abc.host:2,", md);
	CHECK(store_open(bad, &error) == NULL && error != NULL);
	free(bad);
	drop_dir(md);
}

/* Count "u" and "b" records straight from the index, checking that every
 * "b" names a "u" with the same base. -1 on inconsistency. */
static int index_count(const char *md, size_t *u_r, size_t *b_r)
{
	char *path = xasprintf("%s/%s", md, STORE_INDEX_NAME);
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_cursor *cur;
	int bad = 0;
	*u_r = *b_r = 0;
	if (mdb_env_create(&env) != 0 ||
	    mdb_env_open(env, path, MDB_NOSUBDIR | MDB_RDONLY, 0) != 0 ||
	    mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) != 0 ||
	    mdb_dbi_open(txn, NULL, 0, &dbi) != 0 || mdb_cursor_open(txn, dbi, &cur) != 0)
		abort();
	MDB_val k, v;
	while (mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0) {
		const char *key = k.mv_data;
		if (key[0] == 'u') {
			(*u_r)++;
		} else if (key[0] == 'b') {
			(*b_r)++;
			unsigned char ukey[5] = {'u'};
			memcpy(ukey + 1, v.mv_data, 4);
			MDB_val uk = {.mv_size = 5, .mv_data = ukey}, uv;
			/* size, modseq, flags NUL, base NUL, internal date */
			if (mdb_get(txn, dbi, &uk, &uv) != 0 || uv.mv_size < 16 + 1 + 1 + 8) {
				bad = 1;
				continue;
			}
			const char *flags = (const char *)uv.mv_data + 16;
			const char *base = flags + strlen(flags) + 1;
			if ((size_t)(base - (const char *)uv.mv_data) + k.mv_size + 8 !=
			        uv.mv_size ||
			    memcmp(base, key + 1, k.mv_size - 1) != 0 ||
			    base[k.mv_size - 1] != '\0')
				bad = 1;
		}
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	mdb_env_close(env);
	free(path);
	return bad ? -1 : 0;
}

static void sync_in_child(const char *md, int rounds)
{
	const char *error = NULL;
	struct store *s = store_open(md, &error);
	if (s == NULL)
		_exit(2);
	for (int i = 0; i < rounds; i++)
		if (store_sync(s, &error) != 0)
			_exit(3);
	store_close(s);
	_exit(0);
}

TEST(concurrent_sync)
{
	char *md = make_dir();
	const char *error = NULL;
	struct store *s = store_open(md, &error);
	CHECK(s != NULL);
	store_close(s);
	for (int i = 0; i < 200; i++) {
		char *text = xasprintf("message %d\n", i);
		free(deliver(md, text));
		free(text);
	}
	pid_t pids[2];
	for (int i = 0; i < 2; i++) {
		pids[i] = fork();
		if (pids[i] == 0)
			sync_in_child(md, 3);
	}
	/* Meanwhile deliver more, as local would. */
	for (int i = 0; i < 50; i++) {
		char *text = xasprintf("late %d\n", i);
		free(deliver(md, text));
		free(text);
	}
	for (int i = 0; i < 2; i++) {
		int status = -1;
		CHECK(waitpid(pids[i], &status, 0) == pids[i]);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	s = open_synced(md);
	size_t n;
	const struct store_message *m = store_messages(s, &n);
	CHECK(n == 250);
	CHECK(store_uidnext(s) == 251);
	for (size_t i = 0; i < n; i++)
		CHECK(m[i].uid == i + 1);
	size_t u, b;
	CHECK(index_count(md, &u, &b) == 0);
	CHECK(u == 250 && b == 250);
	store_close(s);
	drop_dir(md);
}

TEST(map_growth)
{
	/* Enough messages to outgrow the initial 1 MiB map. */
	char *md = make_dir();
	const char *error = NULL;
	struct store *s = store_open(md, &error);
	char *pad = xmalloc(201);
	memset(pad, 'x', 200);
	pad[200] = '\0';
	for (int i = 0; i < 3000; i++) {
		char *p = xasprintf("%s/new/%d.%s", md, 1000000000 + i, pad);
		FILE *f = fopen(p, "w");
		CHECK(f != NULL);
		if (f != NULL)
			fclose(f);
		free(p);
	}
	free(pad);
	CHECK(store_sync(s, &error) == 0);
	size_t n;
	store_messages(s, &n);
	CHECK(n == 3000);
	char *index = xasprintf("%s/%s", md, STORE_INDEX_NAME);
	struct stat st;
	CHECK(stat(index, &st) == 0 && st.st_size > (1 << 20)); /* the map grew */
	free(index);
	store_close(s);
	s = open_synced(md);
	store_messages(s, &n);
	CHECK(n == 3000 && store_uidnext(s) == 3001);
	store_close(s);
	drop_dir(md);
}

TEST(session_lock_and_open)
{
	char *md = make_dir();
	const char *error = NULL;
	char *a = deliver(md, "message a\n");
	struct store *s = open_synced(md), *t = open_synced(md);
	CHECK(store_lock_session(s, &error) == 1);
	CHECK(store_lock_session(s, &error) == 1); /* already held */
	CHECK(store_lock_session(t, &error) == 0);
	/* Delivery and sync are not held up by the lock. */
	char *b = deliver(md, "message b\n");
	CHECK(store_sync(t, &error) == 0);
	CHECK(uid_of(t, b) != 0);
	int fd = -1;
	CHECK(store_open_message(s, uid_of(s, a), &fd, &error) == 1);
	char buf[32] = "";
	CHECK(fd >= 0 && read(fd, buf, sizeof(buf)) == 10 && memcmp(buf, "message a\n", 10) == 0);
	if (fd >= 0)
		close(fd);
	CHECK(store_open_message(s, 999, &fd, &error) == 0);
	/* Found where its flags put it, and after another program renamed it. */
	CHECK(store_set_flags(s, uid_of(s, a), "S", &error) == 1);
	fd = -1;
	CHECK(store_open_message(s, uid_of(s, a), &fd, &error) == 1 && fd >= 0);
	if (fd >= 0)
		close(fd);
	char *from = xasprintf("%s/cur/%s:2,S", md, a), *to = xasprintf("%s/cur/%s:2,RS", md, a);
	CHECK(rename(from, to) == 0);
	fd = -1;
	CHECK(store_open_message(s, uid_of(s, a), &fd, &error) == 1 && fd >= 0);
	if (fd >= 0)
		close(fd);
	free(from);
	free(to);
	store_close(s);
	CHECK(store_lock_session(t, &error) == 1);
	/* Several at once, one of them already gone. */
	char *c = deliver(md, "message c\n");
	CHECK(store_sync(t, &error) == 0);
	uint32_t uids[] = {uid_of(t, c), 12345, uid_of(t, a)};
	size_t removed = 0, n = 0;
	CHECK(store_expunge_uids(t, uids, 3, &removed, &error) == 0);
	CHECK(removed == 3);
	const struct store_message *left = store_messages(t, &n);
	CHECK(n == 1 && left[0].uid == uid_of(t, b));
	store_close(t);
	t = open_synced(md);
	store_messages(t, &n);
	CHECK(n == 1 && uid_of(t, b) != 0);
	store_close(t);
	free(c);
	free(a);
	free(b);
	drop_dir(md);
}

/* The Maildir of a second mailbox beside md ("Maildir" -> "Maildir/.Other",
 * removed with md's parent). */
static char *other_dir(const char *md)
{
	char *other = xasprintf("%s/.Other", md);
	const char *error = NULL;
	if (maildir_create(other, &error) != 0)
		abort();
	return other;
}

TEST(internal_date)
{
	char *md = make_dir();
	const char *error = NULL;
	char *a = deliver(md, "dated\n");
	/* The file's mtime when first indexed is the internal date. */
	char *file = xasprintf("%s/new/%s", md, a);
	struct timespec times[2] = {{.tv_sec = 1000000000}, {.tv_sec = 1000000000}};
	CHECK(utimensat(AT_FDCWD, file, times, 0) == 0);
	struct store *s = open_synced(md);
	const struct store_message *m = store_lookup_uid(s, uid_of(s, a));
	CHECK(m != NULL && m->internal_date == 1000000000);
	/* Kept in the index: a later change of the file's time is not taken. */
	CHECK(store_set_flags(s, m->uid, "S", &error) == 1);
	store_close(s);
	s = open_synced(md);
	m = store_lookup_uid(s, uid_of(s, a));
	CHECK(m != NULL && m->internal_date == 1000000000 && strcmp(m->flags, "S") == 0);
	store_close(s);
	free(file);
	free(a);
	drop_dir(md);
}

TEST(append)
{
	char *md = make_dir();
	const char *error = NULL;
	struct store *s = open_synced(md);
	uint32_t uid = 0;
	const char *text = "Subject: appended\r\n\r\nbody\r\n";
	CHECK(store_append(s, text, strlen(text), "SD", 1234567890, &uid, &error) == 1);
	CHECK(uid == 1);
	CHECK(store_append(s, "x\n", 2, "", 0, &uid, &error) == 1);
	CHECK(uid == 2);
	CHECK(store_append(s, "x\n", 2, "S1", 0, &uid, &error) == -1); /* bad flag */
	CHECK(store_sync(s, &error) == 0);
	size_t n;
	const struct store_message *m = store_messages(s, &n);
	CHECK(n == 2);
	CHECK(n == 2 && m[0].uid == 1 && strcmp(m[0].flags, "DS") == 0);
	CHECK(n == 2 && m[0].internal_date == 1234567890 && m[0].size == (int64_t)strlen(text));
	CHECK(n == 2 && m[1].internal_date > 1234567890);
	CHECK(store_uidnext(s) == 3);
	struct str got = STR_INIT;
	CHECK(store_read_message(s, 1, &got, &error) == 1);
	CHECK_STR(str_cstr(&got), text);
	str_free(&got);
	/* Another handle sees the same UIDs. */
	struct store *t = open_synced(md);
	CHECK(store_lookup_uid(t, 1) != NULL && store_lookup_uid(t, 2) != NULL);
	CHECK(store_uidnext(t) == 3);
	store_close(t);
	store_close(s);
	drop_dir(md);
}

TEST(copy_and_move)
{
	char *md = make_dir();
	char *od = other_dir(md);
	const char *error = NULL;
	char *a = deliver(md, "first\n");
	char *b = deliver(md, "second\n");
	struct store *src = open_synced(md), *dst = open_synced(od);
	uint32_t ua = uid_of(src, a), ub = uid_of(src, b), got = 0;
	CHECK(store_set_flags(src, ua, "F", &error) == 1);
	int64_t date = store_lookup_uid(src, ua)->internal_date;

	CHECK(store_copy(src, ua, dst, &got, &error) == 1);
	CHECK(got == 1);
	CHECK(store_copy(src, 999, dst, &got, &error) == 0);
	CHECK(store_move(src, ub, dst, &got, &error) == 1);
	CHECK(got == 2);
	/* Moved: gone from the source's list at once, and from its index. */
	CHECK(store_lookup_uid(src, ub) == NULL && store_lookup_uid(src, ua) != NULL);
	CHECK(store_sync(src, &error) == 0);
	size_t n;
	store_messages(src, &n);
	CHECK(n == 1);

	CHECK(store_sync(dst, &error) == 0);
	const struct store_message *m = store_messages(dst, &n);
	CHECK(n == 2);
	CHECK(n == 2 && strcmp(m[0].flags, "F") == 0 && m[0].internal_date == date);
	CHECK(n == 2 && m[0].size == 6 && m[1].size == 7);
	struct str text = STR_INIT;
	CHECK(store_read_message(dst, 1, &text, &error) == 1);
	CHECK_STR(str_cstr(&text), "first\n");
	CHECK(store_read_message(dst, 2, &text, &error) == 1);
	CHECK_STR(str_cstr(&text), "second\n");
	/* The copy is a message of its own: expunging it leaves the original. */
	CHECK(store_expunge(dst, 1, &error) == 1);
	CHECK(store_read_message(src, ua, &text, &error) == 1);
	CHECK_STR(str_cstr(&text), "first\n");
	str_free(&text);
	store_close(src);
	store_close(dst);
	free(a);
	free(b);
	free(od);
	drop_dir(md);
}

/* Whether the watch reports a change within a second. */
static int watch_wait(struct store_watch *w)
{
	struct pollfd p = {.fd = store_watch_fd(w), .events = POLLIN};
	if (poll(&p, 1, 1000) < 0)
		return -1;
	const char *error = NULL;
	return store_watch_changed(w, &error);
}

TEST(watch)
{
	char *md = make_dir();
	const char *error = NULL;
	struct store *s = open_synced(md);
	struct store_watch *w = store_watch_open(s, &error);
	CHECK(w != NULL);
	CHECK(store_watch_changed(w, &error) == 0);
	/* A delivery by another process. */
	char *a = deliver(md, "new mail\n");
	CHECK(watch_wait(w) == 1);
	CHECK(store_watch_changed(w, &error) == 0); /* drained */
	/* A flag change by another handle (index and file rename). */
	struct store *t = open_synced(md);
	CHECK(watch_wait(w) == 1); /* t's sync wrote the index */
	CHECK(store_set_flags(t, uid_of(t, a), "S", &error) == 1);
	CHECK(watch_wait(w) == 1);
	store_close(t);
	/* Nothing happening: no change reported. */
	CHECK(watch_wait(w) == 0);
	store_watch_close(w);
	store_close(s);
	free(a);
	drop_dir(md);
}

/* A folder deleted and made again at once gets a new UIDVALIDITY. */
TEST(uidvalidity_unique)
{
	char *md = make_dir();
	uint32_t seen[4];
	for (int i = 0; i < 4; i++) {
		char *folder = xasprintf("%s/.Again", md);
		struct store *s = open_synced(folder);
		seen[i] = store_uidvalidity(s);
		store_close(s);
		nftw(folder, rm_one, 16, FTW_DEPTH | FTW_PHYS);
		free(folder);
	}
	for (int i = 1; i < 4; i++)
		CHECK(seen[i] > seen[i - 1]);
	/* The root's own index counts too. */
	struct store *s = open_synced(md);
	CHECK(store_uidvalidity(s) > seen[3]);
	store_close(s);
	drop_dir(md);
}

int main(void)
{
	alarm(50);
	RUN(open_and_uids);
	RUN(flags_and_modseq);
	RUN(other_process_and_expunge);
	RUN(foreign_files);
	RUN(concurrent_sync);
	RUN(map_growth);
	RUN(session_lock_and_open);
	RUN(internal_date);
	RUN(append);
	RUN(copy_and_move);
	RUN(watch);
	RUN(uidvalidity_unique);
	return TESTING_DONE();
}

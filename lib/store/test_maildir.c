/*
 * Unit tests for store/maildir: creation, delivery, listing, flags,
 * deletion, reading, and names written by other Maildir tools.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/maildir.h"
#include "util/alloc.h"
#include "util/dir_sync.h"
#include "util/testing.h"

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void rm_rf(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A Maildir in a new directory under base (a file system to test on). */
static char *make_maildir_in(const char *base)
{
	char *tmpl = xasprintf("%s/test_maildir.XXXXXX", base);
	char *dir = mkdtemp(tmpl);
	if (dir == NULL)
		abort();
	char *md = xasprintf("%s/Maildir", dir);
	free(tmpl);
	const char *error = NULL;
	if (maildir_create(md, &error) != 0) {
		fprintf(stderr, "%s\n", error);
		abort();
	}
	return md;
}

static char *make_maildir(void)
{
	return make_maildir_in("/tmp");
}

/* The file systems to run the delivery tests on: /tmp, /dev/shm (tmpfs:
 * no unnamed files there, see maildir_delivery.c) where it exists, and as root a
 * fresh ext4 with a journal (unnamed files), mounted for the tests. */
static const char *test_bases[3] = {"/tmp", "/dev/shm", NULL};
static char ext4_dir[64];

static bool base_usable(const char *base)
{
	return base != NULL && access(base, W_OK | X_OK) == 0;
}

/* Whether deliveries into the Maildir at path use unnamed files. */
static bool uses_unnamed(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY);
	bool ordered = fd >= 0 && fs_journal_ordered(fd);
	if (fd >= 0)
		close(fd);
	return ordered;
}

static void drop_maildir(char *md)
{
	char *parent = xstrndup(md, strlen(md) - strlen("/Maildir"));
	rm_rf(parent);
	free(parent);
	free(md);
}

static void write_file(const char *path, const char *content)
{
	FILE *f = fopen(path, "w");
	if (f == NULL)
		abort();
	fputs(content, f);
	fclose(f);
}

static bool exists(const char *md, const char *rel)
{
	char *p = xasprintf("%s/%s", md, rel);
	struct stat st;
	bool ok = stat(p, &st) == 0;
	free(p);
	return ok;
}

TEST(create)
{
	char *md = make_maildir();
	struct stat st;
	char *cur = xasprintf("%s/cur", md);
	CHECK(stat(cur, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700);
	free(cur);
	CHECK(exists(md, "tmp") && exists(md, "new"));
	const char *error = NULL;
	CHECK(maildir_create(md, &error) == 0); /* again: fine */
	char *file = xasprintf("%s/afile", md);
	write_file(file, "x");
	CHECK(maildir_create(file, &error) == -1 && error != NULL);
	char *deep = xasprintf("%s/no/such/dir", md);
	CHECK(maildir_create(deep, &error) == -1);
	free(deep);
	free(file);
	drop_maildir(md);
}

TEST(deliver_list_read)
{
	char *md = make_maildir();
	const char *error = NULL;
	char *n1 = NULL, *n2 = NULL;
	CHECK(maildir_deliver(md, "Subject: a\r\n\r\nbody\r\n", 20, &n1, &error) == 0);
	CHECK(maildir_deliver(md, "", 0, &n2, &error) == 0);
	CHECK(n1 != NULL && n2 != NULL && strcmp(n1, n2) != 0);
	CHECK(n1 != NULL && strstr(n1, ",S=20") != NULL && strchr(n1, ':') == NULL);
	CHECK(n2 != NULL && strstr(n2, ",S=0") != NULL);
	CHECK(n1 != NULL && maildir_crlf_size_from_name(n1) == 20);
	CHECK(n2 != NULL && maildir_crlf_size_from_name(n2) == 0);
	/* Bare LFs count one more each in ",W=", also across writes. */
	char *md2 = make_maildir();
	struct maildir_delivery *d = maildir_delivery_begin(md2, &error);
	char *nb = NULL;
	CHECK(d != NULL && maildir_delivery_write(d, "A: b\n\nx\r", 8, &error) == 0 &&
	      maildir_delivery_write(d, "\ny\n\rz", 5, &error) == 0 &&
	      maildir_delivery_commit(d, &nb, &error) == 0);
	CHECK(nb != NULL && strstr(nb, ",S=13,W=16") != NULL);
	CHECK(nb != NULL && maildir_crlf_size_from_name(nb) == 16);
	CHECK(maildir_crlf_size_from_name("1.x,S=4") == -1);
	CHECK(maildir_crlf_size_from_name("1.x,S=4,W=5") == 5);
	free(nb);
	drop_maildir(md2);
	char *rel = xasprintf("new/%s", n1);
	CHECK(exists(md, rel));
	free(rel);
	/* tmp/ is left empty */
	struct maildir_list tmp = {0};
	char *tmpdir = xasprintf("%s/tmp", md);
	CHECK(rmdir(tmpdir) == 0 && mkdir(tmpdir, 0700) == 0);
	free(tmpdir);
	struct maildir_list list = {0};
	CHECK(maildir_list(md, &list, &error) == 0);
	CHECK(list.count == 2);
	for (size_t i = 0; i < list.count; i++) {
		CHECK(!list.items[i].in_cur);
		CHECK_STR(list.items[i].flags, "");
		CHECK(list.items[i].size == (strcmp(list.items[i].base, n1) == 0 ? 20 : 0));
	}
	maildir_list_free(&list);
	maildir_list_free(&tmp);
	struct str s = STR_INIT;
	CHECK(maildir_read_message(md, n1, &s, &error) == 1);
	CHECK(s.len == 20 && memcmp(s.data, "Subject: a\r\n\r\nbody\r\n", 20) == 0);
	CHECK(maildir_read_message(md, n2, &s, &error) == 1);
	CHECK(s.len == 0 && str_cstr(&s)[0] == '\0');
	CHECK(maildir_read_message(md, "12345.nosuch", &s, &error) == 0);
	CHECK(maildir_read_message(md, "../etc", &s, &error) == -1);
	CHECK(maildir_read_message(md, "a:2,S", &s, &error) == -1);
	CHECK(maildir_read_message(md, "", &s, &error) == -1);
	str_free(&s);
	free(n1);
	free(n2);
	/* Delivery below a missing directory fails cleanly (ENOENT). */
	char *nothere = xasprintf("%s/no/such/Maildir", md);
	char *n3 = NULL;
	errno = 0;
	CHECK(maildir_deliver(nothere, "x", 1, &n3, &error) == -1 && n3 == NULL);
	CHECK(errno == ENOENT);
	free(nothere);
	drop_maildir(md);
}

TEST(streaming_delivery)
{
	char *md = make_maildir();
	const char *error = NULL;
	struct maildir_delivery *d = maildir_delivery_begin(md, &error);
	CHECK(d != NULL);
	CHECK(maildir_delivery_write(d, "abc", 3, &error) == 0);
	CHECK(maildir_delivery_write(d, "defg", 4, &error) == 0);
	char *name = NULL;
	CHECK(maildir_delivery_commit(d, &name, &error) == 0);
	CHECK(name != NULL && strstr(name, ",S=7") != NULL);
	struct str s = STR_INIT;
	CHECK(maildir_read_message(md, name, &s, &error) == 1);
	CHECK_STR(str_cstr(&s), "abcdefg");
	free(name);
	/* Synced first, then committed: as in one step. */
	d = maildir_delivery_begin(md, &error);
	CHECK(maildir_delivery_write(d, "hi", 2, &error) == 0);
	CHECK(maildir_delivery_sync(d, &error) == 0);
	CHECK(maildir_delivery_sync(d, &error) == 0); /* once is enough */
	CHECK(maildir_delivery_commit(d, &name, &error) == 0);
	CHECK(maildir_read_message(md, name, &s, &error) == 1);
	CHECK_STR(str_cstr(&s), "hi");
	CHECK(maildir_delete(md, name, &error) == 1);
	free(name);
	/* Aborted, also after a sync: nothing in tmp/ or new/. */
	d = maildir_delivery_begin(md, &error);
	CHECK(maildir_delivery_write(d, "zz", 2, &error) == 0);
	maildir_delivery_abort(d);
	d = maildir_delivery_begin(md, &error);
	CHECK(maildir_delivery_write(d, "zz", 2, &error) == 0);
	CHECK(maildir_delivery_sync(d, &error) == 0);
	maildir_delivery_abort(d);
	maildir_delivery_abort(NULL);
	struct maildir_list list = {0};
	CHECK(maildir_list(md, &list, &error) == 0 && list.count == 1);
	maildir_list_free(&list);
	char *tmpdir = xasprintf("%s/tmp", md);
	CHECK(rmdir(tmpdir) == 0); /* empty */
	free(tmpdir);
	str_free(&s);
	drop_maildir(md);
}

static bool is_dir_0700(const char *md, const char *rel)
{
	char *p = xasprintf("%s/%s", md, rel);
	struct stat st;
	bool ok = lstat(p, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0700;
	free(p);
	return ok;
}

/* Files in md/sub (not counting "." and ".."). */
static int count_files(const char *md, const char *sub)
{
	char *p = xasprintf("%s/%s", md, sub);
	DIR *d = opendir(p);
	free(p);
	if (d == NULL)
		return -1;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

TEST(delivery_creates_dirs)
{
	char tmpl[] = "/tmp/test_maildir.XXXXXX";
	char *dir = mkdtemp(tmpl);
	CHECK(dir != NULL);
	if (dir == NULL)
		return;
	mode_t old_mask = umask(022);
	const char *error = NULL;
	/* The first delivery makes the Maildir and its three directories. */
	char *md = xasprintf("%s/Maildir", dir);
	char *name = NULL;
	CHECK(maildir_deliver(md, "first", 5, &name, &error) == 0 && name != NULL);
	CHECK(is_dir_0700(md, "") && is_dir_0700(md, "tmp") && is_dir_0700(md, "new") &&
	      is_dir_0700(md, "cur"));
	CHECK(count_files(md, "new") == 1 && count_files(md, "tmp") == 0);
	free(name);
	/* Only tmp/ gone (removed by hand): it comes back. */
	char *sub = xasprintf("%s/tmp", md);
	CHECK(rmdir(sub) == 0);
	free(sub);
	CHECK(maildir_deliver(md, "second", 6, &name, &error) == 0);
	CHECK(is_dir_0700(md, "tmp") && count_files(md, "new") == 2);
	free(name);
	/* new/ removed between the start of a delivery and its commit. */
	struct maildir_delivery *d = maildir_delivery_begin(md, &error);
	CHECK(d != NULL && maildir_delivery_write(d, "third", 5, &error) == 0);
	sub = xasprintf("%s/new", md);
	char *moved = xasprintf("%s/new.old", md);
	CHECK(rename(sub, moved) == 0);
	CHECK(d != NULL && maildir_delivery_commit(d, &name, &error) == 0);
	CHECK(is_dir_0700(md, "new") && count_files(md, "new") == 1 && count_files(md, "tmp") == 0);
	free(name);
	free(sub);
	free(moved);
	/* What is there must be a directory: a file in the way is refused,
	 * with the reason, and nothing is left in tmp/. */
	char *md2 = xasprintf("%s/Other", dir);
	CHECK(mkdir(md2, 0700) == 0);
	sub = xasprintf("%s/tmp", md2);
	write_file(sub, "not a directory");
	name = NULL;
	CHECK(maildir_deliver(md2, "x", 1, &name, &error) == -1 && name == NULL);
	CHECK(error != NULL && strstr(error, "not a directory") != NULL);
	free(sub);
	/* A file where the Maildir should be. */
	char *md3 = xasprintf("%s/afile", dir);
	write_file(md3, "x");
	CHECK(maildir_deliver(md3, "x", 1, &name, &error) == -1 && name == NULL);
	CHECK(error != NULL && strstr(error, "not a directory") != NULL);
	free(md3);
	free(md2);
	umask(old_mask);
	free(md);
	rm_rf(dir);
}

/* A message already under the name a commit would use is never
 * replaced: a named file's commit fails, an unnamed one takes a fresh
 * name. */
static void check_never_replaces(const char *base)
{
	char *md = make_maildir_in(base);
	const char *error = NULL;
	struct maildir_delivery *d = maildir_delivery_begin(md, &error);
	CHECK(d != NULL && maildir_delivery_write(d, "new", 3, &error) == 0);
	if (d == NULL) {
		drop_maildir(md);
		return;
	}
	bool unnamed = uses_unnamed(md);
	CHECK(count_files(md, "tmp") == (unnamed ? 0 : 1));
	char *taken = xasprintf("%s/new/%s,S=3,W=3", md, maildir_delivery_unique(d));
	char *base_name = xasprintf("%s,S=3,W=3", maildir_delivery_unique(d));
	write_file(taken, "old");
	char *name = NULL;
	struct str s = STR_INIT;
	if (unnamed) {
		CHECK(maildir_delivery_commit(d, &name, &error) == 0 && name != NULL);
		CHECK(name != NULL && strcmp(name, base_name) != 0);
		CHECK(maildir_read_message(md, name, &s, &error) == 1);
		CHECK_STR(str_cstr(&s), "new");
		CHECK(count_files(md, "new") == 2);
	} else {
		CHECK(maildir_delivery_commit(d, &name, &error) == -1 && name == NULL);
		CHECK(error != NULL && strstr(error, "File exists") != NULL);
		CHECK(count_files(md, "new") == 1);
	}
	CHECK(maildir_read_message(md, base_name, &s, &error) == 1);
	CHECK_STR(str_cstr(&s), "old"); /* untouched */
	CHECK(count_files(md, "tmp") == 0);
	str_free(&s);
	free(name);
	free(base_name);
	free(taken);
	drop_maildir(md);
}

TEST(commit_never_replaces)
{
	for (size_t i = 0; i < sizeof(test_bases) / sizeof(test_bases[0]); i++)
		if (base_usable(test_bases[i]))
			check_never_replaces(test_bases[i]);
}

/* Where the file is written until its commit: unnamed on ext4, in tmp/
 * elsewhere; either way nothing stays in tmp/ and the message is whole
 * in new/ after the commit, also when new/ went missing meanwhile, and an
 * aborted delivery leaves nothing. */
static void check_delivery_on(const char *base)
{
	char *md = make_maildir_in(base);
	bool unnamed = uses_unnamed(md);
	const char *error = NULL;
	struct maildir_delivery *d = maildir_delivery_begin(md, &error);
	CHECK(d != NULL && maildir_delivery_write(d, "whole\n", 6, &error) == 0);
	CHECK(count_files(md, "tmp") == (unnamed ? 0 : 1));
	CHECK(d != NULL && maildir_delivery_sync(d, &error) == 0);
	CHECK(count_files(md, "new") == 0);
	char *sub = xasprintf("%s/new", md);
	CHECK(rmdir(sub) == 0);
	char *name = NULL;
	CHECK(d != NULL && maildir_delivery_commit(d, &name, &error) == 0 && name != NULL);
	CHECK(count_files(md, "new") == 1 && count_files(md, "tmp") == 0);
	struct str s = STR_INIT;
	CHECK(name != NULL && maildir_read_message(md, name, &s, &error) == 1);
	CHECK_STR(str_cstr(&s), "whole\n");
	struct stat st;
	char *path = xasprintf("%s/new/%s", md, name ? name : "x");
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600 && st.st_nlink == 1);
	free(path);
	free(name);
	d = maildir_delivery_begin(md, &error);
	CHECK(d != NULL && maildir_delivery_write(d, "gone", 4, &error) == 0);
	maildir_delivery_abort(d);
	CHECK(count_files(md, "new") == 1 && count_files(md, "tmp") == 0);
	str_free(&s);
	free(sub);
	drop_maildir(md);
}

TEST(delivery_on_each_file_system)
{
	for (size_t i = 0; i < sizeof(test_bases) / sizeof(test_bases[0]); i++)
		if (base_usable(test_bases[i]))
			check_delivery_on(test_bases[i]);
}

TEST(flags)
{
	char out[MAILDIR_MAX_FLAGS + 1];
	CHECK(maildir_flags_normalize("TSRSa", out) == 0);
	CHECK_STR(out, "RSTa");
	CHECK(maildir_flags_normalize("", out) == 0 && out[0] == '\0');
	CHECK(maildir_flags_normalize("S,", out) == -1);
	CHECK(maildir_flags_normalize("S:", out) == -1);
	CHECK(maildir_flags_normalize("\\Seen", out) == -1);

	char *md = make_maildir();
	const char *error = NULL;
	char *name = NULL;
	CHECK(maildir_deliver(md, "hello", 5, &name, &error) == 0);
	CHECK(maildir_set_flags(md, name, "SR", &error) == 1);
	struct maildir_entry e;
	CHECK(maildir_find(md, name, &e, &error) == 1);
	CHECK(e.in_cur);
	CHECK_STR(e.flags, "RS");
	CHECK(e.size == 5);
	char *expect = xasprintf("%s:2,RS", name);
	CHECK_STR(e.name, expect);
	free(expect);
	maildir_entry_free(&e);
	/* Same flags again is a no-op; then change and clear. */
	CHECK(maildir_set_flags(md, name, "RS", &error) == 1);
	CHECK(maildir_set_flags(md, name, "FDS", &error) == 1);
	CHECK(maildir_find(md, name, &e, &error) == 1);
	CHECK_STR(e.flags, "DFS");
	maildir_entry_free(&e);
	CHECK(maildir_set_flags(md, name, "", &error) == 1);
	CHECK(maildir_find(md, name, &e, &error) == 1);
	CHECK_STR(e.flags, "");
	CHECK(e.in_cur && strstr(e.name, ":2,") != NULL);
	maildir_entry_free(&e);
	CHECK(maildir_set_flags(md, name, "S/", &error) == -1);
	CHECK(maildir_set_flags(md, "1.nosuch", "S", &error) == 0);
	/* Still readable after all the renames. */
	struct str s = STR_INIT;
	CHECK(maildir_read_message(md, name, &s, &error) == 1);
	CHECK_STR(str_cstr(&s), "hello");
	str_free(&s);
	/* Delete */
	CHECK(maildir_delete(md, name, &error) == 1);
	CHECK(maildir_delete(md, name, &error) == 0);
	CHECK(maildir_find(md, name, &e, &error) == 0);
	free(name);
	drop_maildir(md);
}

TEST(foreign_names)
{
	char *md = make_maildir();
	const char *error = NULL;
	/* Names other tools write: with and without ,S= and :2, info. */
	char *p;
	p = xasprintf("%s/new/1000000001.V801I2M3.example.org", md);
	write_file(p, "12345678");
	free(p);
	p = xasprintf("%s/cur/1000000002.M1P2Q3.host,S=4,W=5:2,SF", md);
	write_file(p, "abcd");
	free(p);
	p = xasprintf("%s/cur/1000000003.abc.host:2,", md);
	write_file(p, "xyz");
	free(p);
	p = xasprintf("%s/cur/1000000004.abc.host:1,something", md);
	write_file(p, "1");
	free(p);
	p = xasprintf("%s/cur/1000000005.x,S=notanumber:2,S", md);
	write_file(p, "22");
	free(p);
	p = xasprintf("%s/cur/.hidden", md);
	write_file(p, "ignored");
	free(p);
	struct maildir_list list = {0};
	CHECK(maildir_list(md, &list, &error) == 0);
	CHECK(list.count == 5);
	int seen = 0;
	for (size_t i = 0; i < list.count; i++) {
		const struct maildir_entry *e = &list.items[i];
		if (strcmp(e->base, "1000000001.V801I2M3.example.org") == 0) {
			CHECK(e->size == 8 && !e->in_cur && e->flags[0] == '\0');
			seen |= 1;
		} else if (strcmp(e->base, "1000000002.M1P2Q3.host,S=4,W=5") == 0) {
			CHECK(e->size == 4 && e->in_cur);
			CHECK_STR(e->flags, "FS");
			seen |= 2;
		} else if (strcmp(e->base, "1000000003.abc.host") == 0) {
			CHECK(e->size == 3 && e->flags[0] == '\0');
			seen |= 4;
		} else if (strcmp(e->base, "1000000004.abc.host") == 0) {
			CHECK(e->size == 1 && e->flags[0] == '\0');
			seen |= 8;
		} else if (strcmp(e->base, "1000000005.x,S=notanumber") == 0) {
			CHECK(e->size == 2);
			CHECK_STR(e->flags, "S");
			seen |= 16;
		}
	}
	CHECK(seen == 31);
	maildir_list_free(&list);
	/* Flags on a foreign file replace its info. */
	CHECK(maildir_set_flags(md, "1000000004.abc.host", "S", &error) == 1);
	CHECK(exists(md, "cur/1000000004.abc.host:2,S"));
	CHECK(maildir_set_flags(md, "1000000001.V801I2M3.example.org", "T", &error) == 1);
	CHECK(exists(md, "cur/1000000001.V801I2M3.example.org:2,T"));
	CHECK(!exists(md, "new/1000000001.V801I2M3.example.org"));
	/* A base that is a prefix of another does not match it. */
	struct maildir_entry e;
	CHECK(maildir_find(md, "1000000002.M1P2Q3", &e, &error) == 0);
	drop_maildir(md);
}

TEST(entry_parse)
{
	struct maildir_entry e;
	maildir_entry_parse("123.abc,S=99:2,ZZa!b", &e);
	CHECK_STR(e.base, "123.abc,S=99");
	CHECK_STR(e.flags, "Zab");
	CHECK(e.size == 99);
	maildir_entry_free(&e);
	maildir_entry_parse("x,S=99999999999999999999999", &e);
	CHECK(e.size == -1);
	maildir_entry_free(&e);
	maildir_entry_parse("x,S=", &e);
	CHECK(e.size == -1);
	maildir_entry_free(&e);
}

/* Copy and move from a Maildir under from_base into one under to_base
 * (another file system: a copy of the bytes instead of a link or rename). */
static void check_transfer(const char *from_base, const char *to_base)
{
	if (!base_usable(from_base) || !base_usable(to_base))
		return;
	char *from = make_maildir_in(from_base), *to = make_maildir_in(to_base);
	const char *error = NULL;
	char *name = NULL, *copy = NULL, *moved = NULL;
	CHECK(maildir_deliver(from, "Subject: x\n\nbody\n", 17, &name, &error) == 0);
	char *file = xasprintf("%s/new/%s", from, name);
	struct timespec times[2] = {{.tv_sec = 1500000000}, {.tv_sec = 1500000000}};
	CHECK(utimensat(AT_FDCWD, file, times, 0) == 0);
	free(file);

	CHECK(maildir_transfer(from, name, to, "SF", true, &copy, &error) == 1);
	CHECK(strcmp(copy, name) != 0 && strstr(copy, ",S=17,W=20") != NULL);
	struct maildir_entry e;
	CHECK(maildir_find(to, copy, &e, &error) == 1);
	CHECK(e.in_cur && strcmp(e.flags, "FS") == 0);
	char *path = xasprintf("%s/cur/%s", to, e.name);
	struct stat st;
	CHECK(stat(path, &st) == 0 && st.st_mtime == 1500000000);
	free(path);
	maildir_entry_free(&e);
	CHECK(exists(from, "new") && maildir_find(from, name, &e, &error) == 1);
	maildir_entry_free(&e);

	CHECK(maildir_transfer(from, name, to, "", false, &moved, &error) == 1);
	CHECK(maildir_find(from, name, &e, &error) == 0);
	CHECK(maildir_find(to, moved, &e, &error) == 1);
	maildir_entry_free(&e);
	struct str text = STR_INIT;
	CHECK(maildir_read_message(to, moved, &text, &error) == 1);
	CHECK_STR(str_cstr(&text), "Subject: x\n\nbody\n");
	str_free(&text);
	CHECK(maildir_transfer(from, name, to, "", false, &moved, &error) == 0);
	CHECK(maildir_transfer(from, "x", to, "1", true, &moved, &error) == -1);
	CHECK(count_files(to, "tmp") == 0 && count_files(to, "cur") == 2);
	free(name);
	free(copy);
	free(moved);
	drop_maildir(from);
	drop_maildir(to);
}

TEST(transfer)
{
	check_transfer("/tmp", "/tmp");
	check_transfer("/tmp", "/dev/shm");
	check_transfer(test_bases[2], "/tmp");
}

int main(void)
{
	if (testing_mount_ext4(ext4_dir)) {
		test_bases[2] = ext4_dir;
		CHECK(uses_unnamed(ext4_dir));
	} else {
		printf("(no journalled ext4 to test unnamed files on: needs root and a loop "
		       "device)\n");
	}
	RUN(create);
	RUN(deliver_list_read);
	RUN(streaming_delivery);
	RUN(delivery_creates_dirs);
	RUN(commit_never_replaces);
	RUN(delivery_on_each_file_system);
	RUN(flags);
	RUN(foreign_names);
	RUN(entry_parse);
	RUN(transfer);
	if (test_bases[2])
		testing_unmount_ext4(ext4_dir);
	return TESTING_DONE();
}

/*
 * Unit tests for store/folders: name mapping and its refusals, listing
 * (with directories as Dovecot names them), create, delete, rename with
 * inferiors, and the subscriptions file in Dovecot's format.
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

#include "store/folders.h"
#include "store/maildir.h"
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

static void rm_rf(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A new temporary directory holding (the path of) a root Maildir. */
static char *make_root(bool create)
{
	char tmpl[] = "/tmp/test_folders.XXXXXX";
	char *dir = mkdtemp(tmpl);
	if (dir == NULL)
		abort();
	char *root = xasprintf("%s/Maildir", dir);
	const char *error = NULL;
	if (create && maildir_create(root, &error) != 0) {
		fprintf(stderr, "%s\n", error);
		abort();
	}
	return root;
}

static void free_root(char *root)
{
	*strrchr(root, '/') = '\0';
	rm_rf(root);
	free(root);
}

static bool exists(const char *root, const char *rel)
{
	struct stat st;
	char *path = xasprintf("%s/%s", root, rel);
	bool ok = lstat(path, &st) == 0;
	free(path);
	return ok;
}

static void make_dir(const char *root, const char *rel)
{
	char *path = xasprintf("%s/%s", root, rel);
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		abort();
	free(path);
}

static void write_file(const char *root, const char *rel, const char *text)
{
	char *path = xasprintf("%s/%s", root, rel);
	FILE *f = fopen(path, "w");
	if (f == NULL)
		abort();
	fputs(text, f);
	fclose(f);
	free(path);
}

/* The file's content (caller frees), or NULL. */
static char *read_file(const char *root, const char *rel)
{
	char *path = xasprintf("%s/%s", root, rel);
	FILE *f = fopen(path, "r");
	free(path);
	if (f == NULL)
		return NULL;
	struct str s = STR_INIT;
	char buf[512];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		str_append(&s, buf, n);
	fclose(f);
	return str_steal(&s);
}

/* A Maildir as Dovecot or another tool would have made it. */
static void make_foreign_maildir(const char *root, const char *entry)
{
	char *dir = xasprintf("%s/%s", root, entry);
	const char *error;
	if (maildir_create(dir, &error) != 0)
		abort();
	free(dir);
}

static bool deliver(const char *maildir)
{
	char *name = NULL;
	const char *error;
	int rc = maildir_deliver(maildir, "Subject: x\n\nx\n", 14, &name, &error);
	free(name);
	return rc == 0;
}

/* The names of a list joined by '|'. */
static char *joined(const struct folders_list *list)
{
	struct str s = STR_INIT;
	for (size_t i = 0; i < list->count; i++)
		str_printf(&s, "%s%s", i ? "|" : "", list->names[i]);
	return str_steal(&s);
}

static void check_path(const char *root, const char *name, const char *rel)
{
	char *path = NULL, *want = rel ? xasprintf("%s%s", root, rel) : NULL;
	const char *error = NULL;
	int rc = folders_path(root, name, &path, &error);
	if (want != NULL) {
		CHECK(rc == 0);
		CHECK_STR(path, want);
	} else {
		CHECK(rc == -1 && errno == EINVAL && error != NULL);
		CHECK(path == NULL);
	}
	free(path);
	free(want);
}

TEST(names)
{
	const char *root = "/srv/mail/u/Maildir";
	check_path(root, "INBOX", "");
	check_path(root, "inbox", "");
	check_path(root, "InBoX", "");
	check_path(root, "Work", "/.Work");
	check_path(root, "Work/\xc3\x84rger", "/.Work.&AMQ-rger");
	check_path(root,
	           "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
	           "/.~peter.mail.&U,BTFw-.&ZeVnLIqe-");
	check_path(root, "a&b", "/.a&-b");
	check_path(root, "inbox/Sub", "/.INBOX.Sub");
	check_path(root, "Sub/inbox", "/.Sub.inbox");
	check_path(root, "INBOXES", "/.INBOXES");
	check_path(root, "with space", "/.with space");

	/* Refused: cannot map, or would escape the root or alias another. */
	static const char *const bad[] = {
	    "",     "/",     "/a",        "a/",   "a//b",    "a.b",           ".",
	    "..",   "../x",  "a/../../b", "./a",  ".hidden", "a/.",           "a\tb",
	    "a\nb", "a\x7f", "a\xc2\x85", "\xff", "\xc3",    "a\xed\xa0\x80", "a/b/",
	    "//",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check_path(root, bad[i], NULL);
	/* Too long: in bytes, and as a directory name once encoded. */
	char *long_name = xmalloc(FOLDERS_NAME_MAX + 2);
	memset(long_name, 'a', FOLDERS_NAME_MAX + 1);
	long_name[FOLDERS_NAME_MAX + 1] = '\0';
	check_path(root, long_name, NULL);
	long_name[254] = '\0'; /* ".aaa…" is 255 bytes: the most NAME_MAX allows */
	char *want = xasprintf("/.%s", long_name);
	check_path(root, long_name, want);
	free(want);
	long_name[254] = 'a';
	long_name[255] = '\0';
	check_path(root, long_name, NULL);
	struct str cjk = STR_INIT; /* 100 characters, 3 bytes each: 270 encoded */
	for (int i = 0; i < 100; i++)
		str_append_cstr(&cjk, "\xe6\x97\xa5");
	check_path(root, str_cstr(&cjk), NULL);
	str_free(&cjk);
	free(long_name);

	char *canonical = NULL;
	const char *error;
	CHECK(folders_name_canonical("inbox", &canonical, &error) == 0);
	CHECK_STR(canonical, "INBOX");
	free(canonical);
	CHECK(folders_name_canonical("Inbox/\xc3\x84rger", &canonical, &error) == 0);
	CHECK_STR(canonical, "INBOX/\xc3\x84rger");
	free(canonical);
	CHECK(folders_name_canonical("a/b/", &canonical, &error) == -1 && errno == EINVAL);
}

TEST(create)
{
	char *root = make_root(false); /* the root Maildir is made too */
	const char *error = NULL;
	CHECK(folders_create(root, "Work", &error) == 0);
	CHECK(exists(root, "cur") && exists(root, "new") && exists(root, "tmp"));
	CHECK(exists(root, ".Work/cur") && exists(root, ".Work/new") && exists(root, ".Work/tmp"));
	char *marker = read_file(root, ".Work/maildirfolder");
	CHECK_STR(marker, "");
	free(marker);
	/* Already there: EEXIST, for [ALREADYEXISTS]. */
	errno = 0;
	CHECK(folders_create(root, "Work", &error) == -1 && errno == EEXIST);
	CHECK(strstr(error, ".Work") != NULL);
	CHECK(folders_create(root, "INBOX", &error) == -1 && errno == EEXIST);
	CHECK(folders_create(root, "inbox", &error) == -1 && errno == EEXIST);
	/* A child needs no parent; a non-ASCII name is stored encoded. */
	CHECK(folders_create(root, "Archive/2024/\xc3\x84rger", &error) == 0);
	CHECK(exists(root, ".Archive.2024.&AMQ-rger/cur"));
	CHECK(!exists(root, ".Archive"));
	CHECK(folders_create(root, "a.b", &error) == -1 && errno == EINVAL);
	CHECK(folders_create(root, "../escape", &error) == -1 && errno == EINVAL);
	CHECK(!exists(root, "../escape") && !exists(root, "...escape"));
	/* Its messages go through the Maildir and store layers as INBOX's do. */
	char *path = NULL;
	CHECK(folders_path(root, "Work", &path, &error) == 0);
	struct store *s = store_open(path, &error);
	CHECK(s != NULL);
	if (s != NULL) {
		CHECK(deliver(path));
		CHECK(store_sync(s, &error) == 0);
		size_t count = 0;
		store_messages(s, &count);
		CHECK(count == 1);
		store_close(s);
	}
	free(path);
	/* The parent of the root must exist. */
	char *orphan = xasprintf("%s/no/such/Maildir", root);
	CHECK(folders_create(orphan, "Work", &error) == -1 && errno == ENOENT);
	free(orphan);
	free_root(root);
}

TEST(list)
{
	char *root = make_root(true);
	struct folders_list list = {0};
	const char *error = NULL;
	CHECK(folders_list(root, &list, &error) == 0);
	char *names = joined(&list);
	CHECK_STR(names, "INBOX");
	free(names);
	folders_list_free(&list);

	CHECK(folders_create(root, "Work", &error) == 0);
	CHECK(folders_create(root, "Work/Sub", &error) == 0);
	CHECK(folders_create(root, "a&b", &error) == 0);
	/* As Dovecot names them. */
	make_foreign_maildir(root, ".&AMQ-rger");
	make_foreign_maildir(root, ".INBOX.Drafts");
	make_foreign_maildir(root, ".~peter.mail.&U,BTFw-.&ZeVnLIqe-");
	/* Not folders, silently: no cur/, files, our deletions in progress. */
	make_dir(root, ".notmaildir");
	write_file(root, ".file", "x");
	make_foreign_maildir(root, "..postern-deleted.1.0");
	make_foreign_maildir(root, "plain");
	/* Maildirs whose names do not decode, or not canonically. */
	static const char *const bad[] = {
	    ".&AMQ",              /* unterminated shift */
	    ".a..b",              /* empty component */
	    ".a.",                /* trailing separator */
	    ".&AGE-",             /* 'a' encoded */
	    ".inbox",             /* INBOX's child spelt otherwise */
	    ".INBOX",             /* would be INBOX itself */
	    ".Inbox.x", ".&AAA-", /* NUL */
	    ".&AAk-",             /* a tab */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		make_foreign_maildir(root, bad[i]);

	CHECK(folders_list(root, &list, &error) == 0);
	names = joined(&list);
	CHECK_STR(names, "INBOX|INBOX/Drafts|Work|Work/Sub|a&b|~peter/mail/"
	                 "\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e|"
	                 "\xc3\x84rger");
	free(names);
	CHECK(list.skipped_count == sizeof(bad) / sizeof(bad[0]));
	for (size_t i = 0; i < list.skipped_count; i++)
		CHECK(strncmp(list.skipped[i], root, strlen(root)) == 0);
	folders_list_free(&list);

	/* Every name listed maps back to its directory. */
	char *path = NULL;
	CHECK(folders_path(root, "\xc3\x84rger", &path, &error) == 0);
	char *want = xasprintf("%s/.&AMQ-rger", root);
	CHECK_STR(path, want);
	free(want);
	free(path);

	char *missing = xasprintf("%s/none", root);
	CHECK(folders_list(missing, &list, &error) == -1 && errno == ENOENT);
	CHECK(strstr(error, missing) != NULL);
	folders_list_free(&list);
	free(missing);
	free_root(root);
}

TEST(delete)
{
	char *root = make_root(true);
	const char *error = NULL;
	CHECK(folders_create(root, "Work", &error) == 0);
	CHECK(folders_create(root, "Work/Sub", &error) == 0);
	char *path = xasprintf("%s/.Work", root);
	for (int i = 0; i < 3; i++)
		CHECK(deliver(path));
	struct store *s = store_open(path, &error); /* the index files */
	CHECK(s != NULL && store_sync(s, &error) == 0);
	store_close(s);
	CHECK(exists(root, ".Work/" STORE_INDEX_NAME));
	write_file(root, ".Work/dovecot-uidlist", "3 V1 N1\n");
	write_file(root, ".Work/tmp/1.2.host", "partial");

	/* An unknown directory: refused, nothing removed. */
	make_dir(root, ".Work/extra");
	errno = 0;
	CHECK(folders_delete(root, "Work", &error) == -1 && errno == ENOTEMPTY);
	CHECK(strstr(error, "extra") != NULL);
	struct maildir_list messages = {0};
	CHECK(maildir_list(path, &messages, &error) == 0 && messages.count == 3);
	maildir_list_free(&messages);
	CHECK(exists(root, ".Work/" STORE_INDEX_NAME) && exists(root, ".Work/maildirfolder"));
	char *extra = xasprintf("%s/extra", path);
	CHECK(rmdir(extra) == 0);
	free(extra);
	/* Nor one inside cur/. */
	make_dir(root, ".Work/cur/odd");
	CHECK(folders_delete(root, "Work", &error) == -1 && errno == ENOTEMPTY);
	CHECK(exists(root, ".Work/cur"));
	char *odd = xasprintf("%s/cur/odd", path);
	rmdir(odd);
	free(odd);

	CHECK(folders_delete(root, "Work", &error) == 1);
	CHECK(!exists(root, ".Work"));
	CHECK(exists(root, ".Work.Sub/cur")); /* inferiors stay */
	DIR *dir = opendir(root);
	struct dirent *de;
	while ((de = readdir(dir)) != NULL)
		CHECK(strncmp(de->d_name, "..postern", 9) != 0);
	closedir(dir);
	CHECK(folders_delete(root, "Work", &error) == 0);
	CHECK(folders_delete(root, "Never", &error) == 0);
	/* It can be made again, empty. */
	CHECK(folders_create(root, "Work", &error) == 0);
	CHECK(maildir_list(path, &messages, &error) == 0 && messages.count == 0);
	maildir_list_free(&messages);

	errno = 0;
	CHECK(folders_delete(root, "INBOX", &error) == -1 && errno == EPERM);
	CHECK(folders_delete(root, "inbox", &error) == -1 && errno == EPERM);
	CHECK(exists(root, "cur"));
	CHECK(folders_delete(root, "a//b", &error) == -1 && errno == EINVAL);
	write_file(root, ".File", "x");
	CHECK(folders_delete(root, "File", &error) == -1 && errno == ENOTDIR);
	free(path);
	free_root(root);
}

TEST(rename)
{
	char *root = make_root(true);
	const char *error = NULL;
	CHECK(folders_create(root, "a", &error) == 0);
	CHECK(folders_create(root, "a/b", &error) == 0);
	CHECK(folders_create(root, "a/b/c", &error) == 0);
	CHECK(folders_create(root, "ab", &error) == 0); /* a sibling, not an inferior */
	make_dir(root, ".a.x");                         /* an inferior, not a Maildir */
	char *ab = xasprintf("%s/.a.b", root);
	CHECK(deliver(ab));
	free(ab);

	CHECK(folders_rename(root, "a", "New/\xc3\x84rger", &error) == 1);
	CHECK(!exists(root, ".a") && !exists(root, ".a.b") && !exists(root, ".a.b.c"));
	CHECK(!exists(root, ".a.x"));
	CHECK(exists(root, ".New.&AMQ-rger/cur") && exists(root, ".New.&AMQ-rger.b/cur") &&
	      exists(root, ".New.&AMQ-rger.b.c/cur") && exists(root, ".New.&AMQ-rger.x"));
	CHECK(exists(root, ".ab/cur"));
	struct maildir_list messages = {0};
	char *moved = xasprintf("%s/.New.&AMQ-rger.b", root);
	CHECK(maildir_list(moved, &messages, &error) == 0 && messages.count == 1);
	maildir_list_free(&messages);
	free(moved);
	struct folders_list list = {0};
	CHECK(folders_list(root, &list, &error) == 0);
	char *names = joined(&list);
	CHECK_STR(names, "INBOX|New/\xc3\x84rger|New/\xc3\x84rger/b|New/\xc3\x84rger/b/c|ab");
	free(names);
	folders_list_free(&list);

	/* A child renamed on its own, up a level. */
	CHECK(folders_rename(root, "New/\xc3\x84rger/b", "b", &error) == 1);
	CHECK(exists(root, ".b/cur") && exists(root, ".b.c/cur"));
	CHECK(exists(root, ".New.&AMQ-rger/cur"));

	/* Refusals. */
	errno = 0;
	CHECK(folders_rename(root, "none", "other", &error) == 0);
	CHECK(folders_rename(root, "INBOX", "Old", &error) == -1 && errno == EPERM);
	CHECK(folders_rename(root, "inbox", "Old", &error) == -1 && errno == EPERM);
	CHECK(folders_rename(root, "ab", "INBOX", &error) == -1 && errno == EEXIST);
	CHECK(folders_rename(root, "ab", "b", &error) == -1 && errno == EEXIST);
	CHECK(folders_rename(root, "ab", "ab", &error) == -1 && errno == EEXIST);
	CHECK(folders_rename(root, "b", "b/c/d", &error) == -1 && errno == EINVAL);
	CHECK(folders_rename(root, "ab", "x.y", &error) == -1 && errno == EINVAL);
	CHECK(folders_rename(root, "../ab", "x", &error) == -1 && errno == EINVAL);
	CHECK(exists(root, ".ab/cur") && exists(root, ".b/cur"));
	/* Where only an inferior would collide, nothing moves. */
	CHECK(folders_create(root, "p", &error) == 0);
	CHECK(folders_create(root, "p/q", &error) == 0);
	CHECK(folders_create(root, "r/q", &error) == 0);
	CHECK(folders_rename(root, "p", "r", &error) == -1 && errno == EEXIST);
	CHECK(strstr(error, ".r.q") != NULL);
	CHECK(exists(root, ".p/cur") && exists(root, ".p.q/cur") && !exists(root, ".r"));
	/* A name whose only trace is a child may be taken. */
	CHECK(folders_rename(root, "ab", "r", &error) == 1);
	CHECK(exists(root, ".r/cur") && exists(root, ".r.q/cur"));
	free_root(root);
}

TEST(subscriptions)
{
	char *root = make_root(true);
	const char *error = NULL;
	struct folders_list list = {0};
	CHECK(folders_subscriptions_read(root, &list, &error) == 0 && list.count == 0);
	folders_list_free(&list);

	CHECK(folders_subscribe(root, "Work/\xc3\x84rger", true, &error) == 1);
	CHECK(folders_subscribe(root, "Work/\xc3\x84rger", true, &error) == 0);
	CHECK(folders_subscribe(root, "inbox", true, &error) == 1);
	CHECK(folders_subscribe(root, "Never/Made", true, &error) == 1);
	char *text = read_file(root, FOLDERS_SUBSCRIPTIONS_NAME);
	CHECK_STR(text, "V\t2\n\nWork\t&AMQ-rger\nINBOX\nNever\tMade\n");
	free(text);
	CHECK(folders_subscriptions_read(root, &list, &error) == 0);
	char *names = joined(&list);
	CHECK_STR(names, "Work/\xc3\x84rger|INBOX|Never/Made");
	free(names);
	folders_list_free(&list);
	CHECK(folders_subscribe(root, "INBOX", false, &error) == 1);
	CHECK(folders_subscribe(root, "INBOX", false, &error) == 0);
	text = read_file(root, FOLDERS_SUBSCRIPTIONS_NAME);
	CHECK_STR(text, "V\t2\n\nWork\t&AMQ-rger\nNever\tMade\n");
	free(text);
	CHECK(folders_subscribe(root, "a.b", true, &error) == -1 && errno == EINVAL);
	CHECK(folders_subscribe(root, "", false, &error) == -1 && errno == EINVAL);

	/* A file as Dovecot writes it, with an escape, a trailing separator
	 * from older versions, a duplicate and lines naming no folder. */
	write_file(root, FOLDERS_SUBSCRIPTIONS_NAME,
	           "V\t2\n\nINBOX\nArchive\t2024\t\nTrash\n&AMQ-rger\nbad\001tname\n"
	           "&AGE-\nTrash\n\nINBOX\tDrafts\r\n");
	CHECK(folders_subscriptions_read(root, &list, &error) == 0);
	names = joined(&list);
	CHECK_STR(names, "INBOX|Archive/2024|Trash|\xc3\x84rger|INBOX/Drafts");
	free(names);
	CHECK(list.skipped_count == 2);
	if (list.skipped_count == 2)
		CHECK(strstr(list.skipped[0], "line 7") != NULL);
	folders_list_free(&list);
	/* Changing it keeps the lines it does not touch as they were. */
	CHECK(folders_subscribe(root, "Trash", false, &error) == 1);
	text = read_file(root, FOLDERS_SUBSCRIPTIONS_NAME);
	CHECK_STR(text, "V\t2\n\nINBOX\nArchive\t2024\t\n&AMQ-rger\nbad\001tname\n"
	                "&AGE-\n\nINBOX\tDrafts\r\n");
	free(text);
	CHECK(folders_subscribe(root, "INBOX/Drafts", false, &error) == 1);
	CHECK(folders_subscribe(root, "Archive/2024", false, &error) == 1);

	/* Version 1 (no header): names with '.', and kept so. */
	write_file(root, FOLDERS_SUBSCRIPTIONS_NAME, "INBOX\nWork.&AMQ-rger\nOld.\n");
	CHECK(folders_subscriptions_read(root, &list, &error) == 0);
	names = joined(&list);
	CHECK_STR(names, "INBOX|Work/\xc3\x84rger|Old");
	free(names);
	folders_list_free(&list);
	CHECK(folders_subscribe(root, "New/One", true, &error) == 1);
	CHECK(folders_subscribe(root, "Old", false, &error) == 1);
	text = read_file(root, FOLDERS_SUBSCRIPTIONS_NAME);
	CHECK_STR(text, "INBOX\nWork.&AMQ-rger\nNew.One\n");
	free(text);

	/* Errors name the path. */
	char *missing = xasprintf("%s/none", root);
	CHECK(folders_subscribe(missing, "Work", true, &error) == -1 && errno == ENOENT);
	CHECK(strstr(error, missing) != NULL);
	free(missing);
	free_root(root);
}

int main(void)
{
	RUN(names);
	RUN(create);
	RUN(list);
	RUN(delete);
	RUN(rename);
	RUN(subscriptions);
	return TESTING_DONE();
}

/* Unit tests for compiling aliases into LMDB and looking them up: a good
 * source builds, a bad one leaves the old table in place, targets come
 * back as parsed, and names are found lower-cased. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mail/aliases_db.h"
#include "util/alloc.h"
#include "util/testing.h"

static char tmpdir[] = "/tmp/postern-test-aliasdb-XXXXXX";

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static int lookup(const char *table_path, const char *name, struct alias_target **t, size_t *n)
{
	const char *error;
	char *spec = xasprintf("lmdb:%s", table_path);
	struct table *tab = table_open(spec, &error);
	free(spec);
	CHECK(tab != NULL);
	if (tab == NULL)
		return -1;
	int rc = aliases_db_lookup(tab, name, t, n, &error);
	table_close(tab);
	return rc;
}

TEST(compile_and_lookup)
{
	char *src = xasprintf("%s/aliases", tmpdir);
	char *db = aliases_db_path(src);
	CHECK(strcmp(db + strlen(db) - 5, ".lmdb") == 0);
	write_file(src, "Root: admin, |/bin/cmd x, /var/log/mail\nadmin: :include:/etc/list\n");
	struct diag_list d;
	diag_list_init(&d);
	size_t count = 99;
	CHECK(aliases_db_compile(src, db, &count, &d) == 0);
	CHECK(count == 2);
	CHECK(d.count == 0);
	struct alias_target *t = NULL;
	size_t n = 0;
	CHECK(lookup(db, "root", &t, &n) == 1);
	CHECK(n == 3);
	if (n == 3) {
		CHECK(t[0].type == ALIAS_ADDRESS);
		CHECK_STR(t[0].value, "admin");
		CHECK(t[1].type == ALIAS_COMMAND);
		CHECK_STR(t[1].value, "/bin/cmd x");
		CHECK(t[2].type == ALIAS_FILE);
	}
	alias_targets_free(t, n);
	CHECK(lookup(db, "Root", &t, &n) == 0); /* callers lower-case */
	CHECK(lookup(db, "nobody", &t, &n) == 0);
	struct stat before;
	CHECK(stat(db, &before) == 0);

	/* A source with an error: nothing written, the old table answers. */
	write_file(src, "root: other\nbroken\n");
	CHECK(aliases_db_compile(src, db, &count, &d) == -1);
	CHECK(diag_has_errors(&d));
	CHECK(d.count >= 1 && strstr(d.items[0].text, "aliases:2: ") != NULL);
	struct stat after;
	CHECK(stat(db, &after) == 0 && after.st_ino == before.st_ino);
	CHECK(lookup(db, "root", &t, &n) == 1);
	CHECK(n == 3);
	alias_targets_free(t, n);
	diag_list_free(&d);

	/* A missing source is an error naming it. */
	diag_list_init(&d);
	char *missing = xasprintf("%s/none", tmpdir);
	CHECK(aliases_db_compile(missing, db, &count, &d) == -1);
	CHECK(d.count == 1 && strstr(d.items[0].text, "none") != NULL);
	diag_list_free(&d);

	struct stat st;
	CHECK(table_spec_stat(db, &st) == 0 && st.st_ino == before.st_ino);
	char *spec = xasprintf("lmdb:%s", db);
	CHECK(table_spec_stat(spec, &st) == 0 && st.st_ino == before.st_ino);
	CHECK(table_spec_stat("lmdb:relative.lmdb", &st) == -1);
	CHECK(table_spec_stat("hash:/etc/aliases", &st) == -1);
	free(spec);
	free(missing);
	unlink(db);
	unlink(src);
	free(db);
	free(src);
}

TEST(table_gets_the_source_owner)
{
	if (geteuid() != 0)
		return; /* only root can give files away */
	char *src = xasprintf("%s/owned", tmpdir);
	char *db = aliases_db_path(src);
	write_file(src, "a: b\n");
	CHECK(chown(src, 65534, 65534) == 0);
	struct diag_list d;
	diag_list_init(&d);
	size_t count;
	CHECK(aliases_db_compile(src, db, &count, &d) == 0);
	struct stat st;
	CHECK(stat(db, &st) == 0 && st.st_uid == 65534 && st.st_gid == 65534);
	CHECK((st.st_mode & 0777) == 0644);
	diag_list_free(&d);
	unlink(db);
	unlink(src);
	free(db);
	free(src);
}

int main(void)
{
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	RUN(compile_and_lookup);
	RUN(table_gets_the_source_owner);
	rmdir(tmpdir);
	return TESTING_DONE();
}

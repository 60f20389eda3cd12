/*
 * Tests of the open-table cache: LMDB and regexp: look-ups, a table kept
 * open (a changed regexp: file is not read again) until more than
 * TABLE_CACHE_SLOTS other tables push it out, a missing table with and
 * without missing_is_empty (and found once it exists), and the error
 * text of a table that cannot be read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "table/table.h"
#include "table/table_cache.h"
#include "util/alloc.h"
#include "util/str.h"
#include "util/testing.h"

static char tmpdir[] = "/tmp/postern-test-table-cache-XXXXXX";

/* A regexp: table in a file called name (written anew) with text; returns
 * its spec. */
static char *regexp_table(const char *name, const char *text)
{
	char *spec = xasprintf("regexp:%s/%s", tmpdir, name);
	FILE *f = fopen(spec + strlen("regexp:"), "w");
	CHECK(f != NULL && fputs(text, f) >= 0 && fclose(f) == 0);
	return spec;
}

/* Write a table's file anew. */
static void rewrite(const char *spec, const char *text)
{
	free(regexp_table(strrchr(spec, '/') + 1, text));
}

/* Remove a table's file, and free its spec. */
static void remove_table(char *spec)
{
	CHECK(unlink(strchr(spec, '/')) == 0);
	free(spec);
}

/* The value found, "(none)" when not found, "(error)" on error. */
static char result_text[512];
static const char *lookup(const char *spec, const char *key, bool missing_is_empty)
{
	struct str value = STR_INIT;
	const char *error = NULL;
	int rc = table_cache_lookup(spec, key, missing_is_empty, &value, &error);
	snprintf(result_text, sizeof(result_text), "%s",
	         rc == 1   ? str_cstr(&value)
	         : rc == 0 ? "(none)"
	                   : "(error)");
	CHECK(rc >= 0 || error != NULL);
	str_free(&value);
	return result_text;
}

TEST(lmdb_and_regexp)
{
	char *path = xasprintf("%s/users.lmdb", tmpdir);
	struct table_entry entries[] = {{"alice", "alice@example.org"}, {"bob", "b@example.org"}};
	const char *error = NULL;
	CHECK(table_build_lmdb(path, entries, 2, 0644, (gid_t)-1, &error) == 0);
	char *spec = xasprintf("lmdb:%s", path);
	CHECK_STR(lookup(spec, "alice", false), "alice@example.org");
	CHECK_STR(lookup(spec, "bob", false), "b@example.org");
	CHECK_STR(lookup(spec, "carol", false), "(none)");
	/* A bare path ending in .lmdb is a table of its own. */
	CHECK_STR(lookup(path, "alice", false), "alice@example.org");

	char *re = regexp_table("checks", "/^Subject: (.*)/ REJECT $1\n");
	CHECK_STR(lookup(re, "Subject: hi", false), "REJECT hi");
	CHECK_STR(lookup(re, "From: x", false), "(none)");
	CHECK_STR(lookup(spec, "alice", false), "alice@example.org");
	table_cache_close_all();
	remove_table(re);
	remove_table(spec);
	free(path);
}

TEST(kept_open_until_pushed_out)
{
	table_cache_close_all();
	char *first = regexp_table("first", "/x/ old\n");
	CHECK_STR(lookup(first, "x", false), "old");
	/* Open tables are not read again: the change is not seen yet. */
	rewrite(first, "/x/ new\n");
	CHECK_STR(lookup(first, "x", false), "old");
	char *others[TABLE_CACHE_SLOTS];
	for (size_t i = 0; i < TABLE_CACHE_SLOTS; i++) {
		char name[32], text[32];
		snprintf(name, sizeof(name), "other%zu", i);
		snprintf(text, sizeof(text), "/x/ other %zu\n", i);
		others[i] = regexp_table(name, text);
	}
	/* The cache holds the first table and as many more as fit... */
	for (size_t i = 0; i + 1 < TABLE_CACHE_SLOTS; i++) {
		char want[32];
		snprintf(want, sizeof(want), "other %zu", i);
		CHECK_STR(lookup(others[i], "x", false), want);
	}
	CHECK_STR(lookup(first, "x", false), "old");
	/* ...and one more pushes it out: opened again, it reads the file. */
	char last[32];
	snprintf(last, sizeof(last), "other %d", TABLE_CACHE_SLOTS - 1);
	CHECK_STR(lookup(others[TABLE_CACHE_SLOTS - 1], "x", false), last);
	CHECK_STR(lookup(first, "x", false), "new");
	/* The others stayed open all along. */
	rewrite(others[1], "/x/ changed\n");
	CHECK_STR(lookup(others[1], "x", false), "other 1");
	for (size_t i = 0; i < TABLE_CACHE_SLOTS; i++)
		remove_table(others[i]);
	remove_table(first);
	table_cache_close_all();
}

TEST(missing_table)
{
	char *path = xasprintf("%s/later.lmdb", tmpdir);
	char *spec = xasprintf("lmdb:%s", path);
	CHECK_STR(lookup(spec, "alice", true), "(none)");
	struct str value = STR_INIT;
	const char *error = NULL;
	CHECK(table_cache_lookup(spec, "alice", false, &value, &error) == -1);
	char *want = xasprintf("table %s: ", spec);
	CHECK(error != NULL && strncmp(error, want, strlen(want)) == 0);
	CHECK(error != NULL && strstr(error, path + 1) != NULL);
	/* A missing table is not remembered: once built, it is found. */
	struct table_entry entries[] = {{"alice", "here"}};
	CHECK(table_build_lmdb(path, entries, 1, 0644, (gid_t)-1, &error) == 0);
	CHECK_STR(lookup(spec, "alice", false), "here");
	/* missing_is_empty applies to a missing file only. */
	CHECK_STR(lookup(spec, "alice", true), "here");
	str_free(&value);
	free(want);
	remove_table(spec);
	free(path);
	table_cache_close_all();
}

TEST(broken_table)
{
	char *spec = regexp_table("broken", "/ok/ DUNNO\n/(unclosed/ REJECT\n");
	struct str value = STR_INIT;
	const char *error = NULL;
	CHECK(table_cache_lookup(spec, "ok", true, &value, &error) == -1);
	char *want = xasprintf("table %s: %s, line 2: bad regular expression", spec,
	                       spec + strlen("regexp:"));
	CHECK(error != NULL && strncmp(error, want, strlen(want)) == 0);
	/* Fixed, it opens at the next look-up. */
	rewrite(spec, "/ok/ DUNNO\n");
	CHECK_STR(lookup(spec, "ok", false), "DUNNO");
	str_free(&value);
	free(want);
	remove_table(spec);
	table_cache_close_all();
}

int main(void)
{
	CHECK(mkdtemp(tmpdir) != NULL);
	RUN(lmdb_and_regexp);
	RUN(kept_open_until_pushed_out);
	RUN(missing_table);
	RUN(broken_table);
	CHECK(rmdir(tmpdir) == 0);
	return TESTING_DONE();
}

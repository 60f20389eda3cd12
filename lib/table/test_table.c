/*
 * Tests of lookup tables: the source parser (entries, comments,
 * continuation lines, errors naming file:line, duplicates), LMDB builds
 * and look-ups, a rebuild noticed by an open reader, and a failed compile
 * leaving the old table in place.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "table/table.h"
#include "table/table_source.h"
#include "util/alloc.h"
#include "util/testing.h"

static char tmpdir[] = "/tmp/postern-test-table-XXXXXX";

static char *tmp_path(const char *name)
{
	return xasprintf("%s/%s", tmpdir, name);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static bool has_diag(const struct diag_list *d, enum diag_severity sev, const char *text)
{
	for (size_t i = 0; i < d->count; i++)
		if (d->items[i].severity == sev && strstr(d->items[i].text, text) != NULL)
			return true;
	return false;
}

static int parse(struct table_source *src, const char *text, struct diag_list *diags)
{
	table_source_init(src);
	diag_list_init(diags);
	return table_source_parse(src, "map", text, strlen(text), diags);
}

TEST(source_entries)
{
	struct table_source src;
	struct diag_list d;
	const char *text = "# comment\n"
	                   "alice   alice@example.org  \n"
	                   "\n"
	                   "Bob\tbob@example.org,\r\n"
	                   "   carol@example.org\n"
	                   "  # a comment inside does not end the entry\n"
	                   "\tdave@example.org\n"
	                   "postmaster root";
	CHECK(parse(&src, text, &d) == 0);
	CHECK(d.count == 0);
	CHECK(src.count == 3);
	if (src.count == 3) {
		CHECK_STR(src.items[0].key, "alice");
		CHECK_STR(src.items[0].value, "alice@example.org");
		CHECK(src.items[0].line == 2);
		CHECK_STR(src.items[1].key, "Bob"); /* stored as given */
		CHECK_STR(src.items[1].value,
		          "bob@example.org, carol@example.org dave@example.org");
		CHECK(src.items[1].line == 4);
		CHECK_STR(src.items[2].key, "postmaster");
		CHECK_STR(src.items[2].value, "root");
		CHECK(src.items[2].line == 8);
	}
	table_source_free(&src);
	diag_list_free(&d);
}

TEST(source_errors)
{
	struct table_source src;
	struct diag_list d;
	CHECK(parse(&src, "a 1\nlonely\nb 2\n", &d) == -1);
	CHECK(has_diag(&d, DIAG_ERROR, "map:2: key \"lonely\" has no value"));
	CHECK(src.count == 2);
	table_source_free(&src);
	diag_list_free(&d);

	CHECK(parse(&src, "  indented first\n", &d) == -1);
	CHECK(has_diag(&d, DIAG_ERROR, "map:1: line starts with white space"));
	table_source_free(&src);
	diag_list_free(&d);

	const char nul_text[] = "a 1\nb x\0y\nc 3\n";
	table_source_init(&src);
	diag_list_init(&d);
	CHECK(table_source_parse(&src, "map", nul_text, sizeof(nul_text) - 1, &d) == -1);
	CHECK(has_diag(&d, DIAG_ERROR, "map:2: NUL character"));
	CHECK(src.count == 2);
	table_source_free(&src);
	diag_list_free(&d);

	struct str big = STR_INIT;
	for (int i = 0; i < TABLE_MAX_KEY + 1; i++)
		str_append_char(&big, 'k');
	str_append_cstr(&big, " value\n");
	CHECK(parse(&src, str_cstr(&big), &d) == -1);
	CHECK(has_diag(&d, DIAG_ERROR, "map:1: key is longer than"));
	str_free(&big);
	table_source_free(&src);
	diag_list_free(&d);
}

TEST(source_duplicates)
{
	struct table_source src;
	struct diag_list d;
	CHECK(parse(&src, "a first\nb x\na second\n", &d) == 0);
	CHECK(has_diag(&d, DIAG_WARNING, "map:3: duplicate entry \"a\" ignored (first at line 1)"));
	CHECK(!diag_has_errors(&d));
	CHECK(src.count == 2);
	CHECK_STR(src.items[0].value, "first");
	table_source_free(&src);
	diag_list_free(&d);

	/* Many keys: the duplicate set grows and still finds them. */
	struct str text = STR_INIT;
	for (int i = 0; i < 5000; i++)
		str_printf(&text, "key%d v%d\n", i, i);
	str_append_cstr(&text, "key4321 again\n");
	CHECK(parse(&src, str_cstr(&text), &d) == 0);
	CHECK(src.count == 5000);
	CHECK(has_diag(&d, DIAG_WARNING, "map:5001: duplicate entry \"key4321\""));
	str_free(&text);
	table_source_free(&src);
	diag_list_free(&d);
}

TEST(build_and_lookup)
{
	char *path = tmp_path("t.lmdb");
	struct table_entry entries[] = {
	    {"alice", "alice@example.org"},
	    {"bob", ""},
	    {"alice", "ignored duplicate"},
	};
	const char *error = NULL;
	CHECK(table_build_lmdb(path, entries, 3, 0640, (gid_t)-1, &error) == 0);
	struct stat st;
	CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0640);
	char *spec = xasprintf("lmdb:%s", path);
	struct table *t = table_open(spec, &error);
	CHECK(t != NULL);
	if (t) {
		struct str v = STR_INIT;
		CHECK_STR(table_spec(t), spec);
		CHECK(table_lookup(t, "alice", &v, &error) == 1);
		CHECK_STR(str_cstr(&v), "alice@example.org");
		CHECK(table_lookup(t, "bob", &v, &error) == 1);
		CHECK(v.len == 0);
		CHECK(table_lookup(t, "Alice", &v, &error) == 0);
		CHECK(table_lookup(t, "", &v, &error) == 0);
		struct str big = STR_INIT;
		for (int i = 0; i < 2000; i++)
			str_append_char(&big, 'x');
		CHECK(table_lookup(t, str_cstr(&big), &v, &error) == 0);
		str_free(&big);
		str_free(&v);
		table_close(t);
	}
	/* A bare path ending in .lmdb works too. */
	t = table_open(path, &error);
	CHECK(t != NULL);
	table_close(t);
	/* No lock file or temporary file is left behind. */
	DIR *dir = opendir(tmpdir);
	struct dirent *de;
	int files = 0;
	while (dir && (de = readdir(dir)) != NULL)
		if (de->d_name[0] != '.')
			files++;
	if (dir)
		closedir(dir);
	CHECK(files == 1);
	free(spec);
	unlink(path);
	free(path);
}

TEST(open_errors)
{
	const char *error = NULL;
	CHECK(table_open("nosuch:/etc/aliases", &error) == NULL);
	CHECK(error != NULL && strstr(error, "unsupported type nosuch") != NULL);
	/* hash: is LMDB, FILE.lmdb as Postfix names FILE.db. */
	char *absent = tmp_path("absent");
	char *absent_spec = xasprintf("hash:%s", absent);
	CHECK(table_open(absent_spec, &error) == NULL);
	CHECK(error != NULL && strstr(error, "absent.lmdb") != NULL);
	free(absent_spec);
	free(absent);
	CHECK(table_open("/etc/aliases", &error) == NULL);
	CHECK(error != NULL && strstr(error, "expected TYPE:NAME") != NULL);
	CHECK(table_open("lmdb:", &error) == NULL);
	char *missing = tmp_path("missing.lmdb");
	CHECK(table_open(missing, &error) == NULL);
	CHECK(error != NULL && strstr(error, missing) != NULL);
	/* Not an LMDB file. */
	char *junk = tmp_path("junk.lmdb");
	write_file(junk, "this is not a database, but it is long enough to look at........\n");
	CHECK(table_open(junk, &error) == NULL);
	unlink(junk);
	free(junk);
	free(missing);
}

static bool finds(struct table *t, const char *key, const char *want)
{
	struct str v = STR_INIT;
	const char *error = NULL;
	int rc = table_lookup(t, key, &v, &error);
	bool ok = want == NULL ? rc == 0 : rc == 1 && strcmp(str_cstr(&v), want) == 0;
	str_free(&v);
	return ok;
}

/* The types a Postfix main.cf names: hash:, btree: and lmdb: with the
 * source's name, static:, inline: and texthash:. */
TEST(postfix_types)
{
	const char *error = NULL;
	char *source = tmp_path("access");
	char *built = tmp_path("access.lmdb");
	struct table_entry entries[] = {{"example.com", "REJECT"}};
	CHECK(table_build_lmdb(built, entries, 1, 0644, (gid_t)-1, &error) == 0);
	static const char *const types[] = {"hash", "btree", "lmdb"};
	for (size_t i = 0; i < 3; i++) {
		char *spec = xasprintf("%s:%s", types[i], source);
		struct table *t = table_open(spec, &error);
		CHECK(t != NULL);
		if (t) {
			CHECK(finds(t, "example.com", "REJECT"));
			CHECK_STR(table_spec(t), spec);
			table_close(t);
		}
		free(spec);
	}
	unlink(built);
	static const struct {
		const char *spec, *path, *source;
	} names[] = {
	    {"hash:/a/b", "/a/b.lmdb", "/a/b"},
	    {"btree:/a/b.lmdb", "/a/b.lmdb", "/a/b.lmdb"},
	    {"lmdb:/a/b", "/a/b.lmdb", "/a/b"},
	    {"/a/b.lmdb", "/a/b.lmdb", "/a/b.lmdb"},
	    {"/a/b", NULL, "/a/b"},
	    {"hash:b", NULL, "b"},
	    {"regexp:/a/b", NULL, "regexp:/a/b"},
	    {"texthash:/a/b", NULL, "texthash:/a/b"},
	    {"proxy:hash:/a/b", "/a/b.lmdb", "proxy:hash:/a/b"},
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char *path = table_lmdb_path(names[i].spec);
		CHECK(names[i].path == NULL ? path == NULL
		                            : path != NULL && strcmp(path, names[i].path) == 0);
		CHECK_STR(table_source_of(names[i].spec), names[i].source);
		free(path);
	}

	struct table *t = table_open("proxy:static:HOLD", &error);
	CHECK(t != NULL && finds(t, "anything", "HOLD"));
	CHECK(t != NULL && strcmp(table_spec(t), "proxy:static:HOLD") == 0);
	table_close(t);
	CHECK(table_open("proxy:", &error) == NULL);
	t = table_open("static:HOLD", &error);
	CHECK(t != NULL && finds(t, "anything", "HOLD") && finds(t, "x", "HOLD"));
	table_close(t);
	t = table_open("static:{ text with spaces }", &error);
	CHECK(t != NULL && finds(t, "k", "text with spaces"));
	table_close(t);
	CHECK(table_open("static:{open", &error) == NULL);
	CHECK(error != NULL && strstr(error, "missing '}'") != NULL);

	t = table_open("inline:{ a@example.com=OK, b=REJECT,{ c = 550 5.7.1 go away, now }, "
	               "a@example.com=second }",
	               &error);
	CHECK(t != NULL);
	if (t) {
		CHECK(finds(t, "a@example.com", "OK")); /* the first of a key wins */
		CHECK(finds(t, "b", "REJECT"));
		CHECK(finds(t, "c", "550 5.7.1 go away, now"));
		CHECK(finds(t, "d", NULL));
		table_close(t);
	}
	t = table_open("inline:{}", &error);
	CHECK(t != NULL && finds(t, "a", NULL));
	table_close(t);
	CHECK(table_open("inline:{ a=b, novalue }", &error) == NULL);
	CHECK(error != NULL && strstr(error, "\"novalue\" is not key=value") != NULL);
	CHECK(table_open("inline:a=b", &error) == NULL);
	CHECK(table_open("inline:{ {a=b }", &error) == NULL);
	CHECK(table_open("inline:{ =b }", &error) == NULL);

	write_file(source, "# access\nexample.com REJECT\nexample.org  OK\n  continued\n"
	                   "example.com DUNNO\n");
	char *spec = xasprintf("texthash:%s", source);
	t = table_open(spec, &error);
	CHECK(t != NULL);
	if (t) {
		CHECK(finds(t, "example.com", "REJECT"));
		CHECK(finds(t, "example.org", "OK continued"));
		CHECK(finds(t, "example.net", NULL));
		table_close(t);
	}
	write_file(source, "example.com REJECT\nlonely\n");
	CHECK(table_open(spec, &error) == NULL);
	CHECK(error != NULL && strstr(error, ":2:") != NULL);
	unlink(source);
	CHECK(table_open(spec, &error) == NULL);
	free(spec);
	free(source);
	free(built);
}

TEST(build_errors)
{
	const char *error = NULL;
	struct table_entry empty_key[] = {{"", "v"}};
	char *path = tmp_path("bad.lmdb");
	CHECK(table_build_lmdb(path, empty_key, 1, 0644, (gid_t)-1, &error) == -1);
	CHECK(error != NULL && strstr(error, "empty or longer") != NULL);
	CHECK(access(path, F_OK) != 0);
	/* A directory that does not exist. */
	struct table_entry ok[] = {{"k", "v"}};
	CHECK(table_build_lmdb("/nonexistent-dir/x.lmdb", ok, 1, 0644, (gid_t)-1, &error) == -1);
	CHECK(error != NULL && strstr(error, "/nonexistent-dir/") != NULL);
	free(path);
}

TEST(large_build_grows_map)
{
	/* Values just over a page each take two overflow pages: about twice
	 * their size, more than the initial map, which must grow. */
	char *path = tmp_path("large.lmdb");
	struct table_builder *b = table_builder_new();
	char key[32];
	char *blob = xmalloc(4097);
	for (int i = 0; i < 1500; i++) {
		memset(blob, 'a' + i % 26, 4097);
		int n = snprintf(key, sizeof(key), "key%06d", i);
		table_builder_add(b, key, (size_t)n, blob, 4097);
	}
	for (int i = 0; i < 20000; i++) {
		int n = snprintf(key, sizeof(key), "user%06d@example.org", i);
		table_builder_add(b, key, (size_t)n, "some value", 10);
	}
	CHECK(table_builder_count(b) == 21500);
	const char *error = NULL;
	CHECK(table_builder_write_lmdb(b, path, 0644, (gid_t)-1, &error) == 0);
	table_builder_free(b);
	struct stat st;
	CHECK(stat(path, &st) == 0 && st.st_size > 2 * 1500 * 4096);
	struct table *t = table_open(path, &error);
	CHECK(t != NULL);
	if (t) {
		struct str v = STR_INIT;
		CHECK(table_lookup(t, "user019999@example.org", &v, &error) == 1);
		CHECK_STR(str_cstr(&v), "some value");
		CHECK(table_lookup(t, "key001499", &v, &error) == 1);
		memset(blob, 'a' + 1499 % 26, 4097);
		CHECK(v.len == 4097 && memcmp(v.data, blob, 4097) == 0);
		str_free(&v);
		table_close(t);
	}
	free(blob);
	unlink(path);
	free(path);
}

TEST(compile_and_rebuild)
{
	char *src_path = tmp_path("aliases");
	char *db_path = tmp_path("aliases.lmdb");
	struct diag_list d;
	diag_list_init(&d);
	write_file(src_path, "root admin\npostmaster root\n");
	CHECK(table_source_compile(src_path, db_path, 0644, (gid_t)-1, &d) == 0);
	CHECK(d.count == 0);
	const char *error = NULL;
	struct table *t = table_open(db_path, &error);
	CHECK(t != NULL);
	if (t == NULL)
		return;
	struct str v = STR_INIT;
	CHECK(table_lookup(t, "root", &v, &error) == 1);
	CHECK_STR(str_cstr(&v), "admin");

	/* A source with an error: nothing is built, the old table stays. */
	write_file(src_path, "root other\nbroken\n");
	CHECK(table_source_compile(src_path, db_path, 0644, (gid_t)-1, &d) == -1);
	char *where = xasprintf("%s:2: key \"broken\" has no value", src_path);
	CHECK(has_diag(&d, DIAG_ERROR, where));
	free(where);
	diag_list_free(&d);

	/* A good rebuild is noticed by the open reader within a second. */
	write_file(src_path, "root newadmin\nabuse root\n");
	CHECK(table_source_compile(src_path, db_path, 0644, (gid_t)-1, &d) == 0);
	usleep(1100 * 1000);
	CHECK(table_lookup(t, "root", &v, &error) == 1);
	CHECK_STR(str_cstr(&v), "newadmin");
	CHECK(table_lookup(t, "abuse", &v, &error) == 1);
	CHECK(table_lookup(t, "postmaster", &v, &error) == 0);

	/* The file disappearing keeps the last good contents answering. */
	unlink(db_path);
	usleep(1100 * 1000);
	CHECK(table_lookup(t, "root", &v, &error) == 1);

	/* An unreadable source is an error naming the path. */
	unlink(src_path);
	CHECK(table_source_compile(src_path, db_path, 0644, (gid_t)-1, &d) == -1);
	CHECK(d.count == 1 && strstr(d.items[0].text, "cannot open") != NULL);
	CHECK(access(db_path, F_OK) != 0);
	diag_list_free(&d);
	str_free(&v);
	table_close(t);
	free(src_path);
	free(db_path);
}

int main(void)
{
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	RUN(source_entries);
	RUN(source_errors);
	RUN(source_duplicates);
	RUN(build_and_lookup);
	RUN(open_errors);
	RUN(postfix_types);
	RUN(build_errors);
	RUN(large_build_grows_map);
	RUN(compile_and_rebuild);
	rmdir(tmpdir);
	return TESTING_DONE();
}

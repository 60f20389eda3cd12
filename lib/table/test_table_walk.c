/*
 * Tests of table_walk: every entry of an LMDB, texthash and inline table
 * in key order, stopping early when asked, an empty table, and an error
 * for the types that compute their answers (static, regexp, cidr).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "table/table.h"
#include "util/alloc.h"
#include "util/str.h"
#include "util/testing.h"

static char tmpdir[] = "/tmp/postern-test-table-walk-XXXXXX";

/* What a walk saw: "key=value;" for each entry. */
struct seen {
	struct str text;
	int stop_after; /* 0: never stop */
	int count;
};

static int collect(const char *key, const char *value, void *ctx)
{
	struct seen *s = ctx;
	str_printf(&s->text, "%s=%s;", key, value);
	s->count++;
	return s->stop_after > 0 && s->count >= s->stop_after;
}

/* Walk spec; the entries seen, or "ERROR: message". malloc'd. */
static char *walk(const char *spec, int stop_after, int *rc_r)
{
	const char *error = NULL;
	struct table *t = table_open(spec, &error);
	if (t == NULL)
		return xasprintf("OPEN: %s", error);
	struct seen s = {.text = STR_INIT, .stop_after = stop_after};
	int rc = table_walk(t, collect, &s, &error);
	if (rc_r != NULL)
		*rc_r = rc;
	char *out = rc < 0 ? xasprintf("ERROR: %s", error) : xstrdup(str_cstr(&s.text));
	str_free(&s.text);
	table_close(t);
	return out;
}

TEST(lmdb_entries_in_key_order)
{
	char *path = xasprintf("%s/sni.lmdb", tmpdir);
	const struct table_entry entries[] = {
	    {"mail.a.example", "/etc/a-key.pem /etc/a-cert.pem"},
	    {".b.example", "/etc/b.pem"},
	    {"c.example", "/etc/c.pem"},
	};
	const char *error = NULL;
	CHECK(table_build_lmdb(path, entries, 3, 0644, (gid_t)-1, &error) == 0);
	char *spec = xasprintf("lmdb:%s", path);
	int rc = -2;
	char *got = walk(spec, 0, &rc);
	CHECK(rc == 0);
	CHECK_STR(got, ".b.example=/etc/b.pem;c.example=/etc/c.pem;"
	               "mail.a.example=/etc/a-key.pem /etc/a-cert.pem;");
	free(got);
	/* fn stops the walk: 1, and nothing after. */
	got = walk(spec, 2, &rc);
	CHECK(rc == 1);
	CHECK_STR(got, ".b.example=/etc/b.pem;c.example=/etc/c.pem;");
	free(got);
	unlink(path);
	free(spec);
	free(path);
}

TEST(lmdb_empty)
{
	char *path = xasprintf("%s/empty.lmdb", tmpdir);
	const char *error = NULL;
	CHECK(table_build_lmdb(path, NULL, 0, 0644, (gid_t)-1, &error) == 0);
	int rc = -2;
	char *got = walk(path, 0, &rc);
	CHECK(rc == 0);
	CHECK_STR(got, "");
	free(got);
	unlink(path);
	free(path);
}

TEST(memory_tables)
{
	char *path = xasprintf("%s/source", tmpdir);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f != NULL) {
		fputs("# SNI\nzz.example /z.pem\n.b.example /b.pem, /b-chain.pem\n", f);
		fclose(f);
	}
	char *spec = xasprintf("texthash:%s", path);
	int rc = -2;
	char *got = walk(spec, 0, &rc);
	CHECK(rc == 0);
	CHECK_STR(got, ".b.example=/b.pem, /b-chain.pem;zz.example=/z.pem;");
	free(got);
	got = walk("inline:{ b=2, a=1 }", 0, &rc);
	CHECK(rc == 0);
	CHECK_STR(got, "a=1;b=2;");
	free(got);
	unlink(path);
	free(spec);
	free(path);
}

TEST(computed_tables_cannot_list)
{
	int rc = 0;
	char *got = walk("static:OK", 0, &rc);
	CHECK(rc == -1);
	CHECK(strstr(got, "static:OK") != NULL && strstr(got, "cannot list") != NULL);
	free(got);
	char *path = xasprintf("%s/re", tmpdir);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f != NULL) {
		fputs("/^a/ OK\n", f);
		fclose(f);
	}
	char *spec = xasprintf("regexp:%s", path);
	got = walk(spec, 0, &rc);
	CHECK(rc == -1);
	CHECK(strstr(got, "a regexp table cannot list") != NULL);
	free(got);
	unlink(path);
	free(spec);
	free(path);
}

int main(void)
{
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	RUN(lmdb_entries_in_key_order);
	RUN(lmdb_empty);
	RUN(memory_tables);
	RUN(computed_tables_cannot_list);
	rmdir(tmpdir);
	return TESTING_DONE();
}

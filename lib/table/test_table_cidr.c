/*
 * Tests of cidr: tables (cidr_table(5)): the first rule whose network
 * holds the address decides, IPv4 and IPv6 (with and without brackets),
 * v4-mapped IPv6 addresses, bare host addresses, keys that are no address,
 * comments and continuation lines, and open errors naming file and line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "table/table.h"
#include "util/alloc.h"
#include "util/str.h"
#include "util/testing.h"

static char tmpdir[] = "/tmp/postern-test-cidr-XXXXXX";
static int file_counter;

/* Open text as a cidr: table; NULL with *error_r on failure. */
static struct table *open_text(const char *text, const char **error_r, char **path_r)
{
	char *path = xasprintf("%s/t%d", tmpdir, ++file_counter);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
	char *spec = xasprintf("cidr:%s", path);
	struct table *t = table_open(spec, error_r);
	free(spec);
	if (path_r)
		*path_r = path;
	else
		free(path);
	return t;
}

/* The value for key, or "-" when not found. */
static char *look(struct table *t, const char *key)
{
	struct str value = STR_INIT;
	const char *error = NULL;
	int rc = table_lookup(t, key, &value, &error);
	CHECK(rc >= 0);
	char *out = xstrdup(rc == 1 ? str_cstr(&value) : "-");
	str_free(&value);
	return out;
}

#define CHECK_LOOK(t, key, want)                                                                   \
	do {                                                                                       \
		char *got_ = look(t, key);                                                         \
		CHECK_STR(got_, want);                                                             \
		free(got_);                                                                        \
	} while (0)

TEST(first_match_wins)
{
	const char *error = NULL;
	struct table *t = open_text("# client networks\n"
	                            "192.0.2.7         OK\n"
	                            "192.0.2.0/24      REJECT no\n"
	                            "   thanks\n"
	                            "\n"
	                            "10.0.0.0/8        DUNNO\n"
	                            "[2001:db8::]/32   REJECT v6 net\n"
	                            "::1               OK loopback\n"
	                            "0.0.0.0/0         DEFER everyone else\n",
	                            &error, NULL);
	CHECK(t != NULL);
	if (t == NULL)
		return;
	CHECK_LOOK(t, "192.0.2.7", "OK");
	CHECK_LOOK(t, "192.0.2.8", "REJECT no thanks");
	CHECK_LOOK(t, "10.20.30.40", "DUNNO");
	CHECK_LOOK(t, "2001:db8:1::5", "REJECT v6 net");
	CHECK_LOOK(t, "2001:db9::5", "-");
	CHECK_LOOK(t, "::1", "OK loopback");
	CHECK_LOOK(t, "::ffff:192.0.2.9", "REJECT no thanks"); /* v4-mapped */
	CHECK_LOOK(t, "198.51.100.1", "DEFER everyone else");
	/* Keys that are no address (domains, partial addresses) find nothing. */
	CHECK_LOOK(t, "example.com", "-");
	CHECK_LOOK(t, "192.0.2", "-");
	CHECK_LOOK(t, "", "-");
	table_close(t);
}

TEST(open_errors)
{
	const char *error = NULL;
	char *path = NULL;
	CHECK(open_text("192.0.2.0/24 OK\n300.1.2.3/8 REJECT\n", &error, &path) == NULL);
	char *want = xasprintf("%s, line 2: bad network \"300.1.2.3/8\"", path);
	CHECK_STR(error, want);
	free(want);
	free(path);
	CHECK(open_text("10.0.0.0/33 OK\n", &error, NULL) == NULL);
	CHECK(strstr(error, "line 1: bad network \"10.0.0.0/33\"") != NULL);
	CHECK(open_text("10.0.0.0/8\n", &error, &path) == NULL); /* no result */
	CHECK(strstr(error, path) != NULL && strstr(error, ":1:") != NULL);
	free(path);
	CHECK(open_text("  continues nothing\n", &error, NULL) == NULL);
	CHECK(table_open("cidr:/nonexistent/postern.cidr", &error) == NULL);
	CHECK(strstr(error, "/nonexistent/postern.cidr") != NULL);
	/* An empty file is an empty table. */
	struct table *t = open_text("# nothing\n", &error, NULL);
	CHECK(t != NULL);
	if (t) {
		CHECK_LOOK(t, "192.0.2.1", "-");
		table_close(t);
	}
}

int main(void)
{
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	RUN(first_match_wins);
	RUN(open_errors);
	char *cmd = xasprintf("rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
	free(cmd);
	return TESTING_DONE();
}

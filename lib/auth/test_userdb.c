/*
 * Tests of the user database: parsing the source (users, comments, every
 * kind of error with file:line), address normalization, edits that keep
 * comments, atomic saving with the right mode, and the two compiled
 * tables (hashes only in users.lmdb).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/password.h"
#include "auth/userdb.h"
#include "table/table.h"
#include "util/alloc.h"
#include "util/testing.h"

#define HASH_A "$6$saltsalt$qFmFH.bQmmtXzyBY0s9v7Oicd2z4XSIecDzlB5KiA2/jctKu9YterLp8wwnSq.qc."
#define HASH_B "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$tnSYvahCwPBHKZUspmcxMfb0.WiB9W.zEaKlOBL35rC"

static char tmpdir[] = "/tmp/postern-test-userdb-XXXXXX";

static bool has_diag(const struct diag_list *d, const char *text)
{
	for (size_t i = 0; i < d->count; i++)
		if (strstr(d->items[i].text, text) != NULL)
			return true;
	return false;
}

/* Parse text; returns the parse result, keeps db and diags for checks. */
static int parse(struct userdb **db, struct diag_list *d, const char *text)
{
	*db = userdb_new();
	diag_list_init(d);
	return userdb_parse(*db, "users", text, strlen(text), d);
}

TEST(parse_users)
{
	struct userdb *db;
	struct diag_list d;
	const char *text = "# virtual users\n"
	                   "Alice@Example.ORG:" HASH_A ":quota=1G\n"
	                   "\n"
	                   "bob@example.org:" HASH_B "  \r\n"
	                   "   # indented comment\n"
	                   "locked@example.org:!" HASH_A "\n";
	CHECK(parse(&db, &d, text) == 0);
	CHECK(d.count == 0);
	CHECK(userdb_count(db) == 3);
	size_t pos = 0;
	const struct userdb_user *u = userdb_next(db, &pos);
	CHECK(u != NULL && strcmp(u->address, "alice@example.org") == 0);
	CHECK(u != NULL && strcmp(u->hash, HASH_A) == 0 && u->quota == 1073741824LL);
	CHECK(u != NULL && u->line == 2 && strcmp(u->quota_text, "1G") == 0);
	u = userdb_next(db, &pos);
	CHECK(u != NULL && strcmp(u->hash, HASH_B) == 0 && u->quota == -1 && u->line == 4);
	u = userdb_next(db, &pos);
	CHECK(u != NULL && !password_hash_usable(u->hash));
	CHECK(userdb_next(db, &pos) == NULL);
	CHECK(userdb_find(db, "ALICE@example.org") != NULL);
	CHECK(userdb_find(db, "carol@example.org") == NULL);
	CHECK(userdb_find(db, "not an address") == NULL);
	/* Formatting keeps comments and blank lines, normalizes users. */
	struct str out = STR_INIT;
	userdb_format(db, &out);
	CHECK_STR(str_cstr(&out), "# virtual users\n"
	                          "alice@example.org:" HASH_A ":quota=1G\n"
	                          "\n"
	                          "bob@example.org:" HASH_B "\n"
	                          "   # indented comment\n"
	                          "locked@example.org:!" HASH_A "\n");
	str_free(&out);
	userdb_free(db);
	diag_list_free(&d);
}

TEST(parse_errors)
{
	static const struct {
		const char *text;
		const char *diag;
	} cases[] = {
	    {"a@example.org:" HASH_A "\nno-colon-here\n", "users:2: expected address:hash"},
	    {"a@example.org:\n", "users:1: empty password hash"},
	    {"a@example.org::quota=1\n", "users:1: empty password hash"},
	    {"nodomain:" HASH_A "\n", "users:1: address must have the form"},
	    {"a@b@c:" HASH_A "\n", "users:1: address must have the form"},
	    {"@example.org:" HASH_A "\n", "users:1: empty local part"},
	    {"a.@example.org:" HASH_A "\n", "users:1: empty local part"},
	    {"a@example..org:" HASH_A "\n", "users:1: empty local part"},
	    {"a/../b@example.org:" HASH_A "\n", "users:1: address contains"},
	    {"a@example.org:" HASH_A ":quota=lots\n", "users:1: bad quota"},
	    {"a@example.org:" HASH_A ":quota=\n", "users:1: bad quota: empty quota"},
	    {"a@example.org:" HASH_A ":quota=1:quota=2\n", "users:1: quota given twice"},
	    {"a@example.org:" HASH_A ":home=/x\n", "users:1: unknown option"},
	    {"a@example.org:$6$has space\n", "users:1: white space in the password hash"},
	    {" a@example.org:" HASH_A "\n", "users:1: line starts with white space"},
	    {"a@example.org:" HASH_A "\nA@EXAMPLE.ORG:" HASH_B "\n",
	     "users:2: user a@example.org is listed more than once (also at line 1)"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct userdb *db;
		struct diag_list d;
		CHECK(parse(&db, &d, cases[i].text) == -1);
		if (!has_diag(&d, cases[i].diag))
			fprintf(stderr, "case %zu: missing diagnostic \"%s\" (got \"%s\")\n", i,
			        cases[i].diag, d.count ? d.items[0].text : "nothing");
		CHECK(has_diag(&d, cases[i].diag));
		userdb_free(db);
		diag_list_free(&d);
	}
	/* A NUL byte. */
	const char nul[] = "a@example.org:x\0y\n";
	struct userdb *db = userdb_new();
	struct diag_list d;
	diag_list_init(&d);
	CHECK(userdb_parse(db, "users", nul, sizeof(nul) - 1, &d) == -1);
	CHECK(has_diag(&d, "users:1: NUL character"));
	userdb_free(db);
	diag_list_free(&d);
}

TEST(normalize_address)
{
	char *out = NULL;
	const char *error = NULL;
	CHECK(userdb_normalize_address("User.Name+Tag@Sub.Example.ORG", &out, &error) == 0);
	CHECK_STR(out, "user.name+tag@sub.example.org");
	free(out);
	CHECK(userdb_normalize_address("j\xc3\xb6rg@example.org", &out, &error) == 0);
	CHECK_STR(out, "j\xc3\xb6rg@example.org");
	free(out);
	CHECK(userdb_normalize_address("", &out, &error) == -1);
	CHECK(userdb_normalize_address("a b@example.org", &out, &error) == -1);
	CHECK(userdb_normalize_address("a\t@example.org", &out, &error) == -1);
	CHECK(userdb_normalize_address("a:b@example.org", &out, &error) == -1);
	CHECK(userdb_normalize_address("#a@example.org", &out, &error) == -1);
	CHECK(userdb_normalize_address("a@", &out, &error) == -1);
	CHECK(userdb_normalize_address("..@example.org", &out, &error) == -1);
	CHECK(userdb_normalize_address("a@.example.org", &out, &error) == -1);
	struct str big = STR_INIT;
	for (int i = 0; i < USERDB_MAX_ADDRESS; i++)
		str_append_char(&big, 'a');
	str_append_cstr(&big, "@example.org");
	CHECK(userdb_normalize_address(str_cstr(&big), &out, &error) == -1);
	CHECK(error != NULL && strstr(error, "longer than") != NULL);
	str_free(&big);
}

TEST(edits)
{
	struct userdb *db;
	struct diag_list d;
	CHECK(parse(&db, &d, "# head\nbob@example.org:" HASH_B "\n# tail\n") == 0);
	const char *error = NULL;
	CHECK(userdb_add(db, "Carol@Example.org", HASH_A, "100m", &error) == 0);
	CHECK(userdb_add(db, "carol@example.org", HASH_A, NULL, &error) == -1);
	CHECK_STR(error, "user carol@example.org already exists");
	CHECK(userdb_add(db, "dave@example.org", HASH_A, "huge", &error) == -1);
	CHECK(userdb_add(db, "dave@example.org", "", NULL, &error) == -1);
	CHECK(userdb_add(db, "dave@example.org", "a:b", NULL, &error) == -1);
	CHECK(userdb_add(db, "bad address", HASH_A, NULL, &error) == -1);
	CHECK(userdb_count(db) == 2);
	CHECK(userdb_set_hash(db, "BOB@example.org", HASH_A, &error) == 0);
	CHECK(userdb_set_hash(db, "nobody@example.org", HASH_A, &error) == -1);
	CHECK_STR(error, "no user nobody@example.org");
	CHECK(userdb_remove(db, "nobody@example.org", &error) == -1);
	const struct userdb_user *carol = userdb_find(db, "carol@example.org");
	CHECK(carol != NULL && carol->quota == 100LL * 1024 * 1024);
	struct str out = STR_INIT;
	userdb_format(db, &out);
	CHECK_STR(str_cstr(&out), "# head\nbob@example.org:" HASH_A "\n# tail\n"
	                          "carol@example.org:" HASH_A ":quota=100m\n");
	CHECK(userdb_remove(db, "bob@example.org", &error) == 0);
	CHECK(userdb_count(db) == 1);
	str_clear(&out);
	userdb_format(db, &out);
	CHECK_STR(str_cstr(&out), "# head\n# tail\ncarol@example.org:" HASH_A ":quota=100m\n");
	str_free(&out);
	userdb_free(db);
	diag_list_free(&d);
}

static char *path_in(const char *name)
{
	return xasprintf("%s/%s", tmpdir, name);
}

TEST(save_load_compile)
{
	char *src = path_in("users");
	char *users = path_in("users.lmdb");
	char *vmailbox = path_in("vmailbox.lmdb");
	struct diag_list d;
	diag_list_init(&d);
	/* A missing source is an empty database. */
	struct userdb *db = userdb_new();
	CHECK(userdb_load(db, src, &d) == 0);
	CHECK(userdb_count(db) == 0);
	const char *error = NULL;
	CHECK(userdb_add(db, "alice@example.org", HASH_A, "2k", &error) == 0);
	CHECK(userdb_add(db, "bob@example.org", "!" HASH_B, NULL, &error) == 0);
	CHECK(userdb_save(db, src, &error) == 0);
	CHECK(userdb_compile(db, users, vmailbox, &error) == 0);
	userdb_free(db);

	struct stat st;
	CHECK(stat(src, &st) == 0 && (st.st_mode & 07777) == 0640);
	CHECK(stat(users, &st) == 0 && (st.st_mode & 07777) == 0640);
	CHECK(stat(vmailbox, &st) == 0 && (st.st_mode & 07777) == 0644);

	db = userdb_new();
	CHECK(userdb_load(db, src, &d) == 0);
	CHECK(userdb_count(db) == 2);
	userdb_free(db);

	struct table *t = table_open(users, &error);
	struct table *v = table_open(vmailbox, &error);
	CHECK(t != NULL && v != NULL);
	if (t != NULL && v != NULL) {
		struct str value = STR_INIT;
		CHECK(table_lookup(t, "alice@example.org", &value, &error) == 1);
		CHECK_STR(str_cstr(&value), HASH_A ":quota=2048");
		CHECK(userdb_lookup_hash(t, "alice@example.org", &value, &error) == 1);
		CHECK_STR(str_cstr(&value), HASH_A);
		CHECK(userdb_lookup_hash(t, "bob@example.org", &value, &error) == 1);
		CHECK_STR(str_cstr(&value), "!" HASH_B);
		CHECK(userdb_lookup_hash(t, "carol@example.org", &value, &error) == 0);
		/* The mailbox table knows users and quotas, never hashes. */
		CHECK(table_lookup(v, "alice@example.org", &value, &error) == 1);
		CHECK_STR(str_cstr(&value), "quota=2048");
		CHECK(table_lookup(v, "bob@example.org", &value, &error) == 1);
		CHECK_STR(str_cstr(&value), "");
		CHECK(table_lookup(v, "carol@example.org", &value, &error) == 0);
		str_free(&value);
	}
	table_close(t);
	table_close(v);

	/* A broken source loads with errors naming the line. */
	FILE *f = fopen(src, "a");
	CHECK(f != NULL);
	if (f) {
		fputs("garbage line\n", f);
		fclose(f);
	}
	db = userdb_new();
	CHECK(userdb_load(db, src, &d) == -1);
	char *where = xasprintf("%s:3: expected address:hash", src);
	CHECK(has_diag(&d, where));
	free(where);
	userdb_free(db);
	diag_list_free(&d);

	/* Saving into a missing directory fails and says where. */
	db = userdb_new();
	CHECK(userdb_save(db, "/nonexistent-dir/users", &error) == -1);
	CHECK(error != NULL && strstr(error, "/nonexistent-dir/users") != NULL);
	userdb_free(db);

	unlink(src);
	unlink(users);
	unlink(vmailbox);
	free(src);
	free(users);
	free(vmailbox);
}

int main(void)
{
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	RUN(parse_users);
	RUN(parse_errors);
	RUN(normalize_address);
	RUN(edits);
	RUN(save_load_compile);
	rmdir(tmpdir);
	return TESTING_DONE();
}

/* Unit tests for the aliases(5) parser and the stored target form. */
#include <stdlib.h>
#include <string.h>

#include "mail/aliases.h"
#include "util/testing.h"

static int parse(const char *text, struct alias_list *list, struct diag_list *diags)
{
	alias_list_init(list);
	diag_list_init(diags);
	return aliases_parse(list, "aliases", text, strlen(text), diags);
}

static void done(struct alias_list *list, struct diag_list *diags)
{
	alias_list_free(list);
	diag_list_free(diags);
}

TEST(basic)
{
	struct alias_list l;
	struct diag_list d;
	const char *text = "# comment\n"
	                   "Postmaster: root\n"
	                   "\n"
	                   "team: alice, bob@example.com,\n"
	                   "   <carol@example.org>\n"
	                   "  # a comment inside\n"
	                   "\t, |/usr/bin/vacation joe, /var/spool/archive\n"
	                   "list: :include:/etc/postern/list.txt\r\n";
	CHECK(parse(text, &l, &d) == 0);
	CHECK(d.count == 0);
	CHECK(l.count == 3);
	CHECK_STR(l.items[0].name, "postmaster");
	CHECK(l.items[0].line == 2);
	CHECK(l.items[0].target_count == 1);
	CHECK(l.items[0].targets[0].type == ALIAS_ADDRESS);
	CHECK_STR(l.items[0].targets[0].value, "root");
	const struct alias_entry *t = &l.items[1];
	CHECK_STR(t->name, "team");
	CHECK(t->line == 4);
	CHECK(t->target_count == 5);
	CHECK_STR(t->targets[0].value, "alice");
	CHECK_STR(t->targets[1].value, "bob@example.com");
	CHECK_STR(t->targets[2].value, "carol@example.org");
	CHECK(t->targets[3].type == ALIAS_COMMAND);
	CHECK_STR(t->targets[3].value, "/usr/bin/vacation joe");
	CHECK(t->targets[4].type == ALIAS_FILE);
	CHECK_STR(t->targets[4].value, "/var/spool/archive");
	CHECK(l.items[2].targets[0].type == ALIAS_INCLUDE);
	CHECK_STR(l.items[2].targets[0].value, "/etc/postern/list.txt");
	done(&l, &d);
}

TEST(quoting)
{
	struct alias_list l;
	struct diag_list d;
	const char *text = "\"John Doe\" : \"|/bin/prog a, b\", \"/tmp/a file\",\n"
	                   " \"j d\"@example.com, \":include:/etc/x\"\n"
	                   "x: \"quoted \\\" esc\"@h\n";
	CHECK(parse(text, &l, &d) == 0);
	CHECK(l.count == 2);
	CHECK_STR(l.items[0].name, "john doe");
	CHECK(l.items[0].target_count == 4);
	CHECK(l.items[0].targets[0].type == ALIAS_COMMAND);
	CHECK_STR(l.items[0].targets[0].value, "/bin/prog a, b");
	CHECK(l.items[0].targets[1].type == ALIAS_FILE);
	CHECK_STR(l.items[0].targets[1].value, "/tmp/a file");
	CHECK(l.items[0].targets[2].type == ALIAS_ADDRESS);
	CHECK_STR(l.items[0].targets[2].value, "\"j d\"@example.com");
	CHECK(l.items[0].targets[3].type == ALIAS_INCLUDE);
	CHECK_STR(l.items[0].targets[3].value, "/etc/x");
	CHECK_STR(l.items[1].targets[0].value, "\"quoted \\\" esc\"@h");
	done(&l, &d);
}

TEST(duplicates_warn_first_wins)
{
	struct alias_list l;
	struct diag_list d;
	CHECK(parse("a: one\nA: two\nb: three\n", &l, &d) == 0);
	CHECK(l.count == 2);
	CHECK_STR(l.items[0].targets[0].value, "one");
	CHECK(diag_count(&d, DIAG_WARNING) == 1);
	CHECK(!diag_has_errors(&d));
	CHECK(d.count == 1 && strncmp(d.items[0].text, "aliases:2: duplicate", 20) == 0);
	done(&l, &d);
}

static void check_error(const char *text, const char *prefix)
{
	struct alias_list l;
	struct diag_list d;
	CHECK(parse(text, &l, &d) == -1);
	CHECK(diag_has_errors(&d));
	CHECK(d.count >= 1 && strncmp(d.items[0].text, prefix, strlen(prefix)) == 0);
	if (d.count < 1 || strncmp(d.items[0].text, prefix, strlen(prefix)) != 0)
		fprintf(stderr, "  got: %s\n", d.count ? d.items[0].text : "(none)");
	CHECK(l.count == 1); /* the good entry survives */
	done(&l, &d);
}

TEST(errors)
{
	check_error("ok: x\nnocolon value\n", "aliases:2: missing ':'");
	check_error("ok: x\n: value\n", "aliases:2: empty alias name");
	check_error("ok: x\nempty:\n", "aliases:2: alias has no targets");
	check_error("ok: x\nempty: , ,\n", "aliases:2: alias has no targets");
	check_error("ok: x\nq: \"abc\n", "aliases:2: unterminated quote");
	check_error("ok: x\n\"q: abc\n", "aliases:2: unterminated quoted alias name");
	check_error("ok: x\nc: |\n", "aliases:2: empty command");
	check_error("ok: x\nc: :include:\n", "aliases:2: empty include path");
	check_error("ok: x\nc: :include:rel/path\n", "aliases:2: :include: path is not absolute");
	check_error("ok: x\nc: joe smith\n", "aliases:2: white space in address");
	check_error("ok: x\nc: <>\n", "aliases:2: empty address");
	check_error("  lead: x\nok: x\n", "aliases:1: continuation line");
	check_error("ok: x\nbad name: x\n", "aliases:2: missing ':'");

	struct alias_list l;
	struct diag_list d;
	char *long_name = malloc(600);
	memset(long_name, 'a', 598);
	memcpy(long_name + 598, ":", 2);
	CHECK(parse(long_name, &l, &d) == -1);
	CHECK(l.count == 0);
	done(&l, &d);
	free(long_name);
}

TEST(nul_in_text)
{
	struct alias_list l;
	struct diag_list d;
	alias_list_init(&l);
	diag_list_init(&d);
	static const char text[] = "ok: x\nn: a\0b\n";
	CHECK(aliases_parse(&l, "f", text, sizeof(text) - 1, &d) == -1);
	CHECK(l.count == 1);
	CHECK(d.count == 1 && strncmp(d.items[0].text, "f:2: NUL", 8) == 0);
	done(&l, &d);
}

TEST(no_trailing_newline_and_empty)
{
	struct alias_list l;
	struct diag_list d;
	CHECK(parse("a: b", &l, &d) == 0 && l.count == 1);
	done(&l, &d);
	CHECK(parse("", &l, &d) == 0 && l.count == 0 && d.count == 0);
	done(&l, &d);
	CHECK(parse("# only\n\n   \n", &l, &d) == 0 && l.count == 0 && d.count == 0);
	done(&l, &d);
}

TEST(serialize_roundtrip)
{
	struct alias_target in[] = {
	    {ALIAS_ADDRESS, "joe@example.com"},
	    {ALIAS_COMMAND, "/bin/x \\ y\nz"},
	    {ALIAS_FILE, "/var/a:b"},
	    {ALIAS_INCLUDE, "/etc/l"},
	};
	char *s = alias_targets_serialize(in, 4);
	CHECK_STR(s, "a:joe@example.com\nc:/bin/x \\\\ y\\nz\nf:/var/a:b\ni:/etc/l\n");
	struct alias_target *out;
	size_t n;
	const char *err;
	CHECK(alias_targets_parse(s, strlen(s), &out, &n, &err) == 0);
	CHECK(n == 4);
	for (size_t i = 0; i < n && i < 4; i++) {
		CHECK(out[i].type == in[i].type);
		CHECK_STR(out[i].value, in[i].value);
	}
	alias_targets_free(out, n);
	free(s);
}

static void check_bad_stored(const char *s, size_t len)
{
	struct alias_target *out = NULL;
	size_t n = 0;
	const char *err = NULL;
	CHECK(alias_targets_parse(s, len, &out, &n, &err) == -1);
	CHECK(err != NULL);
}

TEST(stored_errors)
{
	check_bad_stored("", 0);
	check_bad_stored("a:x", 3);
	check_bad_stored("x:y\n", 4);
	check_bad_stored("a:\n", 3);
	check_bad_stored("a:b\\q\n", 6);
	check_bad_stored("a:b\\\n", 5);
	check_bad_stored("a\n", 2);
	check_bad_stored("a:x\n\n", 5);
	check_bad_stored("a:x\0y\n", 6);
	check_bad_stored("\0:x\n", 4);
}

TEST(parse_then_store)
{
	struct alias_list l;
	struct diag_list d;
	CHECK(parse("r: a, \"|cmd\", /f\n", &l, &d) == 0);
	char *s = alias_targets_serialize(l.items[0].targets, l.items[0].target_count);
	CHECK_STR(s, "a:a\nc:cmd\nf:/f\n");
	free(s);
	CHECK_STR(alias_target_type_name(ALIAS_INCLUDE), "include");
	done(&l, &d);
}

TEST(target_list)
{
	struct alias_entry e = {0};
	struct diag_list d;
	diag_list_init(&d);
	const char *text = "# my forward\n"
	                   "\\joe, bob@example.org\n"
	                   "\n"
	                   "  \"|/usr/bin/procmail -f-\"\n"
	                   "/home/joe/archive, :include:/home/joe/more\n";
	CHECK(aliases_parse_list(&e, ".forward", text, strlen(text), &d) == 0);
	CHECK(d.count == 0);
	CHECK(e.target_count == 5);
	if (e.target_count == 5) {
		CHECK(e.targets[0].type == ALIAS_ADDRESS);
		CHECK_STR(e.targets[0].value, "\\joe");
		CHECK_STR(e.targets[1].value, "bob@example.org");
		CHECK(e.targets[2].type == ALIAS_COMMAND);
		CHECK_STR(e.targets[2].value, "/usr/bin/procmail -f-");
		CHECK(e.targets[3].type == ALIAS_FILE);
		CHECK(e.targets[4].type == ALIAS_INCLUDE);
		CHECK_STR(e.targets[4].value, "/home/joe/more");
	}
	alias_entry_clear(&e);
	diag_list_free(&d);

	/* Empty and comment-only lists are no error; a bad line names its line. */
	diag_list_init(&d);
	CHECK(aliases_parse_list(&e, ".forward", "# nothing\n\n", 11, &d) == 0);
	CHECK(e.target_count == 0);
	const char *bad = "ok@example.org\nalso ok, \"unterminated\nfine\n";
	CHECK(aliases_parse_list(&e, ".forward", bad, strlen(bad), &d) == -1);
	CHECK(d.count == 1);
	CHECK(d.count == 1 && strncmp(d.items[0].text, ".forward:2: ", 12) == 0);
	CHECK(e.target_count >= 2);
	alias_entry_clear(&e);
	diag_list_free(&d);

	diag_list_init(&d);
	CHECK(aliases_parse_list(&e, "inc", "a\0b\n", 4, &d) == -1);
	CHECK(aliases_parse_list(&e, "inc", "two words\n", 10, &d) == -1);
	CHECK(aliases_parse_list(&e, "inc", ":include:relative\n", 18, &d) == -1);
	alias_entry_clear(&e);
	diag_list_free(&d);
}

int main(void)
{
	RUN(basic);
	RUN(quoting);
	RUN(duplicates_warn_first_wins);
	RUN(errors);
	RUN(nul_in_text);
	RUN(no_trailing_newline_and_empty);
	RUN(serialize_roundtrip);
	RUN(stored_errors);
	RUN(parse_then_store);
	RUN(target_list);
	return TESTING_DONE();
}

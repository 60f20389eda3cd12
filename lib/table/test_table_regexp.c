/*
 * Tests of regexp: tables (regexp_table(5)): matching in file order,
 * case and the flags, negation, delimiters, $N substitution, multi-line
 * keys, if/endif, continuation and comment lines, long keys, and each
 * open error naming the file and line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "table/table.h"
#include "util/alloc.h"
#include "util/str.h"
#include "util/testing.h"

static char tmpdir[] = "/tmp/postern-test-regexp-XXXXXX";
static int file_counter;
/* The type open_text and open_fails open: "regexp", or "pcre". */
static const char *table_type = "regexp";

/* Write text to a fresh file; returns its path (malloc'd). */
static char *write_table(const char *text)
{
	char *path = xasprintf("%s/t%d", tmpdir, ++file_counter);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
	return path;
}

static struct table *open_text(const char *text)
{
	char *path = write_table(text);
	char *spec = xasprintf("%s:%s", table_type, path);
	const char *error = NULL;
	struct table *t = table_open(spec, &error);
	if (t == NULL)
		fprintf(stderr, "open: %s\n", error);
	CHECK(t != NULL);
	unlink(path);
	free(path);
	free(spec);
	return t;
}

/* The open error for text, which must fail; "" if it opened. */
static char open_error_text[600];
static const char *open_fails(const char *text)
{
	char *path = write_table(text);
	char *spec = xasprintf("%s:%s", table_type, path);
	const char *error = NULL;
	struct table *t = table_open(spec, &error);
	CHECK(t == NULL);
	open_error_text[0] = '\0';
	if (t == NULL) {
		/* The message names the file. */
		CHECK(strncmp(error, path, strlen(path)) == 0);
		snprintf(open_error_text, sizeof(open_error_text), "%s", error + strlen(path));
	}
	table_close(t);
	unlink(path);
	free(path);
	free(spec);
	return open_error_text;
}

/* The value found for key, "(none)" when not found, "(error)" on error. */
static char result_text[4096];
static const char *lookup(struct table *t, const char *key)
{
	if (t == NULL)
		return "(no table)";
	struct str value = STR_INIT;
	const char *error;
	int rc = table_lookup(t, key, &value, &error);
	snprintf(result_text, sizeof(result_text), "%s",
	         rc == 1   ? str_cstr(&value)
	         : rc == 0 ? "(none)"
	                   : "(error)");
	str_free(&value);
	return result_text;
}

TEST(first_match_wins)
{
	struct table *t = open_text("/^admin@/ first\n"
	                            "/@example\\.org$/ second\n"
	                            "/example/ third\n");
	CHECK_STR(lookup(t, "admin@example.org"), "first");
	CHECK_STR(lookup(t, "bob@example.org"), "second");
	CHECK_STR(lookup(t, "bob@example.org.net"), "third");
	CHECK_STR(lookup(t, "bob@other.net"), "(none)");
	CHECK_STR(lookup(t, ""), "(none)");
	table_close(t);
}

TEST(case_and_flags)
{
	struct table *t = open_text("/^subject: hello/ insensitive\n"
	                            "/^From: Bob/i sensitive\n"
	                            "/^x-a(b|c)+$/ extended\n"
	                            "/^x-b\\(q\\)\\{2\\}$/x basic\n"
	                            "/^x-c(q)$/x basic-literal-parens\n");
	CHECK_STR(lookup(t, "SUBJECT: Hello world"), "insensitive");
	CHECK_STR(lookup(t, "From: Bob"), "sensitive");
	CHECK_STR(lookup(t, "FROM: BOB"), "(none)");
	CHECK_STR(lookup(t, "X-Abcbc"), "extended");
	CHECK_STR(lookup(t, "x-bqq"), "basic");
	CHECK_STR(lookup(t, "x-c(q)"), "basic-literal-parens");
	CHECK_STR(lookup(t, "x-cq"), "(none)");
	table_close(t);

	/* Toggling twice restores the default. */
	t = open_text("/abc/ii twice\n");
	CHECK_STR(lookup(t, "ABC"), "twice");
	table_close(t);
}

TEST(negation_and_delimiters)
{
	/* A line starting with # is a comment, so # delimits only after ! or if. */
	struct table *t = open_text("!/@example\\.org$/ foreign\n"
	                            ",^a/b,  slash inside\n"
	                            "!!|^x| double negation\n"
	                            "%a\\%b% escaped delimiter\n"
	                            "if #^h#\n"
	                            "!#^h[0-9]# h without a digit\n"
	                            "endif\n"
	                            "! /z/ negation with space\n");
	CHECK_STR(lookup(t, "user@example.net"), "foreign");
	CHECK_STR(lookup(t, "a/b@example.org"), "slash inside");
	CHECK_STR(lookup(t, "x@example.org"), "double negation");
	CHECK_STR(lookup(t, "a%b@example.org"), "escaped delimiter");
	CHECK_STR(lookup(t, "hx@example.org"), "h without a digit");
	CHECK_STR(lookup(t, "h1@example.org"), "negation with space");
	CHECK_STR(lookup(t, "z@example.org"), "(none)");
	CHECK_STR(lookup(t, "q@example.org"), "negation with space");
	table_close(t);
}

TEST(substitution)
{
	struct table *t = open_text("/^(.*)@(.*)\\.example$/ user=$1 domain=${2} $$5\n"
	                            "/^(a)|(b)$/ [$1][$2]\n"
	                            "/^((((((((((x))))))))))(y)$/ $11$(1)$$\n"
	                            "/^cost (.*)$/ REJECT $$$1.00 is $1.\n");
	CHECK_STR(lookup(t, "joe@mail.example"), "user=joe domain=mail $5");
	CHECK_STR(lookup(t, "b"), "[][b]");
	CHECK_STR(lookup(t, "a"), "[a][]");
	CHECK_STR(lookup(t, "xy"), "yx$");
	CHECK_STR(lookup(t, "cost 12"), "REJECT $12.00 is 12.");
	table_close(t);
}

TEST(multi_line_keys)
{
	const char *key = "Subject: hello\n\tworld";
	struct table *t = open_text("/^[[:space:]]+world$/ line start\n"
	                            "/hello..world/ dot matches newline\n");
	CHECK_STR(lookup(t, key), "dot matches newline");
	table_close(t);

	t = open_text("/hello..world/m dot matches newline\n"
	              "/^[[:space:]]+world$/m line start\n");
	CHECK_STR(lookup(t, key), "line start");
	table_close(t);

	/* Keys longer than TABLE_MAX_KEY are looked up too. */
	t = open_text("/^X-Long: (a+)b$/ found\n");
	struct str big = STR_INIT;
	str_append_cstr(&big, "X-Long: ");
	for (int i = 0; i < 8000; i++)
		str_append_char(&big, 'a');
	str_append_char(&big, 'b');
	CHECK_STR(lookup(t, str_cstr(&big)), "found");
	str_free(&big);
	table_close(t);
}

TEST(if_endif)
{
	struct table *t = open_text("if /@example\\.org$/\n"
	                            "/^postmaster@/ pm\n"
	                            "IF !/^root@/i\n"
	                            "/^a/ a-not-root\n"
	                            "ENDIF\n"
	                            "/./ inside\n"
	                            "endif\n"
	                            "/^postmaster@/ pm-elsewhere\n"
	                            "/^a/ a-elsewhere\n"
	                            "if/^z/\n"
	                            "endif\n"
	                            "/^z/ after-empty-if\n");
	CHECK_STR(lookup(t, "postmaster@example.org"), "pm");
	CHECK_STR(lookup(t, "alice@example.org"), "a-not-root");
	CHECK_STR(lookup(t, "root@example.org"), "inside");
	CHECK_STR(lookup(t, "bob@example.org"), "inside");
	CHECK_STR(lookup(t, "postmaster@example.net"), "pm-elsewhere");
	CHECK_STR(lookup(t, "alice@example.net"), "a-elsewhere");
	CHECK_STR(lookup(t, "zed"), "after-empty-if");
	CHECK_STR(lookup(t, "bob@example.net"), "(none)");
	table_close(t);
}

TEST(lines_and_comments)
{
	struct table *t = open_text("# a comment\n"
	                            "\n"
	                            "   # an indented comment\r\n"
	                            "/^a$/ one\r\n"
	                            "/^b$/ two\n"
	                            "\tand more\n"
	                            "  # a comment does not end the rule\n"
	                            "  and the end   \n"
	                            "/^c/\n"
	                            " result on the next line\n"
	                            "/^d$/ last");
	CHECK_STR(lookup(t, "a"), "one");
	CHECK_STR(lookup(t, "b"), "two\tand more  and the end");
	CHECK_STR(lookup(t, "c"), "result on the next line");
	CHECK_STR(lookup(t, "d"), "last");
	table_close(t);

	t = open_text("");
	CHECK(t != NULL);
	CHECK_STR(lookup(t, "anything"), "(none)");
	table_close(t);
}

TEST(open_errors)
{
	CHECK_STR(open_fails("/a/ ok\n/a(/ bad\n"),
	          ", line 2: bad regular expression: Unmatched ( or \\(");
	CHECK_STR(open_fails("# comment\n\n/abc/\n"), ", line 3: no result after the pattern");
	CHECK_STR(open_fails("/abc/iq result\n"), ", line 1: unknown pattern flag 'q'");
	CHECK_STR(open_fails("/(a)(b)/ $3\n"),
	          ", line 1: replacement index $3 is out of range (the pattern has 2 "
	          "subexpressions)");
	CHECK_STR(open_fails("/a/ ${0}\n"), ", line 1: replacement index \"0\" is out of range");
	CHECK_STR(open_fails("/a/ $100\n"), ", line 1: replacement index \"100\" is out of range");
	CHECK_STR(open_fails("/a/ $1x\n"),
	          ", line 1: non-numeric replacement index \"1x\" in the result");
	CHECK_STR(open_fails("/a/ ${1\n"), ", line 1: no '}' after \"${\" in the result");
	CHECK_STR(open_fails("/a/ cost $ 5\n"),
	          ", line 1: \"$\" in the result is not followed by a number, {number} or $ "
	          "(write $$ for a $)");
	CHECK_STR(open_fails("!/(a)/ $1\n"), ", line 1: $1 in the result of a negated pattern");
	CHECK_STR(open_fails("/a/ x\nif /b/\nif /c/\nendif\n/d/ y\n"),
	          ", line 2: if without a matching endif");
	CHECK_STR(open_fails("/a/ x\nendif\n"), ", line 2: endif without a matching if");
	CHECK_STR(open_fails("if /a/ extra\nendif\n"), ", line 1: text after the if pattern");
	CHECK_STR(open_fails("if /a/\nendif now\n"), ", line 2: text after endif");
	CHECK_STR(open_fails("if /a(/\nendif\n"),
	          ", line 1: bad regular expression: Unmatched ( or \\(");
	CHECK_STR(open_fails("/abc result\n"), ", line 1: no closing pattern delimiter '/'");
	CHECK_STR(open_fails("abc result\n"),
	          ", line 1: expected /pattern/ result, if /pattern/ or endif");
	CHECK_STR(open_fails("if aba result\nendif\n"),
	          ", line 1: pattern delimiter 'a' is a letter, digit or backslash");
	CHECK_STR(open_fails("!\n"), ", line 1: no pattern");
	/* Runs of repetition operators (exponential in glibc's regcomp) and
	 * intervals over 255 are refused; ".*?", brackets and escapes are not. */
	CHECK_STR(open_fails("/.*?/ ok\n/^(u****)/ no\n"),
	          ", line 2: bad regular expression: more than 3 repetition operators in a row");
	CHECK_STR(open_fails("/a+{2}+?/ no\n"),
	          ", line 1: bad regular expression: more than 3 repetition operators in a row");
	CHECK_STR(open_fails("/a{1,256}/ no\n"),
	          ", line 1: bad regular expression: an interval bound over 255");
	/* Nested "+" groups double glibc's work at each level. */
	char deep[200] = "/";
	for (int i = 0; i < 20; i++)
		strcat(deep, "(");
	strcat(deep, "a");
	for (int i = 0; i < 20; i++)
		strcat(deep, "+)");
	strcat(deep, "/ no\n");
	CHECK_STR(open_fails(deep), ", line 1: bad regular expression: too complex (repetitions "
	                            "expand it too much)");
	char nested[200] = "/";
	for (int i = 0; i < 70; i++)
		strcat(nested, "(");
	strcat(nested, "/ no\n");
	CHECK_STR(open_fails(nested), ", line 1: bad regular expression: groups nested too deep");
	struct table *t = open_text("/x.*?y[*+?*+]\\*\\*\\*\\*a{2,255}/ fine\n"
	                            "/^Received: from .*\\[[0-9]{1,3}(\\.[0-9]{1,3}){3}\\]/ fine\n"
	                            "/((((((((a+)+)+)+)+)+)+)+)/ fine\n");
	CHECK(t != NULL);
	if (t)
		table_close(t);
	CHECK_STR(open_fails("\n  /a/ b\n"),
	          ", line 2: line starts with white space but there is no rule to continue");
	CHECK_STR(open_fails("/a/ one\n/b/\n  two\n/c/ \n"),
	          ", line 4: no result after the pattern");

	const char nul_text[] = "/a/ x\n/b/ y\0z\n";
	char *path = xasprintf("%s/nul", tmpdir);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fwrite(nul_text, 1, sizeof(nul_text) - 1, f);
		fclose(f);
	}
	const char *error = NULL;
	char *spec = xasprintf("regexp:%s", path);
	CHECK(table_open(spec, &error) == NULL);
	char *want = xasprintf("%s, line 2: NUL character in line", path);
	CHECK_STR(error, want);
	unlink(path);
	free(want);
	free(spec);
	free(path);

	CHECK(table_open("regexp:/nonexistent/postern/checks", &error) == NULL);
	CHECK_STR(error, "open /nonexistent/postern/checks: No such file or directory");
}

/* pcre: tables (pcre_table(5)): the same files and parser, PCRE
 * patterns translated at open, $N pointed past (?:...) groups. */
TEST(pcre_tables)
{
	table_type = "pcre";
	struct table *t =
	    open_text("# Postfix-style pcre header_checks\n"
	              "/^Subject:.*\\bviagra\\b/ REJECT spam\n"
	              "/^Subject: (?:re|fwd): (\\d+) (\\w+)/ REJECT $1-$2\n"
	              "/^From: .*@(?:mail\\.)?(example\\.(?:com|net))$/ DISCARD $1\n"
	              "/^X-Case: Exact/i HOLD case\n"
	              "/^X-Lazy: .*?end/ WARN lazy\n"
	              "if /^To:/\n"
	              "!/@[\\w.-]+\\.test$/ REJECT not test\n"
	              "endif\n"
	              "/^X-Dot: a.b/s DOTALL\n"
	              "/^X-Ext: a b # comment/x EXTENDED\n"
	              "/^Received: from \\S+ \\(\\S+ \\[(\\d{1,3}(?:\\.\\d{1,3}){3})\\]\\)/ "
	              "PREPEND X-IP: $1\n");
	CHECK_STR(lookup(t, "subject: cheap VIAGRA now"), "REJECT spam");
	CHECK_STR(lookup(t, "Subject: cheap viagras"), "(none)");
	CHECK_STR(lookup(t, "Subject: Fwd: 42 things"), "REJECT 42-things");
	CHECK_STR(lookup(t, "From: Joe <joe@mail.example.com>"), "(none)");
	CHECK_STR(lookup(t, "From: joe@mail.example.com"), "DISCARD example.com");
	CHECK_STR(lookup(t, "X-Case: Exact"), "HOLD case");
	CHECK_STR(lookup(t, "X-Case: exact"), "(none)");
	CHECK_STR(lookup(t, "X-Lazy: the end"), "WARN lazy");
	CHECK_STR(lookup(t, "To: a@b.test"), "(none)");
	CHECK_STR(lookup(t, "To: a@b.example"), "REJECT not test");
	CHECK_STR(lookup(t, "X-Dot: a\nb"), "DOTALL");
	CHECK_STR(lookup(t, "X-Ext:ab"), "EXTENDED"); /* x: the spaces go too */
	CHECK_STR(lookup(t, "Received: from mx (mx.example [192.0.2.7])"),
	          "PREPEND X-IP: 192.0.2.7");
	table_close(t);

	/* Errors name the file and line, and the construct. */
	CHECK_STR(open_fails("/a/ ok\n/foo(?=bar)/ REJECT\n"),
	          ", line 2: lookahead \"(?=\" is not supported (POSIX has no lookaround)");
	CHECK_STR(open_fails("/(a)\\1/ REJECT\n"),
	          ", line 1: backreference \"\\1\" is not supported (POSIX has none in "
	          "extended expressions)");
	CHECK_STR(open_fails("/^Subject: (.*?) x/ REJECT $1\n"),
	          ", line 1: lazy quantifier \"*?\" with $N in the result (POSIX has only greedy "
	          "quantifiers, so $N could name a different part of the key)");
	CHECK_STR(open_fails("/(?:a)(b)/ $2\n"),
	          ", line 1: replacement index $2 is out of range (the pattern has 1 "
	          "subexpressions)");
	CHECK_STR(open_fails("/a/q x\n"), ", line 1: unknown pattern flag 'q'");
	CHECK_STR(open_fails("if /(?<=a)/\nendif\n"),
	          ", line 1: lookbehind \"(?<=\" is not supported (POSIX has no lookaround)");

	/* The flags A, E, m, U and X. */
	t = open_text("/foo/A anchored\n"
	              "/^b$/m multiline\n"
	              "/x$/E end-only\n"
	              "/y$/ before-newline\n"
	              "/u+v/U ungreedy\n"
	              "/z/X extra\n");
	CHECK_STR(lookup(t, "foo"), "anchored");
	CHECK_STR(lookup(t, "a foo"), "(none)");
	CHECK_STR(lookup(t, "a\nb\nc"), "multiline");
	CHECK_STR(lookup(t, "x\n"), "(none)");
	CHECK_STR(lookup(t, "y\n"), "before-newline");
	CHECK_STR(lookup(t, "uuv"), "ungreedy");
	CHECK_STR(lookup(t, "z"), "extra");
	table_close(t);
	const char *error;
	struct table *bad = table_open("pcre:/nonexistent/postern/checks", &error);
	CHECK(bad == NULL);
	CHECK_STR(error, "open /nonexistent/postern/checks: No such file or directory");
	table_type = "regexp";
}

int main(void)
{
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	RUN(first_match_wins);
	RUN(case_and_flags);
	RUN(negation_and_delimiters);
	RUN(substitution);
	RUN(multi_line_keys);
	RUN(if_endif);
	RUN(lines_and_comments);
	RUN(open_errors);
	RUN(pcre_tables);
	rmdir(tmpdir);
	return TESTING_DONE();
}

/*
 * Tests of the PCRE → POSIX ERE translation behind pcre: tables: each
 * construct translated (checked by running the ERE through glibc against
 * keys, and for a few by the ERE text), the flags, the capture map with
 * (?:...), and each construct refused, with its message.
 */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "table/pcre_translate.h"
#include "util/testing.h"

#define I PCRE_TRANSLATE_CASELESS
#define M PCRE_TRANSLATE_MULTILINE
#define S PCRE_TRANSLATE_DOTALL
#define X PCRE_TRANSLATE_EXTENDED
#define MATCH_ONLY PCRE_TRANSLATE_MATCH_ONLY

static char text[1024];

/* The ERE for pattern, or "error: MESSAGE". */
static const char *ere(const char *pattern, unsigned flags)
{
	struct pcre_translation tr;
	const char *error;
	if (pcre_translate(pattern, flags, &tr, &error) != 0)
		snprintf(text, sizeof(text), "error: %s", error);
	else
		snprintf(text, sizeof(text), "%s", str_cstr(&tr.ere));
	pcre_translation_free(&tr);
	return text;
}

/* "no", "yes", or "yes $1=... $2=..." (what PCRE's groups captured) for
 * key; "error: ..." when the pattern does not translate. */
static const char *run(const char *pattern, unsigned flags, const char *key)
{
	struct pcre_translation tr;
	const char *error;
	if (pcre_translate(pattern, flags, &tr, &error) != 0) {
		snprintf(text, sizeof(text), "error: %s", error);
		pcre_translation_free(&tr);
		return text;
	}
	regex_t re;
	int rc = regcomp(&re, str_cstr(&tr.ere), tr.cflags);
	if (rc != 0) {
		snprintf(text, sizeof(text), "regcomp failed: %s", str_cstr(&tr.ere));
		pcre_translation_free(&tr);
		return text;
	}
	regmatch_t match[20];
	rc = regexec(&re, key, 20, match, 0);
	snprintf(text, sizeof(text), "%s", rc == 0 ? "yes" : "no");
	for (int n = 1; rc == 0 && n <= tr.capture_count; n++) {
		const regmatch_t *m = &match[tr.group_map[n]];
		size_t len = strlen(text);
		snprintf(text + len, sizeof(text) - len, " $%d=%.*s", n,
		         m->rm_so < 0 ? 0 : (int)(m->rm_eo - m->rm_so),
		         key + (m->rm_so < 0 ? 0 : m->rm_so));
	}
	regfree(&re);
	pcre_translation_free(&tr);
	return text;
}

TEST(classes)
{
	CHECK_STR(run("^\\d+$", 0, "2024"), "yes");
	CHECK_STR(run("^\\d+$", 0, "20a4"), "no");
	CHECK_STR(run("^\\D+$", 0, "ab-"), "yes");
	CHECK_STR(run("\\s", 0, "a\tb"), "yes");
	CHECK_STR(run("\\S", 0, " \t\n"), "no");
	CHECK_STR(run("^\\w+$", 0, "a_Z9"), "yes");
	CHECK_STR(run("\\W", 0, "a_Z9"), "no");
	CHECK_STR(run("^[\\d_]+$", 0, "1_2"), "yes");
	CHECK_STR(run("^[\\d_]+$", 0, "1-2"), "no");
	CHECK_STR(ere("[\\d_]", 0), "[0-9_]");
	CHECK_STR(ere("\\d", 0), "[0-9]");
	CHECK_STR(ere("[\\W_]", 0), "[^0-9A-Za-z]");
	CHECK_STR(run("[^\\d\\s]", 0, "1 2"), "no");
	CHECK_STR(run("[[:alpha:][:digit:]]", 0, "-a"), "yes");
	CHECK_STR(run("[[:^alpha:]]", 0, "abc"), "no");
	/* Brackets: ] first, escapes, ranges, characters ERE treats specially. */
	CHECK_STR(run("[]a]", 0, "]"), "yes");
	CHECK_STR(run("[\\]\\\\]", 0, "\\"), "yes");
	CHECK_STR(run("[\\]\\\\]", 0, "]"), "yes");
	CHECK_STR(run("[\\^]", 0, "^"), "yes");
	CHECK_STR(run("[\\^]", 0, "a"), "no");
	CHECK_STR(run("[a\\-z]", 0, "b"), "no");
	CHECK_STR(run("[a\\-z]", 0, "-"), "yes");
	CHECK_STR(run("[-^]", 0, "^"), "yes");
	CHECK_STR(run("[[.]", 0, "."), "yes");
	CHECK_STR(run("[\\x41-\\x43]", 0, "c"), "no"); /* case-insensitive by flag only */
	CHECK_STR(run("[\\x41-\\x43]", I, "c"), "yes");
	CHECK_STR(run("[\\x41-\\x43]", 0, "C"), "yes");
	CHECK_STR(run("^[\\x41-\\x43]$", 0, "c"), "no");
	CHECK_STR(run("[^a]", I, "A"), "no");
	CHECK_STR(run("[^a]", 0, "A"), "yes");
	CHECK_STR(run("[Z-a]", I, "_"), "yes");
	CHECK_STR(run("^[\\x80-\\xff]+$", 0, "\xc3\xa9"), "yes");
	/* . and a negated class and newlines. */
	CHECK_STR(run("a.b", 0, "a\nb"), "no");
	CHECK_STR(run("a.b", S, "a\nb"), "yes");
	CHECK_STR(run("a[^x]b", 0, "a\nb"), "yes");
	CHECK_STR(run("a[^x]b", M, "a\nb"), "yes");
	CHECK_STR(run("a\\Db", M, "a\nb"), "yes");
	CHECK_STR(run("a.b", M, "a\nb"), "no");
	CHECK_STR(run("a.b", M | S, "a\nb"), "yes");
}

TEST(escapes_and_literals)
{
	CHECK_STR(run("^a\\.b\\-c\\/d\\@e\\$f\\(g\\[h\\{i\\+j\\?k\\*l\\|m\\^n\\\\o$", 0,
	              "a.b-c/d@e$f(g[h{i+j?k*l|m^n\\o"),
	          "yes");
	CHECK_STR(run("a\\.b", 0, "axb"), "no");
	CHECK_STR(run("^\\t\\n\\r\\f\\e\\x41\\x{42}\\o{101}\\cA$", 0,
	              "\t\n\r\f\x1b"
	              "AB"
	              "A\x01"),
	          "yes");
	CHECK_STR(run("\\<a\\>", 0, "<a>"), "yes"); /* literal in PCRE, word anchors in glibc */
	CHECK_STR(run("x{a}", 0, "x{a}"), "yes");
	CHECK_STR(run("a}", 0, "a}"), "yes");
	CHECK_STR(run("\\Qa.b*\\E+", 0, "a.b**"), "yes");
	CHECK_STR(run("\\Qa.b*\\E", 0, "axb"), "no");
	CHECK_STR(run("\\bfoo\\b", 0, "a foo b"), "yes");
	CHECK_STR(run("\\bfoo\\b", 0, "afoo"), "no");
	CHECK_STR(run("\\Bfoo", 0, "afoo"), "yes");
	CHECK_STR(run("a(?#comment)b", 0, "ab"), "yes");
	CHECK_STR(ere("a\\.b", 0), "a\\.b");
}

TEST(anchors)
{
	CHECK_STR(run("\\Afoo\\z", 0, "foo"), "yes");
	CHECK_STR(run("\\Afoo\\z", 0, "foo\n"), "no");
	CHECK_STR(run("foo$", 0, "foo\n"), "yes"); /* PCRE's $: before a final newline too */
	CHECK_STR(run("foo$", PCRE_TRANSLATE_DOLLAR_ENDONLY, "foo\n"), "no");
	CHECK_STR(run("foo\\Z", 0, "foo\n"), "yes");
	CHECK_STR(run("^(com|net)$", MATCH_ONLY, "net\n"), "yes $1=net");
	CHECK_STR(run("^b", 0, "a\nb"), "no");
	CHECK_STR(run("^b", M, "a\nb"), "yes");
	CHECK_STR(run("a$", M, "a\nb"), "yes");
	CHECK_STR(run("(\\.com$|\\.net$)", MATCH_ONLY, "x.net"), "yes $1=.net");
	CHECK_STR(run("^(\\S+)@example\\.com$", 0, "joe@example.com"), "yes $1=joe");
	CHECK_STR(run("foo", PCRE_TRANSLATE_ANCHORED, "a foo"), "no");
	CHECK_STR(run("foo|bar", PCRE_TRANSLATE_ANCHORED, "bar x"), "yes");
	CHECK_STR(run("x|foo", PCRE_TRANSLATE_ANCHORED, "a foo"), "no");
	CHECK_STR(run("(a)|(b)", PCRE_TRANSLATE_ANCHORED, "b"), "yes $1= $2=b");
}

TEST(groups_and_capture_map)
{
	CHECK_STR(run("^(?:re|fwd): (.*)$", I, "Re: hello"), "yes $1=hello");
	CHECK_STR(run("(?:a)(b)(?:c)(d)", 0, "abcd"), "yes $1=b $2=d");
	CHECK_STR(run("((?:x|y)+)-(\\d+)", 0, "xyx-42"), "yes $1=xyx $2=42");
	struct pcre_translation tr;
	const char *error;
	CHECK(pcre_translate("(?:a)(b)((?:c)(d))", 0, &tr, &error) == 0);
	CHECK(tr.capture_count == 3);
	CHECK(tr.group_map[1] == 2 && tr.group_map[2] == 3 && tr.group_map[3] == 5);
	pcre_translation_free(&tr);
	CHECK(pcre_translate("x", PCRE_TRANSLATE_ANCHORED, &tr, &error) == 0);
	CHECK(tr.capture_count == 0);
	pcre_translation_free(&tr);
	CHECK_STR(ere("(?:a|b)c", 0), "(a|b)c");
}

TEST(quantifiers)
{
	CHECK_STR(run("^a{2}$", 0, "aa"), "yes");
	CHECK_STR(run("^a{2,}$", 0, "a"), "no");
	CHECK_STR(run("^a{1,3}$", 0, "aaa"), "yes");
	CHECK_STR(run("^a?b*c+$", 0, "bbc"), "yes");
	/* Lazy quantifiers only where captures do not matter. */
	CHECK_STR(run("^Subject:.*?viagra", MATCH_ONLY, "Subject: buy viagra"), "yes");
	CHECK_STR(run("a+?b??c{1,2}?", MATCH_ONLY, "abcc"), "yes");
	CHECK_STR(run("a*b", PCRE_TRANSLATE_UNGREEDY | MATCH_ONLY, "aab"), "yes");
	CHECK_STR(run("a{2}?", 0, "aa"), "yes"); /* an exact count is neither */
	CHECK_STR(ere("(a)*?", 0), "error: lazy quantifier \"*?\" with $N in the result (POSIX has "
	                           "only greedy quantifiers, so $N could name a different part of "
	                           "the key)");
	CHECK_STR(ere("a*", PCRE_TRANSLATE_UNGREEDY),
	          "error: the U (ungreedy) flag with $N in the result (POSIX has only greedy "
	          "quantifiers, so $N could name a different part of the key)");
	CHECK_STR(run("a*?b", PCRE_TRANSLATE_UNGREEDY, "ab"), "yes"); /* ? makes it greedy */
	CHECK_STR(ere("a*+", 0), "error: possessive quantifier \"*+\" is not supported (it "
	                         "changes which keys match)");
	CHECK_STR(ere("a{1,2}+", 0), "error: possessive quantifier \"{1,2}+\" is not supported "
	                             "(it changes which keys match)");
	CHECK_STR(ere("*a", 0), "error: quantifier \"*\" does not follow anything to repeat");
	CHECK_STR(ere("(+a)", 0), "error: quantifier \"+\" does not follow anything to repeat");
	CHECK_STR(ere("^*", 0), "error: quantifier \"*\" after an anchor or assertion");
	CHECK_STR(ere("a{2}{3}", 0), "error: quantifier \"{\" after a quantifier");
	CHECK_STR(ere("a{,3}", 0), "error: \"{\" interval \"{,3}\" is read differently by PCRE "
	                           "versions (write {0,n}, or \\{ for a literal brace)");
	CHECK_STR(ere("a{3,1}", 0), "error: bad interval \"{3,1}\"");
}

TEST(flags)
{
	CHECK_STR(run("abc", I, "ABC"), "yes");
	CHECK_STR(run("abc", 0, "ABC"), "no");
	CHECK_STR(run("(?i)abc", 0, "xABC"), "yes");
	CHECK_STR(run("(?-i)abc", I, "ABC"), "no");
	CHECK_STR(run("(?s)a.b", 0, "a\nb"), "yes");
	CHECK_STR(run("(?m)^b", 0, "a\nb"), "yes");
	CHECK_STR(run("(?x) a b # comment\n c", 0, "abc"), "yes");
	CHECK_STR(run("a b # comment", X, "ab"), "yes");
	CHECK_STR(run("a\\ b [ ]c", X, "a b c"), "yes");
	CHECK_STR(ere("(?J)a", 0), "error: inline option \"J\" is not supported");
	CHECK_STR(ere("a(?i)b", 0), "error: inline options such as \"(?i\" are supported only "
	                            "as (?flags) at the very start of the pattern");
	CHECK_STR(ere("(?i:a)", 0), "error: inline options such as \"(?i\" are supported only "
	                            "as (?flags) at the very start of the pattern");
	struct pcre_translation tr;
	const char *error;
	CHECK(pcre_translate("(?m)x", I, &tr, &error) == 0);
	CHECK(tr.cflags == (REG_EXTENDED | REG_ICASE | REG_NEWLINE));
	pcre_translation_free(&tr);
}

TEST(refused)
{
	CHECK_STR(ere("foo(?=bar)", 0),
	          "error: lookahead \"(?=\" is not supported (POSIX has no lookaround)");
	CHECK_STR(ere("foo(?!bar)", 0),
	          "error: lookahead \"(?!\" is not supported (POSIX has no lookaround)");
	CHECK_STR(ere("(?<=a)b", 0),
	          "error: lookbehind \"(?<=\" is not supported (POSIX has no lookaround)");
	CHECK_STR(ere("(?<!a)b", 0),
	          "error: lookbehind \"(?<!\" is not supported (POSIX has no lookaround)");
	CHECK_STR(ere("(a)\\1", 0), "error: backreference \"\\1\" is not supported (POSIX has "
	                            "none in extended expressions)");
	CHECK_STR(ere("(a)\\g{1}", 0), "error: backreference \"\\g\" is not supported (POSIX has "
	                               "none in extended expressions)");
	CHECK_STR(ere("(?<user>a)", 0), "error: named group \"(?<\" is not supported (write a "
	                                "plain group and $N)");
	CHECK_STR(ere("(?P<user>a)", 0), "error: named group \"(?P<\" is not supported (write a "
	                                 "plain group and $N)");
	CHECK_STR(ere("\\p{L}", 0),
	          "error: Unicode property \"\\p\" is not supported (no UTF-8 mode)");
	CHECK_STR(ere("(?>a+)b", 0), "error: atomic group \"(?>\" is not supported");
	CHECK_STR(ere("a\\Kb", 0), "error: \"\\K\" is not supported");
	CHECK_STR(ere("\\Ga", 0), "error: \"\\G\" is not supported");
	CHECK_STR(ere("(a|(?R))", 0),
	          "error: recursion or subroutine call \"(?R\" is not supported");
	CHECK_STR(ere("(a)(?1)", 0),
	          "error: recursion or subroutine call \"(?1\" is not supported");
	CHECK_STR(ere("(?(1)a|b)", 0), "error: conditional group \"(?(\" is not supported");
	CHECK_STR(ere("(*UTF8)a", 0), "error: PCRE verb \"(*...)\" is not supported");
	CHECK_STR(ere("\\h", 0), "error: escape \"\\h\" is not supported");
	CHECK_STR(ere("\\q", 0), "error: escape \"\\q\" is not supported");
	CHECK_STR(ere("[\\B]", 0), "error: escape \"\\B\" is not supported inside a bracket "
	                           "expression");
	CHECK_STR(ere("\\x{100}", 0), "error: character value over 255 in \"\\x\" (there is no "
	                              "UTF-8 mode)");
	CHECK_STR(ere("a\\x00", 0),
	          "error: a NUL character in the pattern (a key never holds one)");
	CHECK_STR(ere("[[:foo:]]", 0), "error: unknown POSIX class \"[:foo:]\"");
	CHECK_STR(ere("[[:upper:]]", I),
	          "error: \"[:upper:]\" in a case-insensitive pattern (PCRE versions differ on it: "
	          "write [:alpha:], or make the pattern case-sensitive with the i flag)");
	CHECK_STR(run("[[:upper:]]", 0, "a"), "no");
	CHECK_STR(ere("[[.a.]]", 0), "error: POSIX collating element \"[.\" is not supported");
	CHECK_STR(ere("[z-a]", 0), "error: range out of order in a bracket expression");
	CHECK_STR(ere("[a-\\d]", 0), "error: a range in a bracket expression ends in a class");
	CHECK_STR(ere("[abc", 0), "error: missing \"]\" at the end of a bracket expression");
	CHECK_STR(ere("(abc", 0), "error: missing \")\"");
	CHECK_STR(ere("abc)", 0), "error: unmatched \")\"");
	CHECK_STR(ere("abc\\", 0), "error: \"\\\" at the end of the pattern");
	/* Anchors where glibc's would match at a newline and PCRE's never. */
	CHECK_STR(ere("a$\\n", PCRE_TRANSLATE_DOLLAR_ENDONLY),
	          "error: an end anchor (\"$\", \"\\z\" or \"\\Z\") is followed by more pattern "
	          "(where PCRE's never matches, POSIX's may match at a newline)");
	CHECK_STR(ere("\\s^a", 0), "error: \"^\" after something that can match a character (where "
	                           "PCRE's never matches, POSIX's may match after a newline)");
	CHECK_STR(run("(?:x|^a)", 0, "ba"), "no");
	CHECK_STR(ere("(^a)*", MATCH_ONLY),
	          "error: quantifier \"*\" on a group that holds \"^\" or \"\\A\"");
	CHECK_STR(ere("(a$)", 0),
	          "error: \"$\" inside a capturing group with $N in the result (PCRE's $ also "
	          "matches before a newline that ends the key, which the group would capture "
	          "here; write \\z, or use the E flag)");
	CHECK_STR(run("(a$)", MATCH_ONLY, "a\n"), "yes $1=a\n");
	CHECK_STR(run("(a)$", 0, "a\n"), "yes $1=a");
	CHECK_STR(ere("\\z", M), "error: \"\\z\" in multi-line mode (m) is not supported");
	CHECK_STR(ere("x", PCRE_TRANSLATE_ANCHORED | M),
	          "error: the A (anchored) flag in multi-line mode (m) is not supported");
}

int main(void)
{
	RUN(classes);
	RUN(escapes_and_literals);
	RUN(anchors);
	RUN(groups_and_capture_map);
	RUN(quantifiers);
	RUN(flags);
	RUN(refused);
	return TESTING_DONE();
}

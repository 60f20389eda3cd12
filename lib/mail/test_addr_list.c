/*
 * Tests of address lists read for rewriting (addr_list.h) and of the
 * address fields of a header section rewritten in place (addr_header.h):
 * display names, quoted strings with commas and "@", comments, groups,
 * folding, UTF-8, bare local parts, source routes, malformed lists left
 * alone, field selection, the end of the header section, long lines
 * folded again, and incomplete input.
 */
#include <stdlib.h>
#include <string.h>

#include "mail/addr_header.h"
#include "mail/addr_list.h"
#include "util/testing.h"

static char *result;

/* The addr-specs of text, each as addr_list_spec gives it, joined by
 * " | "; "ERROR" when text is not an address list. */
static const char *specs(const char *text)
{
	struct addr_list_span *spans;
	size_t count;
	struct str out = STR_INIT;
	if (addr_list_parse(text, strlen(text), &spans, &count) != 0) {
		str_append_cstr(&out, "ERROR");
	} else {
		for (size_t i = 0; i < count; i++) {
			if (i > 0)
				str_append_cstr(&out, " | ");
			addr_list_spec(text, &spans[i], &out);
		}
		free(spans);
	}
	str_append(&out, "", 0);
	free(result);
	result = str_steal(&out);
	return result;
}

/* The map of the tests: a few fixed rewrites; "fail@x" fails. */
static int map_count;
static int test_map(void *ctx, const char *spec, struct str *replacement)
{
	(void)ctx;
	map_count++;
	static const char *const pairs[][2] = {
	    {"root@localhost.localdomain", "me@example.com"},
	    {"root", "me@example.com"},
	    {"john.doe@box.local", "john@example.com"},
	    {"\"joe, the boss\"@box.local", "joe@example.com"},
	    {"jürgen@box.local", "juergen@example.com"},
	    {"same@example.com", "same@example.com"},
	    {"long@box.local", NULL},
	};
	if (strcmp(spec, "fail@x") == 0)
		return -1;
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		if (strcmp(spec, pairs[i][0]) != 0)
			continue;
		if (pairs[i][1] != NULL) {
			str_append_cstr(replacement, pairs[i][1]);
		} else {
			/* A replacement long enough to need a fold. */
			for (int k = 0; k < 200; k++)
				str_append_cstr(replacement, "x");
			str_append_cstr(replacement, "@example.com");
		}
		return 1;
	}
	return 0;
}

/* text rewritten; "UNCHANGED" or "FAILED" when it was not. */
static const char *rewrite(const char *text)
{
	struct str out = STR_INIT;
	int rc = addr_list_rewrite(text, strlen(text), test_map, NULL, &out);
	if (rc == 0 && out.len != 0)
		rc = 2; /* out must stay untouched */
	if (rc != 1) {
		str_free(&out);
		str_append_cstr(&out, rc == 0  ? "UNCHANGED"
		                      : rc < 0 ? "FAILED"
		                               : "UNCHANGED BUT WRITTEN");
	}
	str_append(&out, "", 0);
	free(result);
	result = str_steal(&out);
	return result;
}

TEST(plain_lists)
{
	CHECK_STR(specs(" a@b.example"), "a@b.example");
	CHECK_STR(specs("a@b, c@d ,e@f"), "a@b | c@d | e@f");
	CHECK_STR(specs("<a@b>"), "a@b");
	CHECK_STR(specs("root"), "root");
	CHECK_STR(specs("root, <postmaster>"), "root | postmaster");
	CHECK_STR(specs(""), "");
	CHECK_STR(specs(" , ,a@b,"), "a@b");
	CHECK_STR(specs("<>"), "");
	CHECK_STR(specs("u@[192.0.2.1], v@[IPv6:2001:db8::1]"),
	          "u@[192.0.2.1] | v@[IPv6:2001:db8::1]");
}

TEST(display_names_and_quotes)
{
	CHECK_STR(specs("John Doe <john@x.example>"), "john@x.example");
	CHECK_STR(specs("\"Doe, John\" <john@x.example>, \"a@b\" <c@d>"), "john@x.example | c@d");
	CHECK_STR(specs("\"joe, the boss\"@box.local"), "\"joe, the boss\"@box.local");
	CHECK_STR(specs("\"quoted \\\" quote\" <q@x>"), "q@x");
	CHECK_STR(specs("Dr. J. Doe <j@x>"), "j@x");
	CHECK_STR(specs("root@localhost <root@localhost>"), "root@localhost");
	CHECK_STR(specs("=?UTF-8?Q?J=C3=BCrgen?= <j@x>"), "j@x");
	CHECK_STR(specs("Jürgen Groß <jürgen@bücher.example>"), "jürgen@bücher.example");
}

TEST(comments_and_folding)
{
	CHECK_STR(specs("john@x.example (John Doe)"), "john@x.example");
	CHECK_STR(specs("(lead) john (inner (nested)) . doe @ x . example (trail)"),
	          "john.doe@x.example");
	CHECK_STR(specs("John\r\n Doe\r\n\t<john@x.example>,\r\n jane@y.example"),
	          "john@x.example | jane@y.example");
	CHECK_STR(specs("a@b (a comment, with a comma and a@c)"), "a@b");
	CHECK_STR(specs("<@relay.example,@other.example:u@x>"), "u@x");
}

TEST(groups)
{
	CHECK_STR(specs("undisclosed-recipients:;"), "");
	CHECK_STR(specs("Undisclosed recipients: ;"), "");
	CHECK_STR(specs("team: a@x, B <b@y>; c@z"), "a@x | b@y | c@z");
	CHECK_STR(specs("team: a@x"), "a@x"); /* unterminated: tolerated */
	CHECK_STR(specs("one: a@x;, two: b@y;"), "a@x | b@y");
}

TEST(malformed)
{
	CHECK_STR(specs("John Doe"), "ERROR");
	CHECK_STR(specs("\"unterminated@x"), "ERROR");
	CHECK_STR(specs("a@b (unterminated"), "ERROR");
	CHECK_STR(specs("a@b)"), "ERROR");
	CHECK_STR(specs("Name <a@b"), "ERROR");
	CHECK_STR(specs("Name <a@b> junk"), "ERROR");
	CHECK_STR(specs("a@b>"), "ERROR");
	CHECK_STR(specs("<a@b <c@d>>"), "ERROR");
	CHECK_STR(specs("a@@b"), "ERROR");
	CHECK_STR(specs("a@b@c"), "ERROR");
	CHECK_STR(specs("a@"), "ERROR");
	CHECK_STR(specs("g1: g2: a@b;;"), "ERROR");
	CHECK_STR(specs("a@b; c@d"), "ERROR");
	CHECK_STR(specs("u@[1.2.[3]"), "ERROR");
	CHECK_STR(specs("<@relay.example u@x>"), "ERROR");
	const char nul[] = "a@b\0c";
	struct addr_list_span *spans;
	size_t count;
	CHECK(addr_list_parse(nul, sizeof(nul) - 1, &spans, &count) == -1);
}

TEST(rewrite_in_place)
{
	CHECK_STR(rewrite(" Root <root@localhost.localdomain>"), " Root <me@example.com>");
	CHECK_STR(rewrite(" root@localhost.localdomain (Charlie Root)"),
	          " me@example.com (Charlie Root)");
	CHECK_STR(rewrite(" \"Doe, John\" <john . doe@box.local>, other@x.example"),
	          " \"Doe, John\" <john@example.com>, other@x.example");
	CHECK_STR(rewrite(" \"joe, the boss\"@box.local"), " joe@example.com");
	CHECK_STR(rewrite(" root"), " me@example.com");
	CHECK_STR(rewrite(" Jürgen <jürgen@box.local>"), " Jürgen <juergen@example.com>");
	CHECK_STR(rewrite(" team: root@localhost.localdomain,\r\n\tx@y;"),
	          " team: me@example.com,\r\n\tx@y;");
	CHECK_STR(rewrite(" John\r\n Doe <john.doe@\r\n box.local>"),
	          " John\r\n Doe <john@example.com>");
	CHECK_STR(rewrite(" <@r.example:root@localhost.localdomain>"),
	          " <@r.example:me@example.com>");
	CHECK_STR(rewrite(" other@x.example"), "UNCHANGED");
	CHECK_STR(rewrite(" same@example.com"), "UNCHANGED");
	CHECK_STR(rewrite(" undisclosed-recipients:;"), "UNCHANGED");
	map_count = 0;
	CHECK_STR(rewrite(" Root <root@localhost.localdomain> junk"), "UNCHANGED");
	CHECK(map_count == 0);
	CHECK_STR(rewrite(" root@localhost.localdomain, fail@x"), "FAILED");
}

/* A whole header section (and what follows) through addr_header_rewrite;
 * the output, then "|" and what was not taken. */
static const char *section(const char *text, bool at_end, int want_rc)
{
	struct str out = STR_INIT;
	size_t used = 0;
	size_t len = strlen(text);
	int rc = addr_header_rewrite(text, len, at_end, test_map, NULL, &out, &used);
	CHECK(rc == want_rc);
	CHECK(used <= len);
	str_append_cstr(&out, "|");
	str_append(&out, text + used, len - used);
	free(result);
	result = str_steal(&out);
	return result;
}

TEST(header_section)
{
	CHECK_STR(section("From: Charlie Root <root@localhost.localdomain>\r\n"
	                  "To: \"Doe, John\" <john.doe@box.local>, other@x.example\r\n"
	                  "Subject: mail for root@localhost.localdomain\r\n"
	                  "X-Note: root@localhost.localdomain\r\n"
	                  "Message-ID: <root@localhost.localdomain>\r\n"
	                  "\r\n"
	                  "From: root@localhost.localdomain in the body\r\n",
	                  true, 1),
	          "From: Charlie Root <me@example.com>\r\n"
	          "To: \"Doe, John\" <john@example.com>, other@x.example\r\n"
	          "Subject: mail for root@localhost.localdomain\r\n"
	          "X-Note: root@localhost.localdomain\r\n"
	          "Message-ID: <root@localhost.localdomain>\r\n"
	          "\r\n"
	          "|From: root@localhost.localdomain in the body\r\n");
	/* Names in any case, "Name :", LF line ends, folded fields. */
	CHECK_STR(section("cc :root\nRESENT-FROM:\n root@localhost.localdomain\n\t(Root)\n"
	                  "Reply-To: bad <unterminated@box.local\n\nbody\n",
	                  true, 1),
	          "cc :me@example.com\nRESENT-FROM:\n me@example.com\n\t(Root)\n"
	          "Reply-To: bad <unterminated@box.local\n\n|body\n");
	/* Nothing to change: the same bytes. */
	CHECK_STR(section("From: a@x\r\nTo: b@y\r\n\r\nbody", true, 0),
	          "From: a@x\r\nTo: b@y\r\n\r\n|body");
	/* A line that is no field starts the body. */
	CHECK_STR(section("To: root\nthis is body text\nFrom: root\n", true, 1),
	          "To: me@example.com\n|this is body text\nFrom: root\n");
	CHECK_STR(section(" leading blank\nTo: root\n", true, 0), "| leading blank\nTo: root\n");
	/* A message of header fields only, the last without a line end. */
	CHECK_STR(section("Subject: x\nTo: root", true, 1), "Subject: x\nTo: me@example.com|");
	/* Not at the end: the last field may go on, so it is not taken. */
	CHECK_STR(section("To: root\nFrom: root\n", false, 1), "To: me@example.com\n|From: root\n");
	CHECK_STR(section("To: root\nFrom: ro", false, 1), "To: me@example.com\n|From: ro");
	CHECK_STR(section("To: root\n\n", false, 1), "To: me@example.com\n\n|");
	/* A failed look-up. */
	CHECK_STR(section("To: fail@x\n\n", true, -1), "|To: fail@x\n\n");
}

TEST(fields)
{
	static const char *const yes[] = {"From",
	                                  "sender",
	                                  "Reply-To",
	                                  "To",
	                                  "Cc",
	                                  "Bcc",
	                                  "Resent-To",
	                                  "Errors-To",
	                                  "Disposition-Notification-To",
	                                  "Return-Receipt-To"};
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		CHECK(addr_header_is_address_field(yes[i], strlen(yes[i])));
	static const char *const no[] = {"Subject", "Message-ID",   "Received", "X-To",
	                                 "Tox",     "Delivered-To", ""};
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		CHECK(!addr_header_is_address_field(no[i], strlen(no[i])));
}

/* addr_header_map_fn: the kind of field each address is in, before the
 * address ("S:" sender, "R:" recipient); test_map's replacement after it. */
static int kind_map(void *ctx, enum addr_header_kind kind, const char *spec,
                    struct str *replacement)
{
	struct str *seen = ctx;
	str_printf(seen, "%s%s ", kind == ADDR_HEADER_SENDER ? "S:" : "R:", spec);
	return test_map(NULL, spec, replacement);
}

TEST(field_kinds)
{
	static const char *const senders[] = {"From",
	                                      "Sender",
	                                      "reply-to",
	                                      "Resent-From",
	                                      "Resent-Sender",
	                                      "Return-Path",
	                                      "Return-Receipt-To",
	                                      "Errors-To",
	                                      "Disposition-Notification-To",
	                                      "Mail-Followup-To"};
	for (size_t i = 0; i < sizeof(senders) / sizeof(senders[0]); i++)
		CHECK(addr_header_field_kind(senders[i], strlen(senders[i])) == ADDR_HEADER_SENDER);
	/* Resent-Reply-To is a recipient field, as in Postfix's header_opts. */
	static const char *const recipients[] = {
	    "To",           "CC", "Bcc", "Resent-To", "Resent-Cc", "Resent-Bcc", "Resent-Reply-To",
	    "Apparently-To"};
	for (size_t i = 0; i < sizeof(recipients) / sizeof(recipients[0]); i++)
		CHECK(addr_header_field_kind(recipients[i], strlen(recipients[i])) ==
		      ADDR_HEADER_RECIPIENT);
	CHECK(addr_header_field_kind("Subject", 7) == 0);
	CHECK(addr_header_field_kind("Delivered-To", 12) == 0);

	const char *text = "From: Root <root@localhost.localdomain>\r\n"
	                   "To: root, \"Doe, John\" <john.doe@box.local>\r\n"
	                   "Subject: root@localhost.localdomain\r\n"
	                   "\r\nbody\r\n";
	size_t len = strlen(text);
	struct str out = STR_INIT, seen = STR_INIT;
	size_t used = 0;
	/* Only the recipient fields: From stays, and map never sees it. */
	CHECK(addr_header_rewrite_kinds(text, len, true, ADDR_HEADER_RECIPIENT, kind_map, &seen,
	                                &out, &used) == 1);
	CHECK_STR(str_cstr(&seen), "R:root R:john.doe@box.local ");
	CHECK_STR(str_cstr(&out), "From: Root <root@localhost.localdomain>\r\n"
	                          "To: me@example.com, \"Doe, John\" <john@example.com>\r\n"
	                          "Subject: root@localhost.localdomain\r\n"
	                          "\r\n");
	CHECK(used == len - strlen("body\r\n"));
	/* Only the sender fields. */
	str_clear(&out);
	str_clear(&seen);
	CHECK(addr_header_rewrite_kinds(text, len, true, ADDR_HEADER_SENDER, kind_map, &seen, &out,
	                                &used) == 1);
	CHECK_STR(str_cstr(&seen), "S:root@localhost.localdomain ");
	const char *want = "From: Root <me@example.com>\r\nTo: root, ";
	CHECK(strncmp(str_cstr(&out), want, strlen(want)) == 0);
	/* Both, in order; none: the same bytes. */
	str_clear(&out);
	str_clear(&seen);
	CHECK(addr_header_rewrite_kinds(text, len, true, ADDR_HEADER_SENDER | ADDR_HEADER_RECIPIENT,
	                                kind_map, &seen, &out, &used) == 1);
	CHECK_STR(str_cstr(&seen), "S:root@localhost.localdomain R:root R:john.doe@box.local ");
	str_clear(&out);
	str_clear(&seen);
	CHECK(addr_header_rewrite_kinds(text, len, true, 0, kind_map, &seen, &out, &used) == 0);
	CHECK(seen.len == 0);
	CHECK(used == len - strlen("body\r\n") && memcmp(out.data, text, used) == 0);
	str_free(&out);
	str_free(&seen);
}

/* The longest line of text (without its line end). */
static size_t longest_line(const char *text)
{
	size_t longest = 0;
	while (*text) {
		size_t n = strcspn(text, "\r\n");
		if (n > longest)
			longest = n;
		text += n;
		text += strspn(text, "\r\n");
	}
	return longest;
}

TEST(folding)
{
	/* Ten long addresses on one line: under 998 before, over after. */
	struct str in = STR_INIT;
	str_append_cstr(&in, "To: ");
	for (int i = 0; i < 10; i++)
		str_append_cstr(&in, i ? ", A <long@box.local>" : "A <long@box.local>");
	str_append_cstr(&in, "\r\n\r\n");
	str_append(&in, "", 0);
	CHECK(longest_line(in.data) < ADDR_HEADER_LINE_MAX);
	const char *out = section(in.data, true, 1);
	CHECK(longest_line(out) <= ADDR_HEADER_LINE_MAX);
	CHECK(strstr(out, "\r\n ") != NULL);
	/* Unfolded, it is the plain rewrite. */
	struct str unfolded = STR_INIT;
	for (const char *p = out; *p; p++) {
		if (p[0] == '\r' && p[1] == '\n' && (p[2] == ' ' || p[2] == '\t'))
			p++;
		else
			str_append_char(&unfolded, *p);
	}
	str_append(&unfolded, "", 0);
	CHECK(strstr(unfolded.data, "\r\n\r\n|") != NULL);
	CHECK(longest_line(unfolded.data) > ADDR_HEADER_LINE_MAX);
	str_free(&unfolded);
	str_free(&in);
	/* A line without white space to fold at stays long. */
	struct str fold = STR_INIT, word = STR_INIT;
	str_append_cstr(&word, "To:");
	for (int i = 0; i < 1100; i++)
		str_append_char(&word, 'x');
	str_append_cstr(&word, "\n");
	addr_header_fold(word.data, word.len, &fold);
	CHECK(fold.len == word.len && memcmp(fold.data, word.data, word.len) == 0);
	/* A blank in the middle: folded there, with the line's own end. */
	str_clear(&fold);
	str_truncate(&word, 600);
	str_append_cstr(&word, " ");
	for (int i = 0; i < 600; i++)
		str_append_char(&word, 'y');
	str_append_cstr(&word, "\n");
	addr_header_fold(word.data, word.len, &fold);
	str_append(&fold, "", 0);
	CHECK(fold.len == word.len + 1);
	CHECK(strstr(fold.data, "x\n y") != NULL);
	str_free(&fold);
	str_free(&word);
}

int main(void)
{
	RUN(plain_lists);
	RUN(display_names_and_quotes);
	RUN(comments_and_folding);
	RUN(groups);
	RUN(malformed);
	RUN(rewrite_in_place);
	RUN(header_section);
	RUN(fields);
	RUN(field_kinds);
	RUN(folding);
	free(result);
	return TESTING_DONE();
}

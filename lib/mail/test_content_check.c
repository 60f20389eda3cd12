/*
 * Tests of content checks: header actions (IGNORE, REPLACE, PREPEND, HOLD,
 * REJECT with and without a status code, DEFER, DISCARD, WARN), folded
 * headers looked up as one key, body lines split across pieces, the body
 * size limit, long lines, a failing table, unknown actions, the log
 * text of a decision, and the MIME structure (which tables each header
 * and line of a multipart message with an attached message goes to).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/content_check.h"
#include "util/alloc.h"
#include "util/testing.h"

/* A fake table: "prefix=value" rules; the key must start with prefix.
 * The spec "broken" fails every look-up. */
static const char *const *rules;
static struct str notes;
static struct str keys_seen;

static struct str routes; /* "spec:key|" for each look-up */

static int fake_lookup(void *ctx, const char *spec, const char *key, struct str *value)
{
	(void)ctx;
	str_printf(&keys_seen, "[%s]", key);
	str_printf(&routes, "%s:%.30s|", spec, key);
	if (strcmp(spec, "broken") == 0)
		return -1;
	for (size_t i = 0; rules && rules[i]; i++) {
		const char *eq = strchr(rules[i], '=');
		size_t n = (size_t)(eq - rules[i]);
		if (strncmp(key, rules[i], n) == 0) {
			str_set(value, eq + 1);
			return 1;
		}
	}
	return 0;
}

static void fake_note(void *ctx, const char *action, const char *part, const char *line,
                      const char *text)
{
	(void)ctx;
	str_printf(&notes, "%s %s <%s> %s;", action, part, line, text);
}

static char *header_maps[] = {"fake", NULL};
static char *body_maps[] = {"fake", NULL};

static struct content_check_config config(long long limit)
{
	struct content_check_config cfg = {.header_maps = header_maps,
	                                   .body_maps = body_maps,
	                                   .body_size_limit = limit,
	                                   .lookup = fake_lookup,
	                                   .note = fake_note};
	str_clear(&notes);
	str_clear(&keys_seen);
	return cfg;
}

/* Run a whole message (headers, then the body in pieces of step bytes). */
static char *run(struct content_check *c, const char *headers, const char *body, size_t step)
{
	struct str out = STR_INIT;
	content_check_headers(c, headers, strlen(headers), &out);
	size_t len = strlen(body);
	for (size_t at = 0; at < len; at += step)
		content_check_body(c, body + at, len - at < step ? len - at : step, &out);
	content_check_body_end(c, &out);
	return str_steal(&out);
}

TEST(header_actions)
{
	static const char *r[] = {"X-Secret:=IGNORE",
	                          "Subject: old=REPLACE Subject: new",
	                          "X-Tag:=PREPEND X-Before: 1",
	                          "X-Hold:=HOLD look at it",
	                          "X-Warn:=WARN odd",
	                          "From:=DUNNO",
	                          NULL};
	rules = r;
	struct content_check_config cfg = config(0);
	struct content_check c;
	content_check_init(&c, &cfg);
	char *out = run(&c,
	                "From: a@example.test\r\nX-Secret: 1\r\n\tfolded\r\nSubject: old\r\n"
	                "X-Tag: t\r\nX-Hold: h\r\nX-Warn: w\r\n",
	                "", 1);
	CHECK_STR(out, "From: a@example.test\r\nSubject: new\r\nX-Before: 1\r\nX-Tag: t\r\n"
	               "X-Hold: h\r\nX-Warn: w\r\n");
	CHECK(c.verdict == CONTENT_ACCEPT);
	CHECK_STR(c.hold_reason, "header X-Hold: h: look at it");
	CHECK(strstr(str_cstr(&keys_seen), "[X-Secret: 1\n\tfolded]") != NULL);
	CHECK(strstr(str_cstr(&notes), "warning header <X-Warn: w> odd;") != NULL);
	CHECK(strstr(str_cstr(&notes), "replace header <Subject: old> Subject: new;") != NULL);
	free(out);
	content_check_free(&c);
}

TEST(redirect_and_bcc)
{
	static const char *r[] = {
	    "X-Quarantine: 1=REDIRECT q@example.test", "X-Quarantine: 2=REDIRECT last@example.test",
	    "X-Copy: yes=BCC copy@example.test", "X-Bad: 1=REDIRECT two words", NULL};
	rules = r;
	struct content_check_config cfg = config(0);
	struct content_check c;
	content_check_init(&c, &cfg);
	char *out =
	    run(&c, "X-Quarantine: 1\r\nX-Copy: yes\r\nX-Quarantine: 2\r\nX-Bad: 1\r\n", "", 1);
	CHECK(c.verdict == CONTENT_ACCEPT);
	CHECK_STR(c.redirect, "last@example.test"); /* the last one counts */
	CHECK_STR(c.bcc, "copy@example.test");
	CHECK(strstr(str_cstr(&notes), "redirect header <X-Quarantine: 1> q@example.test;") !=
	      NULL);
	CHECK(strstr(str_cstr(&notes), "bcc header <X-Copy: yes> copy@example.test;") != NULL);
	CHECK(strstr(str_cstr(&notes), "unknown header <X-Bad: 1> REDIRECT two words;") != NULL);
	free(out);
	content_check_free(&c);
}

TEST(edit_only)
{
	static const char *r[] = {"X-Internal: 1=IGNORE", "Subject: spam=REJECT No spam here",
	                          "X-Hold: 1=HOLD", "X-Late: 1=REPLACE X-Late: 2", NULL};
	rules = r;
	struct content_check_config cfg = config(0);
	cfg.edit_only = true;
	struct content_check c;
	content_check_init(&c, &cfg);
	char *out = run(&c, "X-Internal: 1\r\nSubject: spam\r\nX-Hold: 1\r\nX-Late: 1\r\n", "", 1);
	/* The refusal and the hold are noted, not done: the checks go on. */
	CHECK(c.verdict == CONTENT_ACCEPT);
	CHECK(c.hold_reason == NULL);
	CHECK_STR(out, "Subject: spam\r\nX-Hold: 1\r\nX-Late: 2\r\n");
	CHECK(strstr(str_cstr(&notes), "unsupported header <Subject: spam> REJECT No spam here;") !=
	      NULL);
	free(out);
	content_check_free(&c);
}

TEST(reject_stops_checks)
{
	static const char *r[] = {"Subject: spam=REJECT No spam here", NULL};
	rules = r;
	struct content_check_config cfg = config(0);
	struct content_check c;
	content_check_init(&c, &cfg);
	char *out = run(&c, "Subject: spam\r\nTo: b\r\n", "line\r\n", 3);
	CHECK(c.verdict == CONTENT_REJECT);
	CHECK(c.code == 550);
	CHECK_STR(c.enhanced, "5.7.1");
	CHECK_STR(c.text, "No spam here");
	/* Nothing after the decision is looked up. */
	CHECK_STR(str_cstr(&keys_seen), "[Subject: spam]");
	CHECK(strstr(str_cstr(&notes), "reject header <Subject: spam> 5.7.1 No spam here;") !=
	      NULL);
	free(out);
	content_check_free(&c);

	static const char *r2[] = {"Subject: a=REJECT 5.7.9 Policy", "Subject: b=REJECT",
	                           "Subject: c=DEFER 4.2.0 later", "Subject: d=DEFER", NULL};
	const struct {
		const char *subject;
		int code;
		const char *enhanced, *text;
	} cases[] = {{"Subject: a\r\n", 550, "5.7.9", "Policy"},
	             {"Subject: b\r\n", 550, "5.7.1", "Message content rejected"},
	             {"Subject: c\r\n", 450, "4.2.0", "later"},
	             {"Subject: d\r\n", 450, "4.7.1", "Message content deferred"}};
	rules = r2;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cfg = config(0);
		content_check_init(&c, &cfg);
		free(run(&c, cases[i].subject, "", 1));
		CHECK(c.verdict == CONTENT_REJECT);
		CHECK(c.code == cases[i].code);
		CHECK_STR(c.enhanced, cases[i].enhanced);
		CHECK_STR(c.text, cases[i].text);
		content_check_free(&c);
	}
}

TEST(body_lines_in_pieces)
{
	static const char *r[] = {"drop me=IGNORE", "swap=REPLACE swapped", "pre=PREPEND added",
	                          NULL};
	rules = r;
	const char *body = "keep 1\r\ndrop me please\r\nswap this\r\npre here\r\nlast no end";
	for (size_t step = 1; step < 12; step += 5) {
		struct content_check_config cfg = config(0);
		struct content_check c;
		content_check_init(&c, &cfg);
		char *out = run(&c, "", body, step);
		CHECK_STR(out, "keep 1\r\nswapped\r\nadded\r\npre here\r\nlast no end");
		CHECK(strstr(str_cstr(&keys_seen), "[last no end]") != NULL);
		CHECK(strstr(str_cstr(&keys_seen), "[keep 1]") != NULL);
		free(out);
		content_check_free(&c);
	}
}

TEST(body_limit_and_long_lines)
{
	static const char *r[] = {"bad=DISCARD found bad", NULL};
	rules = r;
	struct content_check_config cfg = config(10);
	struct content_check c;
	content_check_init(&c, &cfg);
	char *out = run(&c, "", "123456789\r\nbad after limit\r\n", 4);
	CHECK(c.verdict == CONTENT_ACCEPT);
	CHECK_STR(out, "123456789\r\nbad after limit\r\n");
	free(out);
	content_check_free(&c);

	cfg = config(0);
	content_check_init(&c, &cfg);
	char *body = xmalloc(CONTENT_LINE_LIMIT * 2 + 20);
	memset(body, 'a', CONTENT_LINE_LIMIT + 5);
	strcpy(body + CONTENT_LINE_LIMIT + 5, "\r\nbad\r\n");
	out = run(&c, "", body, 1000);
	CHECK(c.verdict == CONTENT_DISCARD);
	CHECK_STR(c.text, "found bad");
	/* The long line was looked up in two pieces: LIMIT bytes, then 5. */
	CHECK(strstr(str_cstr(&keys_seen), "[aaaaa]") != NULL);
	free(out);
	free(body);
	content_check_free(&c);
}

TEST(failures_and_unknown_actions)
{
	static const char *r[] = {"Subject:=FROBNICATE now", "X-Empty:=REPLACE", NULL};
	rules = r;
	struct content_check_config cfg = config(0);
	struct content_check c;
	content_check_init(&c, &cfg);
	char *out = run(&c, "Subject: x\r\nX-Empty: y\r\n", "", 1);
	CHECK(c.verdict == CONTENT_ACCEPT);
	CHECK_STR(out, "Subject: x\r\nX-Empty: y\r\n");
	CHECK(strstr(str_cstr(&notes), "unknown header <Subject: x> FROBNICATE now;") != NULL);
	CHECK(strstr(str_cstr(&notes), "unknown header <X-Empty: y> REPLACE;") != NULL);
	free(out);
	content_check_free(&c);

	char *broken[] = {"broken", NULL};
	cfg = config(0);
	cfg.header_maps = broken;
	content_check_init(&c, &cfg);
	free(run(&c, "Subject: x\r\n", "body\r\n", 2));
	CHECK(c.verdict == CONTENT_FAILED);
	content_check_free(&c);

	/* Nothing configured: nothing wanted, content passes as it is. */
	cfg = config(0);
	cfg.header_maps = NULL;
	cfg.body_maps = NULL;
	CHECK(!content_check_wanted(&cfg));
	content_check_init(&c, &cfg);
	out = run(&c, "A: b\r\n", "c\r\n", 1);
	CHECK_STR(out, "A: b\r\nc\r\n");
	CHECK(keys_seen.len == 0);
	free(out);
	content_check_free(&c);
}

TEST(log_text)
{
	struct content_check_origin smtp = {"unknown[192.0.2.1]", "a@x.test", "b@y.test", "ESMTP",
	                                    "h.test"};
	struct str out = STR_INIT;
	CHECK(!content_check_log_text("reject", "header", "Subject: win\n\tbig", "5.7.1 No", &smtp,
	                              &out));
	CHECK_STR(str_cstr(&out), "reject: header Subject: win  big from unknown[192.0.2.1]; "
	                          "from=<a@x.test> to=<b@y.test> proto=ESMTP helo=<h.test>: "
	                          "5.7.1 No");
	struct content_check_origin local = {"local", "a@x.test", "b@y.test", NULL, NULL};
	str_clear(&out);
	CHECK(!content_check_log_text("hold", "body", "line", "", &local, &out));
	CHECK_STR(str_cstr(&out), "hold: body line from local; from=<a@x.test> to=<b@y.test>");
	char *long_line = xmalloc(301);
	memset(long_line, 'b', 300);
	long_line[300] = '\0';
	str_clear(&out);
	content_check_log_text("warning", "body", long_line, "w", &local, &out);
	CHECK(strstr(str_cstr(&out), "bbb... from local") != NULL);
	CHECK(strlen(str_cstr(&out)) < 300);
	str_clear(&out);
	CHECK(content_check_log_text("unknown", "header", "X-A: b", "FROB it", &local, &out));
	CHECK_STR(str_cstr(&out),
	          "header_checks: unknown action \"FROB it\" for header X-A: b; ignored");
	free(long_line);
	str_free(&out);
}

static char *hdr_maps[] = {"hdr", NULL};
static char *mime_maps[] = {"mime", NULL};
static char *nested_maps[] = {"nested", NULL};
static char *body_only_maps[] = {"body", NULL};

TEST(mime_structure)
{
	static const char *r[] = {"Content-Disposition: attachment=REPLACE X-Removed: exe", NULL};
	rules = r;
	struct content_check_config cfg = {.header_maps = hdr_maps,
	                                   .mime_header_maps = mime_maps,
	                                   .nested_header_maps = nested_maps,
	                                   .body_maps = body_only_maps,
	                                   .lookup = fake_lookup,
	                                   .note = fake_note};
	str_clear(&routes);
	struct content_check c;
	content_check_init(&c, &cfg);
	const char *headers = "Subject: s\r\nMIME-Version: 1.0\r\n"
	                      "Content-Type: multipart/mixed;\r\n\tboundary=\"outer\"\r\n";
	const char *body = "preamble\r\n"
	                   "--outer\r\n"
	                   "Content-Type: text/plain\r\n"
	                   "X-Part: p\r\n"
	                   "\r\n"
	                   "text line\r\n"
	                   "--outerX not a boundary\r\n"
	                   "--outer\r\n"
	                   "Content-Type: multipart/alternative; boundary=inner\r\n"
	                   "\r\n"
	                   "--inner\r\n"
	                   "Content-Type: message/rfc822\r\n"
	                   "\r\n"
	                   "Subject: nested\r\n"
	                   " folded\r\n"
	                   "Content-Type: text/plain\r\n"
	                   "\r\n"
	                   "nested body\r\n"
	                   "--outer\r\n" /* closes inner too */
	                   "Content-Disposition: attachment; filename=\"x.exe\"\r\n"
	                   "\r\n"
	                   "TVqQ\r\n"
	                   "--outer--\r\n"
	                   "epilogue\r\n";
	for (size_t step = 1; step <= 64; step *= 4) {
		str_clear(&routes);
		content_check_free(&c);
		content_check_init(&c, &cfg);
		char *out = run(&c, headers, body, step);
		CHECK_STR(str_cstr(&routes),
		          "hdr:Subject: s|mime:MIME-Version: 1.0|"
		          "mime:Content-Type: multipart/mixed;|"
		          "body:preamble|body:--outer|mime:Content-Type: text/plain|"
		          "mime:X-Part: p|body:text line|body:--outerX not a boundary|body:--outer|"
		          "mime:Content-Type: multipart/altern|body:--inner|"
		          "mime:Content-Type: message/rfc822|nested:Subject: nested\n folded|"
		          "mime:Content-Type: text/plain|body:nested body|body:--outer|"
		          "mime:Content-Disposition: attachmen|body:TVqQ|body:--outer--|"
		          "body:epilogue|");
		/* The attachment's header was replaced; the rest is as it was. */
		CHECK(strstr(out, "X-Removed: exe\r\n\r\nTVqQ\r\n") != NULL);
		CHECK(strstr(out, "filename") == NULL);
		CHECK(strstr(out, "Subject: nested\r\n folded\r\n") != NULL);
		CHECK(c.verdict == CONTENT_ACCEPT);
		free(out);
	}
	/* Past body_size_limit body lines are copied, headers still checked. */
	cfg.body_size_limit = 20;
	str_clear(&routes);
	content_check_free(&c);
	content_check_init(&c, &cfg);
	free(run(&c, headers, body, 7));
	CHECK(strstr(str_cstr(&routes), "body:text line") == NULL);
	CHECK(strstr(str_cstr(&routes), "mime:Content-Disposition") != NULL);
	content_check_free(&c);

	/* A boundary that never comes, a part with no end of headers, too
	 * deep nesting, and no boundary parameter: nothing breaks. */
	cfg.body_size_limit = 0;
	struct str deep = STR_INIT;
	for (int i = 0; i < CONTENT_MIME_DEPTH + 5; i++)
		str_printf(&deep, "--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n", i,
		           i + 1);
	str_append_cstr(&deep, "--b3--\r\nX-After: x\r\n");
	content_check_init(&c, &cfg);
	free(run(&c, "Content-Type: multipart/mixed; boundary=b0\r\n", str_cstr(&deep), 5));
	CHECK(c.verdict == CONTENT_ACCEPT);
	CHECK(strstr(str_cstr(&routes), "body:X-After: x") != NULL);
	content_check_free(&c);
	str_free(&deep);
	content_check_init(&c, &cfg);
	free(run(&c, "Content-Type: multipart/mixed\r\n", "--\r\nContent-Type: x\r\n", 3));
	content_check_free(&c);
	content_check_init(&c, &cfg);
	str_clear(&routes);
	free(run(&c, "Content-Type: multipart/mixed; boundary=\"q\"\r\n",
	         "--q\r\nX-Open: header never ended", 4));
	CHECK(strstr(str_cstr(&routes), "mime:X-Open: header never ended") != NULL);
	content_check_free(&c);
}

int main(void)
{
	RUN(header_actions);
	RUN(redirect_and_bcc);
	RUN(edit_only);
	RUN(reject_stops_checks);
	RUN(body_lines_in_pieces);
	RUN(body_limit_and_long_lines);
	RUN(failures_and_unknown_actions);
	RUN(log_text);
	RUN(mime_structure);
	str_free(&notes);
	str_free(&keys_seen);
	return TESTING_DONE();
}

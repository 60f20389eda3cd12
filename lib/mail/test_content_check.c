/*
 * Tests of content checks: header actions (IGNORE, REPLACE, PREPEND, HOLD,
 * REJECT with and without a status code, DEFER, DISCARD, WARN), folded
 * headers looked up as one key, body lines split across pieces, the body
 * size limit, long lines, a failing table, unknown actions, and the log
 * text of a decision.
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

static int fake_lookup(void *ctx, const char *spec, const char *key, struct str *value)
{
	(void)ctx;
	str_printf(&keys_seen, "[%s]", key);
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
	struct content_check_config cfg = {header_maps, body_maps, limit,
	                                   fake_lookup, fake_note, NULL};
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

int main(void)
{
	RUN(header_actions);
	RUN(reject_stops_checks);
	RUN(body_lines_in_pieces);
	RUN(body_limit_and_long_lines);
	RUN(failures_and_unknown_actions);
	RUN(log_text);
	str_free(&notes);
	str_free(&keys_seen);
	return TESTING_DONE();
}

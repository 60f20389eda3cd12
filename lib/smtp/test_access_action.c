/* Unit tests for access(5) actions as smtpd's access tables and policy
 * servers give them. */
#include "smtp/access_action.h"
#include "util/testing.h"

static struct access_action parse(const char *value)
{
	struct access_action a;
	access_action_parse(value, 554, 450, &a);
	return a;
}

static bool text_is(const struct access_action *a, const char *text)
{
	return a->text_len == strlen(text) && memcmp(a->text, text, a->text_len) == 0;
}

TEST(accept_and_dunno)
{
	CHECK(parse("OK").kind == ACCESS_OK);
	CHECK(parse("ok").kind == ACCESS_OK);
	CHECK(parse("OK whatever").kind == ACCESS_OK);
	CHECK(parse("250").kind == ACCESS_OK);
	CHECK(parse("250 fine").kind == ACCESS_OK);
	CHECK(parse("DUNNO").kind == ACCESS_DUNNO);
	CHECK(parse("  dunno").kind == ACCESS_DUNNO);
	CHECK(parse("OKAY").kind == ACCESS_INVALID);
	CHECK(parse("DUNNOT").kind == ACCESS_INVALID);
}

TEST(refusals)
{
	struct access_action a = parse("REJECT");
	CHECK(a.kind == ACCESS_REFUSE && a.code == 554);
	CHECK_STR(a.enhanced, "5.7.1");
	CHECK(text_is(&a, "Access denied"));
	a = parse("reject go away");
	CHECK(a.kind == ACCESS_REFUSE && a.code == 554 && text_is(&a, "go away"));
	a = parse("REJECT 5.7.0 Not here");
	CHECK_STR(a.enhanced, "5.7.0");
	CHECK(text_is(&a, "Not here"));
	a = parse("DEFER\ttry later");
	CHECK(a.kind == ACCESS_REFUSE && a.code == 450 && text_is(&a, "try later"));
	CHECK_STR(a.enhanced, "4.7.1");
	/* The status's class is the code's. */
	a = parse("DEFER 5.2.0 odd");
	CHECK_STR(a.enhanced, "4.2.0");
	access_action_parse("REJECT", 450, 450, &a);
	CHECK(a.code == 450);
	CHECK_STR(a.enhanced, "4.7.1");
	/* policyd-spf's and the numeric forms. */
	a = parse("550 5.7.23 Message rejected due to: SPF fail");
	CHECK(a.kind == ACCESS_REFUSE && a.code == 550);
	CHECK_STR(a.enhanced, "5.7.23");
	CHECK(text_is(&a, "Message rejected due to: SPF fail"));
	a = parse("450 4.7.1 try later");
	CHECK(a.code == 450 && text_is(&a, "try later"));
	CHECK_STR(a.enhanced, "4.7.1");
	a = parse("451 Busy");
	CHECK(a.code == 451 && text_is(&a, "Busy"));
	CHECK_STR(a.enhanced, "4.7.1");
	a = parse("550 4.7.0 mismatch");
	CHECK_STR(a.enhanced, "5.7.0");
	a = parse("521");
	CHECK(a.kind == ACCESS_REFUSE && a.code == 521 && text_is(&a, "Access denied"));
	/* Not a status code: part of the text. */
	a = parse("550 5.7 short");
	CHECK_STR(a.enhanced, "5.7.1");
	CHECK(text_is(&a, "5.7 short"));
	CHECK(parse("350 no").kind == ACCESS_INVALID);
	CHECK(parse("4501 no").kind == ACCESS_INVALID);
	CHECK(parse("45x no").kind == ACCESS_INVALID);
}

TEST(conditional_deferrals)
{
	/* postgrey's reply. */
	struct access_action a = parse(
	    "DEFER_IF_PERMIT 4.2.0 Greylisted, see http://postgrey.schweikert.ch/help/x.html");
	CHECK(a.kind == ACCESS_DEFER_IF_PERMIT && a.code == 450);
	CHECK_STR(a.enhanced, "4.2.0");
	CHECK(text_is(&a, "Greylisted, see http://postgrey.schweikert.ch/help/x.html"));
	a = parse("defer_if_reject");
	CHECK(a.kind == ACCESS_DEFER_IF_REJECT && a.code == 450);
	CHECK_STR(a.enhanced, "4.7.1");
	CHECK(text_is(&a, "Service unavailable"));
}

TEST(actions_that_go_on)
{
	struct access_action a = parse("HOLD for review");
	CHECK(a.kind == ACCESS_HOLD && text_is(&a, "for review"));
	a = parse("HOLD");
	CHECK(a.kind == ACCESS_HOLD && a.text_len == 0);
	a = parse("DISCARD");
	CHECK(a.kind == ACCESS_DISCARD);
	a = parse("WARN look at this");
	CHECK(a.kind == ACCESS_WARN && text_is(&a, "look at this"));
	a = parse("PREPEND X-Greylist: delayed 61 seconds by postgrey-1.37 at h; Mon");
	CHECK(a.kind == ACCESS_PREPEND);
	CHECK(text_is(&a, "X-Greylist: delayed 61 seconds by postgrey-1.37 at h; Mon"));
	a = parse("PREPEND Received-SPF: Pass (mailfrom) identity=mailfrom;");
	CHECK(a.kind == ACCESS_PREPEND);
	a = parse("PREPEND no header here");
	CHECK(a.kind == ACCESS_IGNORED && a.error != NULL);
	a = parse("PREPEND");
	CHECK(a.kind == ACCESS_IGNORED);
	a = parse("FILTER smtp:[127.0.0.1]:10025");
	CHECK(a.kind == ACCESS_FILTER);
	CHECK(text_is(&a, "smtp:[127.0.0.1]:10025"));
	CHECK(parse("filter amavis:").kind == ACCESS_FILTER);
	a = parse("FILTER");
	CHECK(a.kind == ACCESS_IGNORED && a.error != NULL);
	CHECK(a.word_len == 6 && memcmp(a.word, "FILTER", 6) == 0);
	CHECK(parse("FILTER no-colon-here").kind == ACCESS_IGNORED);
	CHECK(parse("FILTER :nexthop").kind == ACCESS_IGNORED);
	CHECK(parse("FILTER smtp:[127.0.0.1]:10025 extra").kind == ACCESS_IGNORED);
	a = parse("REDIRECT spam@example.org");
	CHECK(a.kind == ACCESS_REDIRECT && text_is(&a, "spam@example.org"));
	a = parse("bcc archive@example.org");
	CHECK(a.kind == ACCESS_BCC && text_is(&a, "archive@example.org"));
	CHECK(parse("REDIRECT").kind == ACCESS_IGNORED);
	CHECK(parse("REDIRECT a@b c@d").kind == ACCESS_IGNORED);
	CHECK(parse("REDIRECT nobody").kind == ACCESS_IGNORED);
	CHECK(parse("REDIRECT @example.org").kind == ACCESS_IGNORED);
	CHECK(parse("REDIRECT user@").kind == ACCESS_IGNORED);
	CHECK(parse("BCC <a@b>").kind == ACCESS_IGNORED);
	CHECK(parse("BCC a@b,c@d").kind == ACCESS_IGNORED);
}

TEST(invalid)
{
	struct access_action a = parse("");
	CHECK(a.kind == ACCESS_INVALID && a.error != NULL);
	a = parse("whatever this is");
	CHECK(a.kind == ACCESS_INVALID && a.error != NULL);
	CHECK(a.word_len == 8);
}

TEST(header_fields)
{
	const char *good[] = {"X-A: b", "X-A:b", "Received-SPF: Pass (x)\tmore",
	                      "X-8: caf\xc3\xa9"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		CHECK(access_header_valid(good[i], strlen(good[i])));
	const char *bad[] = {"",          ":x",        "X A: b", "X-A b",
	                     "X-A: b\rc", "X-A: b\nc", "X-A",    "X-\x7f: b"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(!access_header_valid(bad[i], strlen(bad[i])));
}

int main(void)
{
	RUN(accept_and_dunno);
	RUN(refusals);
	RUN(conditional_deferrals);
	RUN(actions_that_go_on);
	RUN(invalid);
	RUN(header_fields);
	return TESTING_DONE();
}

/* Unit tests for the SMTP reply parser and EHLO keywords. */
#include "smtp/smtp_resp.h"
#include "util/testing.h"

static enum smtp_resp_step feed(struct smtp_resp *r, const char *line, const char **error)
{
	return smtp_resp_add_line(r, line, strlen(line), error);
}

TEST(single_and_multi)
{
	struct smtp_resp r;
	struct str s = STR_INIT;
	const char *error = NULL;
	smtp_resp_init(&r);
	CHECK(feed(&r, "550 5.1.1 <a@b>: user unknown", &error) == SMTP_RESP_DONE);
	CHECK(r.code == 550);
	CHECK_STR(r.enhanced, "5.1.1");
	CHECK_STR(smtp_resp_status(&r, "5.0.0"), "5.1.1");
	smtp_resp_summary(&r, &s, 1000);
	CHECK_STR(str_cstr(&s), "550 5.1.1 <a@b>: user unknown");
	smtp_resp_clear(&r);
	CHECK(feed(&r, "250-mx.example.test hello", &error) == SMTP_RESP_MORE);
	CHECK(feed(&r, "250-PIPELINING", &error) == SMTP_RESP_MORE);
	CHECK(feed(&r, "250-SIZE 1000", &error) == SMTP_RESP_MORE);
	CHECK(feed(&r, "250-AUTH plain LOGIN", &error) == SMTP_RESP_MORE);
	CHECK(feed(&r, "250-CHUNKING", &error) == SMTP_RESP_MORE);
	CHECK(feed(&r, "250 STARTTLS", &error) == SMTP_RESP_DONE);
	struct smtp_ehlo e;
	smtp_ehlo_parse(&r, &e);
	CHECK(e.pipelining && e.chunking && e.starttls && e.size && !e.dsn && !e.eightbitmime);
	CHECK(e.size_limit == 1000);
	CHECK(smtp_ehlo_has_auth(&e, "PLAIN") && smtp_ehlo_has_auth(&e, "login"));
	CHECK(!smtp_ehlo_has_auth(&e, "CRAM-MD5"));
	smtp_ehlo_free(&e);
	/* A wrong-class enhanced code is not used. */
	smtp_resp_clear(&r);
	CHECK(feed(&r, "451 5.1.1 odd", &error) == SMTP_RESP_DONE);
	CHECK_STR(smtp_resp_status(&r, "4.0.0"), "4.0.0");
	smtp_resp_clear(&r);
	CHECK(feed(&r, "220", &error) == SMTP_RESP_DONE);
	CHECK(r.code == 220);
	str_free(&s);
	smtp_resp_free(&r);
}

TEST(bad_replies)
{
	struct smtp_resp r;
	const char *error = NULL;
	smtp_resp_init(&r);
	CHECK(feed(&r, "hello", &error) == SMTP_RESP_BAD);
	smtp_resp_clear(&r);
	CHECK(feed(&r, "25", &error) == SMTP_RESP_BAD);
	smtp_resp_clear(&r);
	CHECK(feed(&r, "650 no", &error) == SMTP_RESP_BAD);
	smtp_resp_clear(&r);
	CHECK(feed(&r, "250x", &error) == SMTP_RESP_BAD);
	smtp_resp_clear(&r);
	CHECK(feed(&r, "451-one", &error) == SMTP_RESP_MORE);
	CHECK(feed(&r, "452 two", &error) == SMTP_RESP_BAD);
	CHECK_STR(error, "inconsistent reply codes in a multi-line reply");
	smtp_resp_clear(&r);
	enum smtp_resp_step step = SMTP_RESP_MORE;
	for (int i = 0; i < SMTP_RESP_MAX_LINES + 5 && step == SMTP_RESP_MORE; i++)
		step = feed(&r, "250-more", &error);
	CHECK(step == SMTP_RESP_BAD);
	/* Control characters do not reach the logs. */
	smtp_resp_clear(&r);
	CHECK(feed(&r, "550 bad\033[0m", &error) == SMTP_RESP_DONE);
	CHECK(strchr(str_cstr(&r.text), '\033') == NULL);
	smtp_resp_free(&r);
}

TEST(soften)
{
	char a[] = "550 5.1.1 <x@y>: User unknown";
	smtp_reply_soften(a);
	CHECK_STR(a, "450 4.1.1 <x@y>: User unknown");
	char b[] = "554-5.7.1 first\r\n554 5.7.1 second";
	smtp_reply_soften(b);
	CHECK_STR(b, "454-4.7.1 first\r\n454 4.7.1 second");
	char c[] = "500 Error: command not recognized";
	smtp_reply_soften(c);
	CHECK_STR(c, "400 Error: command not recognized");
	/* Others are left alone, as is a 5 that is no code. */
	char d[] = "250 2.0.0 Ok\n451 4.3.0 later\n5 items\n550x";
	smtp_reply_soften(d);
	CHECK_STR(d, "250 2.0.0 Ok\n451 4.3.0 later\n5 items\n550x");
	char e[] = "";
	smtp_reply_soften(e);
	CHECK_STR(e, "");
}

/* The server's name in a greeting or EHLO reply. */
TEST(first_word)
{
	struct smtp_resp r;
	const char *error = NULL;
	smtp_resp_init(&r);
	CHECK(feed(&r, "220 Mx.Example.Test ESMTP ready", &error) == SMTP_RESP_DONE);
	CHECK(smtp_resp_first_word_is(&r, "mx.example.test"));
	CHECK(!smtp_resp_first_word_is(&r, "mx.example"));
	CHECK(!smtp_resp_first_word_is(&r, "mx.example.test.x"));
	CHECK(!smtp_resp_first_word_is(&r, "ESMTP"));
	CHECK(!smtp_resp_first_word_is(&r, ""));
	smtp_resp_clear(&r);
	CHECK(feed(&r, "250-mx.example.test", &error) == SMTP_RESP_MORE);
	CHECK(feed(&r, "250 PIPELINING", &error) == SMTP_RESP_DONE);
	CHECK(smtp_resp_first_word_is(&r, "MX.EXAMPLE.TEST"));
	CHECK(!smtp_resp_first_word_is(&r, "PIPELINING"));
	smtp_resp_clear(&r);
	CHECK(feed(&r, "250  mx.example.test=odd", &error) == SMTP_RESP_DONE);
	CHECK(smtp_resp_first_word_is(&r, "mx.example.test"));
	smtp_resp_clear(&r);
	CHECK(feed(&r, "220", &error) == SMTP_RESP_DONE);
	CHECK(!smtp_resp_first_word_is(&r, "mx.example.test"));
	smtp_resp_free(&r);
}

int main(void)
{
	RUN(single_and_multi);
	RUN(bad_replies);
	RUN(soften);
	RUN(first_word);
	return TESTING_DONE();
}

/* Unit tests for rbl_reply.c: Postfix's template names, the reply made
 * of a template, and what is refused. */
#include "smtp/rbl_reply.h"

#include <string.h>

#include "util/testing.h"

static const char *const postfix_default =
    "$rbl_code Service unavailable; $rbl_class [$rbl_what] blocked using "
    "$rbl_domain${rbl_reason?; $rbl_reason}";

static void values(const char *v[RBL_REPLY_VARS], const char *reason)
{
	for (size_t i = 0; i < RBL_REPLY_VARS; i++)
		v[i] = "";
	v[RBL_CODE] = "554";
	v[RBL_CLASS] = "Client host";
	v[RBL_WHAT] = "192.0.2.7";
	v[RBL_DOMAIN] = "zen.example.org";
	v[RBL_REASON] = reason;
	v[RBL_TXT] = reason;
	v[RBL_RECIPIENT] = "bob@example.net";
	v[RBL_HELO_NAME] = "bad\x01\x7fhelo";
}

TEST(postfix_default)
{
	const char *v[RBL_REPLY_VARS];
	struct rbl_reply r;
	struct str error = STR_INIT;
	values(v, "listed, see https://example.org/q?ip=192.0.2.7");
	CHECK(rbl_reply_expand(postfix_default, v, &r, &error) == 0);
	CHECK(r.code == 554);
	CHECK_STR(r.enhanced, "5.7.1");
	CHECK_STR(r.text, "Service unavailable; Client host [192.0.2.7] blocked using "
	                  "zen.example.org; listed, see https://example.org/q?ip=192.0.2.7");
	values(v, "");
	CHECK(rbl_reply_expand(postfix_default, v, &r, &error) == 0);
	CHECK_STR(r.text, "Service unavailable; Client host [192.0.2.7] blocked using "
	                  "zen.example.org");
	CHECK(rbl_reply_check(postfix_default, &error) == 0);
	str_free(&error);
}

TEST(codes_and_text)
{
	const char *v[RBL_REPLY_VARS];
	struct rbl_reply r;
	struct str error = STR_INIT;
	values(v, "");
	/* An enhanced code in the template is used, its class the reply's. */
	CHECK(rbl_reply_expand("451 5.7.9 try later, $recipient", v, &r, &error) == 0);
	CHECK(r.code == 451);
	CHECK_STR(r.enhanced, "4.7.9");
	CHECK_STR(r.text, "try later, bob@example.net");
	/* A client's control characters show as '?', but a line break in
	 * the result refuses the template; an empty text is given one. */
	CHECK(rbl_reply_expand("550 $helo_name", v, &r, &error) == 0);
	CHECK_STR(r.text, "bad??helo");
	v[RBL_HELO_NAME] = "bad\r\n250 ok";
	CHECK(rbl_reply_expand("550 $helo_name", v, &r, &error) == -1);
	CHECK_STR(str_cstr(&error), "the reply has a line break");
	CHECK(rbl_reply_expand("550 ", v, &r, &error) == 0);
	CHECK_STR(r.text, "Service unavailable");
	/* The text is cut to fit a reply line. */
	char longer[1200];
	memset(longer, 'x', sizeof(longer));
	memcpy(longer, "550 ", 4);
	longer[sizeof(longer) - 1] = '\0';
	CHECK(rbl_reply_expand(longer, v, &r, &error) == 0);
	CHECK(strlen(r.text) == RBL_REPLY_TEXT_MAX);
	str_free(&error);
}

TEST(refused)
{
	struct str error = STR_INIT;
	static const char *const bad[] = {
	    "250 fine",         "$rbl_code",  "5xx text", "550text",           "$unknown blocked",
	    "550 ${rbl_domain", "550 a\r\nb", "",         "$rbl_reason 550 x",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		str_clear(&error);
		CHECK(rbl_reply_check(bad[i], &error) == -1);
		CHECK(error.len > 0);
	}
	str_clear(&error);
	CHECK(rbl_reply_check("$unknown blocked", &error) == -1);
	CHECK(strstr(str_cstr(&error), "unknown") != NULL);
	CHECK(rbl_reply_check("450 4.7.1 $client_address is on $rbl_domain", &error) == 0);
	str_free(&error);
}

int main(void)
{
	RUN(postfix_default);
	RUN(codes_and_text);
	RUN(refused);
	return TESTING_DONE();
}

/* Unit tests for the words of smtpd_reject_sender_login_mismatch. */
#include "smtp/sender_login_mode.h"
#include "util/testing.h"

TEST(known_words)
{
	enum sender_login_mode m = SENDER_LOGIN_BOTH;
	CHECK(sender_login_mode_parse("no", &m) && m == SENDER_LOGIN_OFF);
	CHECK(sender_login_mode_parse("", &m) && m == SENDER_LOGIN_OFF);
	CHECK(sender_login_mode_parse("yes", &m) && m == SENDER_LOGIN_BOTH);
	CHECK(sender_login_mode_parse("Authenticated", &m) && m == SENDER_LOGIN_AUTHENTICATED);
	CHECK(sender_login_mode_parse("unauthenticated", &m) && m == SENDER_LOGIN_UNAUTHENTICATED);
	CHECK(sender_login_mode_parse("KNOWN", &m) && m == SENDER_LOGIN_KNOWN);
}

TEST(other_words)
{
	enum sender_login_mode m = SENDER_LOGIN_KNOWN;
	CHECK(!sender_login_mode_parse("true", &m));
	CHECK(!sender_login_mode_parse("yes ", &m));
	CHECK(!sender_login_mode_parse("auth", &m));
	CHECK(m == SENDER_LOGIN_KNOWN); /* untouched */
}

int main(void)
{
	RUN(known_words);
	RUN(other_words);
	return TESTING_DONE();
}

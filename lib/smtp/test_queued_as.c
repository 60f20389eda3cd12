/* Unit tests for smtp/queued_as: the id in an end-of-data reply. */
#include "smtp/queued_as.h"
#include "util/testing.h"

#include <string.h>

static const char *id_of(const char *text)
{
	static char out[QUEUED_AS_MAX + 1];
	smtp_reply_queued_as(text, strlen(text), out, sizeof(out));
	return out;
}

TEST(postfix_and_postern)
{
	CHECK_STR(id_of("2.0.0 Ok: queued as 4F9D3C1A2B"), "4F9D3C1A2B");
	CHECK_STR(id_of("2.0.0 Ok: queued as 0190A1B2C3D4E5F6"), "0190A1B2C3D4E5F6");
	/* Postfix's long queue ids. */
	CHECK_STR(id_of("2.0.0 Ok: queued as 4Xk9Tq0Gm5z3xyLH"), "4Xk9Tq0Gm5z3xyLH");
	/* amavis relays the next hop's reply after its own words. */
	CHECK_STR(id_of("2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as 3F2A1"),
	          "3F2A1");
}

TEST(forms)
{
	CHECK_STR(id_of("Queued As abc-12_3.x."), "abc-12_3.x");
	CHECK_STR(id_of("ok queued as X1 (and more)"), "X1");
	CHECK_STR(id_of("ok\nqueued as Y2\nthanks"), "Y2");
	/* The first one counts. */
	CHECK_STR(id_of("queued as A1, queued as B2"), "A1");
}

TEST(none)
{
	CHECK_STR(id_of(""), "");
	CHECK_STR(id_of("2.0.0 Ok"), "");
	CHECK_STR(id_of("queued as "), "");
	CHECK_STR(id_of("queued as ..."), "");
	CHECK_STR(id_of("queued as <x@y>"), "");
	CHECK_STR(id_of("queued a"), "");
	char longer[200] = "queued as ";
	memset(longer + 10, 'A', QUEUED_AS_MAX + 1);
	CHECK_STR(id_of(longer), "");
	longer[10 + QUEUED_AS_MAX] = '\0';
	CHECK_STR(id_of(longer), longer + 10);
	/* A NUL inside the text ends nothing early and reads nothing past len. */
	char out[8];
	CHECK(smtp_reply_queued_as("queued as ABCDEFGHIJ", 20, out, sizeof(out)) == 0);
	CHECK(smtp_reply_queued_as("queued\0as X", 11, out, sizeof(out)) == 0);
	CHECK(smtp_reply_queued_as("queued as XY", 11, out, sizeof(out)) == 1);
	CHECK_STR(out, "X");
}

int main(void)
{
	RUN(postfix_and_postern);
	RUN(forms);
	RUN(none);
	return TESTING_DONE();
}

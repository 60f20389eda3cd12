/* Unit tests for the POP3 command parser and the message encoder. */
#include <string.h>

#include "pop3/pop3_command.h"
#include "pop3/pop3_message.h"
#include "util/testing.h"

static int parse(const char *line, struct pop3_command *cmd, const char **error)
{
	return pop3_command_parse(line, strlen(line), cmd, error);
}

TEST(verbs)
{
	struct pop3_command c;
	const char *error = NULL;
	CHECK(parse("stat", &c, &error) == 0);
	CHECK(c.verb == POP3_STAT);
	pop3_command_free(&c);
	CHECK(parse("Capa", &c, &error) == 0);
	CHECK(c.verb == POP3_CAPA);
	pop3_command_free(&c);
	CHECK(parse("XYZZY 1 2", &c, &error) == 0);
	CHECK(c.verb == POP3_UNKNOWN);
	pop3_command_free(&c);
	CHECK(parse("STATUS", &c, &error) == 0);
	CHECK(c.verb == POP3_UNKNOWN);
	pop3_command_free(&c);
	CHECK(parse("", &c, &error) == -1);
	CHECK(parse(" STAT", &c, &error) == -1);
	CHECK(pop3_command_parse("ST\0AT", 5, &c, &error) == -1);
	CHECK(parse("STAT\r", &c, &error) == -1);
	CHECK(parse("STAT 1", &c, &error) == -1);
	CHECK(parse("NOOP x", &c, &error) == -1);
	CHECK(parse("QUIT", &c, &error) == 0);
	CHECK(c.verb == POP3_QUIT);
	pop3_command_free(&c);
	CHECK_STR(pop3_verb_name(POP3_TOP), "TOP");
}

TEST(user_pass)
{
	struct pop3_command c;
	const char *error = NULL;
	CHECK(parse("USER alice@example.test  ", &c, &error) == 0);
	CHECK_STR(c.arg, "alice@example.test");
	pop3_command_free(&c);
	CHECK(parse("USER", &c, &error) == -1);
	CHECK(parse("USER   ", &c, &error) == -1);
	CHECK(parse("PASS secret with  spaces ", &c, &error) == 0);
	CHECK_STR(c.arg, "secret with  spaces ");
	pop3_command_free(&c);
	CHECK(parse("PASS", &c, &error) == -1);
	CHECK(parse("PASS ", &c, &error) == -1);
}

TEST(numbers)
{
	struct pop3_command c;
	const char *error = NULL;
	CHECK(parse("LIST", &c, &error) == 0);
	CHECK(c.verb == POP3_LIST && !c.has_msg);
	pop3_command_free(&c);
	CHECK(parse("LIST 12", &c, &error) == 0);
	CHECK(c.has_msg && c.msg == 12);
	pop3_command_free(&c);
	CHECK(parse("RETR 0", &c, &error) == -1);
	CHECK(parse("RETR", &c, &error) == -1);
	CHECK(parse("RETR -1", &c, &error) == -1);
	CHECK(parse("RETR +1", &c, &error) == -1);
	CHECK(parse("RETR 1x", &c, &error) == -1);
	CHECK(parse("RETR 99999999999999999999", &c, &error) == -1);
	CHECK(parse("DELE 1 2", &c, &error) == -1);
	CHECK(parse("TOP 3 0", &c, &error) == 0);
	CHECK(c.verb == POP3_TOP && c.msg == 3 && c.lines == 0);
	pop3_command_free(&c);
	CHECK(parse("TOP 3", &c, &error) == -1);
	CHECK(parse("TOP 3 a", &c, &error) == -1);
	CHECK(parse("TOP 3 4 5", &c, &error) == -1);
	CHECK(parse("UIDL 7", &c, &error) == 0);
	CHECK(c.has_msg && c.msg == 7);
	pop3_command_free(&c);
}

TEST(auth)
{
	struct pop3_command c;
	const char *error = NULL;
	CHECK(parse("AUTH", &c, &error) == 0);
	CHECK_STR(c.arg, "");
	CHECK(c.initial == NULL);
	pop3_command_free(&c);
	CHECK(parse("AUTH PLAIN", &c, &error) == 0);
	CHECK_STR(c.arg, "PLAIN");
	CHECK(c.initial == NULL);
	pop3_command_free(&c);
	CHECK(parse("AUTH PLAIN AGFsaWNlAHNlY3JldA==", &c, &error) == 0);
	CHECK_STR(c.initial, "AGFsaWNlAHNlY3JldA==");
	pop3_command_free(&c);
	CHECK(parse("AUTH PLAIN a b", &c, &error) == -1);
}

static const char *encode(const char *in, long lines, size_t chunk)
{
	static struct str out;
	str_clear(&out);
	struct pop3_encoder e;
	pop3_encoder_init(&e, lines);
	size_t len = strlen(in);
	for (size_t i = 0; i < len; i += chunk)
		pop3_encoder_feed(&e, in + i, len - i < chunk ? len - i : chunk, &out);
	pop3_encoder_finish(&e, &out);
	return str_cstr(&out);
}

TEST(encoder)
{
	for (size_t chunk = 1; chunk < 8; chunk++) {
		CHECK_STR(encode("A: b\r\n\r\nbody\r\n", -1, chunk), "A: b\r\n\r\nbody\r\n.\r\n");
		CHECK_STR(encode("A: b\n\n.dot\n..two\nend", -1, chunk),
		          "A: b\r\n\r\n..dot\r\n...two\r\nend\r\n.\r\n");
		CHECK_STR(encode(".\r\n", -1, chunk), "..\r\n.\r\n");
		CHECK_STR(encode("a\rb\r\n", -1, chunk), "a\rb\r\n.\r\n");
		CHECK_STR(encode("", -1, chunk), ".\r\n");
		CHECK_STR(encode("x\r", -1, chunk), "x\r\n.\r\n");
		CHECK_STR(encode("H: 1\r\nH: 2\r\n\r\nl1\r\nl2\r\nl3\r\n", 0, chunk),
		          "H: 1\r\nH: 2\r\n\r\n.\r\n");
		CHECK_STR(encode("H: 1\r\nH: 2\r\n\r\nl1\r\n.l2\r\nl3\r\n", 2, chunk),
		          "H: 1\r\nH: 2\r\n\r\nl1\r\n..l2\r\n.\r\n");
		CHECK_STR(encode("H: 1\n\nl1", 5, chunk), "H: 1\r\n\r\nl1\r\n.\r\n");
		CHECK_STR(encode("H: 1\nH: 2\n", 0, chunk), "H: 1\r\nH: 2\r\n.\r\n");
		CHECK_STR(encode("\xe4\xf6\r\n\r\n\xff\n", -1, chunk),
		          "\xe4\xf6\r\n\r\n\xff\r\n.\r\n");
	}
}

int main(void)
{
	RUN(verbs);
	RUN(user_pass);
	RUN(numbers);
	RUN(auth);
	RUN(encoder);
	return TESTING_DONE();
}

/* Unit tests: milter framing, reply decoding, the filter list syntax and
 * header/body edits on a message. */
#include <stdlib.h>
#include <string.h>

#include "milter/milter.h"
#include "milter/milter_edit.h"
#include "util/testing.h"

static struct str packet(char cmd, const void *data, size_t len)
{
	struct str s = STR_INIT;
	milter_packet_append(&s, cmd, data, len);
	return s;
}

TEST(split_and_parse)
{
	struct str s = packet('y', "451 4.7.1 later\0", 16);
	struct milter_packet p;
	size_t used;
	const char *error;
	CHECK(milter_packet_split(s.data, s.len - 1, MILTER_MAX_PACKET, &p, &used, &error) == 0);
	CHECK(milter_packet_split(s.data, s.len, MILTER_MAX_PACKET, &p, &used, &error) == 1);
	CHECK(used == s.len);
	struct milter_reply r;
	CHECK(milter_reply_parse(&p, &r, &error) == 0);
	CHECK(r.code == 451);
	CHECK_STR(r.text, "451 4.7.1 later");
	milter_reply_free(&r);
	str_free(&s);
	/* Mixed codes, a 2xx, a line after the last one: all refused. */
	const char *bad[] = {"550-5.7.1 a\r\n451 4.7.1 b", "250 ok", "550 a\r\n550 b", "55",
	                     "550-a"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s = packet('y', bad[i], strlen(bad[i]) + 1);
		milter_packet_split(s.data, s.len, MILTER_MAX_PACKET, &p, &used, &error);
		CHECK(milter_reply_parse(&p, &r, &error) == -1);
		str_free(&s);
	}
	s = packet('y', "550-5.7.1 a\r\n550 5.7.1 b", 25);
	milter_packet_split(s.data, s.len, MILTER_MAX_PACKET, &p, &used, &error);
	CHECK(milter_reply_parse(&p, &r, &error) == 0 && r.code == 550);
	milter_reply_free(&r);
	str_free(&s);
	/* A zero length and an oversized length are errors. */
	CHECK(milter_packet_split("\0\0\0\0x", 5, MILTER_MAX_PACKET, &p, &used, &error) == -1);
	CHECK(milter_packet_split("\x7f\0\0\0x", 5, MILTER_MAX_PACKET, &p, &used, &error) == -1);
	/* Unknown command, header without a NUL. */
	s = packet('Z', NULL, 0);
	milter_packet_split(s.data, s.len, MILTER_MAX_PACKET, &p, &used, &error);
	CHECK(milter_reply_parse(&p, &r, &error) == -1);
	str_free(&s);
	s = packet('h', "X-A\0val", 7);
	milter_packet_split(s.data, s.len, MILTER_MAX_PACKET, &p, &used, &error);
	CHECK(milter_reply_parse(&p, &r, &error) == -1);
	str_free(&s);
}

TEST(specs)
{
	struct milter_defaults d = {.protocol = 6,
	                            .connect_ms = 1000,
	                            .command_ms = 2000,
	                            .content_ms = 3000,
	                            .default_action = MILTER_TEMPFAIL};
	struct milter_spec *specs;
	size_t count;
	const char *error;
	CHECK(milter_specs_parse("unix:/a, { inet:127.0.0.1:99, command_timeout=5s, "
	                         "default_action=accept, protocol=2 } inet:[::1]:7",
	                         &d, &specs, &count, &error) == 0);
	CHECK(count == 3);
	CHECK_STR(specs[0].address, "unix:/a");
	CHECK(specs[0].command_ms == 2000);
	CHECK_STR(specs[1].address, "inet:127.0.0.1:99");
	CHECK(specs[1].command_ms == 5000 && specs[1].content_ms == 3000);
	CHECK(specs[1].default_action == MILTER_ACCEPT && specs[1].protocol == 2);
	CHECK_STR(specs[2].address, "inet:[::1]:7");
	milter_specs_free(specs, count);
	CHECK(milter_specs_parse("", &d, &specs, &count, &error) == 0 && count == 0);
	free(specs);
	const char *bad[] = {"tcp:x:1",   "{ unix:/a, colour=red }",           "{ unix:/a",
	                     "unix:/a }", "{ unix:/a, default_action=maybe }", "inet:host",
	                     "{ }"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(milter_specs_parse(bad[i], &d, &specs, &count, &error) == -1);
}

TEST(message_edits)
{
	const char text[] = "Received: from a\r\n\tby b\r\nSubject: one\r\nX-Two: 1\r\nx-two: 2\r\n"
	                    "\r\nbody\r\n";
	struct milter_message m;
	milter_message_parse(&m, text, sizeof(text) - 1);
	CHECK(m.count == 4);
	struct str v = STR_INIT;
	milter_header_value(&m.headers[0], false, &v);
	CHECK_STR(str_cstr(&v), "from a\n\tby b");
	str_clear(&v);
	milter_header_value(&m.headers[1], true, &v);
	CHECK_STR(str_cstr(&v), " one");
	str_free(&v);
	milter_message_change_header(&m, 2, "X-Two", "", false); /* delete the second */
	milter_message_change_header(&m, 1, "Subject", "two\nlines", false);
	milter_message_change_header(&m, 5, "X-New", "added", false); /* not there: added */
	milter_message_insert_header(&m, 1, "X-Ins", "here", false);
	milter_message_add_header(&m, "X-Lead", " spaced", true);
	milter_message_set_body(&m, "a\nb\r\nc", 6);
	struct str out = STR_INIT;
	milter_message_write(&m, &out);
	CHECK_STR(str_cstr(&out), "Received: from a\r\n\tby b\r\nX-Ins: here\r\nSubject: two\r\n"
	                          "\tlines\r\nX-Two: 1\r\nX-New: added\r\nX-Lead: spaced\r\n\r\n"
	                          "a\r\nb\r\nc");
	str_free(&out);
	milter_message_free(&m);
}

TEST(envelope_edits)
{
	struct queue_envelope env;
	queue_envelope_init(&env);
	env.sender = strdup("old@x");
	queue_envelope_add_rcpt(&env, "a@x", "", "");
	queue_envelope_add_rcpt(&env, "B@x", "", "");
	struct milter_message m;
	milter_message_parse(&m, "", 0);
	struct milter_reply r = {.cmd = SMFIR_DELRCPT, .name = "<b@x>"};
	const char *error;
	CHECK(milter_edit_apply(&r, false, &m, &env, &error) == 0);
	CHECK(env.rcpt_count == 1);
	r = (struct milter_reply){.cmd = SMFIR_ADDRCPT_PAR,
	                          .name = "<c@x>",
	                          .value = "NOTIFY=NEVER ORCPT=rfc822;c+2Bd@x"};
	CHECK(milter_edit_apply(&r, false, &m, &env, &error) == 0);
	CHECK(env.rcpt_count == 2);
	CHECK_STR(env.rcpts[1].notify, "NEVER");
	CHECK_STR(env.rcpts[1].orcpt, "rfc822;c+d@x");
	r = (struct milter_reply){.cmd = SMFIR_CHGFROM, .name = "<>", .value = "RET=HDRS"};
	CHECK(milter_edit_apply(&r, false, &m, &env, &error) == 0);
	CHECK_STR(env.sender, "");
	CHECK_STR(env.ret, "HDRS");
	r = (struct milter_reply){.cmd = SMFIR_ADDRCPT, .name = "<bad\r\n@x>"};
	CHECK(milter_edit_apply(&r, false, &m, &env, &error) == -1);
	milter_message_free(&m);
	queue_envelope_free(&env);
}

int main(void)
{
	RUN(split_and_parse);
	RUN(specs);
	RUN(message_edits);
	RUN(envelope_edits);
	return testing_failures ? 1 : 0;
}

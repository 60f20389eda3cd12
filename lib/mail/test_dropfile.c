/*
 * Unit tests for the maildrop file: writing and reading back (in memory
 * and through a pipe), and rejection of every kind of damaged, truncated,
 * malformed or dishonest file the parser promises to refuse.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "mail/dropfile.h"
#include "util/alloc.h"
#include "util/ipc.h"
#include "util/str.h"
#include "util/testing.h"

static const char message[] = "From: alice@example.test\r\n"
                              "Subject: hi\r\n"
                              "\r\n"
                              "hello\r\n";

static void sample_envelope(struct drop_envelope *env)
{
	drop_envelope_init(env);
	env->uid = 1000;
	env->time = 1700000000;
	drop_envelope_set(&env->user, "alice");
	drop_envelope_set(&env->sender, "alice@example.test");
	drop_envelope_set(&env->full_name, "Alice Liddell");
	drop_envelope_set(&env->ret, "HDRS");
	drop_envelope_set(&env->envid, "QQ314159");
	drop_envelope_set(&env->body, "8BITMIME");
	drop_envelope_add_rcpt(env, "bob@example.test", "rfc822;bob@example.test", "SUCCESS,DELAY");
	drop_envelope_add_rcpt(env, "carol@example.org", "", "");
}

static void sample_file(struct str *out)
{
	struct drop_envelope env;
	sample_envelope(&env);
	drop_encode(&env, message, strlen(message), out);
	drop_envelope_free(&env);
}

static int parse_str(const struct str *s, const char **error_r)
{
	struct drop_envelope env;
	size_t offset;
	int rc = drop_parse(s->data, s->len, &env, &offset, error_r);
	if (rc == 0)
		drop_envelope_free(&env);
	return rc;
}

/* Hand-made records, for files the writer would never produce. */
static void add_rec(struct str *out, struct ipc_rec *rec)
{
	ipc_rec_encode(rec, out);
	ipc_rec_free(rec);
}

static struct ipc_rec *drop_rec(void)
{
	struct ipc_rec *rec = ipc_rec_new("drop");
	ipc_rec_add_int(rec, "uid", 1000);
	ipc_rec_add_str(rec, "user", "alice");
	ipc_rec_add_int(rec, "time", 1700000000);
	ipc_rec_add_str(rec, "sender", "alice@example.test");
	ipc_rec_add_str(rec, "full_name", "");
	ipc_rec_add_str(rec, "ret", "");
	ipc_rec_add_str(rec, "envid", "");
	ipc_rec_add_str(rec, "body", "");
	return rec;
}

static struct ipc_rec *rcpt_rec(const char *address)
{
	struct ipc_rec *rec = ipc_rec_new("rcpt");
	ipc_rec_add_str(rec, "address", address);
	ipc_rec_add_str(rec, "orcpt", "");
	ipc_rec_add_str(rec, "notify", "");
	return rec;
}

static void add_content(struct str *out, const char *content, size_t len)
{
	struct ipc_rec *rec = ipc_rec_new("content");
	ipc_rec_add_int(rec, "size", (int64_t)len);
	add_rec(out, rec);
	str_append(out, content, len);
	drop_encode_tail((uint32_t)crc32_z(crc32(0L, Z_NULL, 0), (const Bytef *)content, len), out);
}

/* A file with the given drop record, one recipient (if rcpt) and a valid content. */
static int parse_with_drop(struct ipc_rec *drop, const char *rcpt, const char **error_r)
{
	struct str s = STR_INIT;
	str_append_cstr(&s, DROP_MAGIC);
	add_rec(&s, drop);
	if (rcpt)
		add_rec(&s, rcpt_rec(rcpt));
	add_content(&s, message, strlen(message));
	int rc = parse_str(&s, error_r);
	str_free(&s);
	return rc;
}

TEST(round_trip)
{
	struct str s = STR_INIT;
	sample_file(&s);
	struct drop_envelope env;
	size_t offset = 0;
	const char *error = NULL;
	CHECK(drop_parse(s.data, s.len, &env, &offset, &error) == 0);
	CHECK(env.uid == 1000 && env.time == 1700000000);
	CHECK_STR(env.user, "alice");
	CHECK_STR(env.sender, "alice@example.test");
	CHECK_STR(env.full_name, "Alice Liddell");
	CHECK_STR(env.ret, "HDRS");
	CHECK_STR(env.envid, "QQ314159");
	CHECK_STR(env.body, "8BITMIME");
	CHECK(!env.smtputf8 && !env.verify_report);
	CHECK(env.rcpt_count == 2);
	CHECK_STR(env.rcpts[0].address, "bob@example.test");
	CHECK_STR(env.rcpts[0].orcpt, "rfc822;bob@example.test");
	CHECK_STR(env.rcpts[0].notify, "SUCCESS,DELAY");
	CHECK_STR(env.rcpts[1].address, "carol@example.org");
	CHECK(env.size == (int64_t)strlen(message));
	CHECK(offset + (size_t)env.size < s.len);
	CHECK(memcmp(s.data + offset, message, strlen(message)) == 0);
	CHECK(env.crc == (uint32_t)crc32(0L, (const Bytef *)message, (uInt)strlen(message)));
	drop_envelope_free(&env);
	str_free(&s);
}

TEST(verify_report_round_trip)
{
	struct drop_envelope env;
	sample_envelope(&env);
	env.verify_report = true;
	env.trace_report = true;
	struct str s = STR_INIT;
	drop_encode(&env, "", 0, &s);
	drop_envelope_free(&env);
	const char *error = NULL;
	size_t offset;
	CHECK(drop_parse(s.data, s.len, &env, &offset, &error) == 0);
	CHECK(env.verify_report && env.trace_report);
	drop_envelope_free(&env);
	str_free(&s);
}

TEST(null_sender_and_empty_content)
{
	struct drop_envelope env;
	sample_envelope(&env);
	drop_envelope_set(&env.sender, "");
	struct str s = STR_INIT;
	drop_encode(&env, "", 0, &s);
	drop_envelope_free(&env);
	const char *error = NULL;
	size_t offset;
	CHECK(drop_parse(s.data, s.len, &env, &offset, &error) == 0);
	CHECK_STR(env.sender, "");
	CHECK(env.size == 0);
	drop_envelope_free(&env);
	str_free(&s);
}

TEST(smtputf8)
{
	struct drop_envelope env;
	sample_envelope(&env);
	drop_envelope_add_rcpt(&env,
	                       "j\xc3\xb6rg@b\xc3\xbc"
	                       "cher.example",
	                       "", "");
	const char *error = NULL;
	CHECK(drop_envelope_check(&env, &error) == -1);
	CHECK(error != NULL && strstr(error, "recipient 3") != NULL);
	env.smtputf8 = true;
	CHECK(drop_envelope_check(&env, &error) == 0);
	struct str s = STR_INIT;
	drop_encode(&env, message, strlen(message), &s);
	CHECK(parse_str(&s, &error) == 0);
	drop_envelope_free(&env);
	str_free(&s);
}

TEST(every_prefix_is_incomplete)
{
	struct str s = STR_INIT;
	sample_file(&s);
	struct drop_envelope env;
	size_t offset = 0, content_offset = 0;
	const char *error = NULL;
	CHECK(drop_parse_head(s.data, s.len, &env, &content_offset, &error) == 1);
	drop_envelope_free(&env);
	int failures = 0;
	for (size_t len = 0; len < s.len; len++) {
		if (drop_parse(s.data, len, &env, &offset, &error) != -1)
			failures++;
		int rc = drop_parse_head(s.data, len, &env, &offset, &error);
		if (rc == 1)
			drop_envelope_free(&env);
		if ((len < content_offset && rc != 0) || (len >= content_offset && rc != 1))
			failures++;
	}
	CHECK(failures == 0);
	str_free(&s);
}

TEST(every_flipped_byte_is_caught_or_harmless)
{
	/* Flipping any one bit must never crash; flips in the content or the
	 * crc are always caught by the checksum. */
	struct str s = STR_INIT;
	sample_file(&s);
	struct drop_envelope env;
	size_t offset = 0;
	const char *error = NULL;
	CHECK(drop_parse(s.data, s.len, &env, &offset, &error) == 0);
	drop_envelope_free(&env);
	int missed = 0;
	for (size_t i = offset; i < s.len; i++) {
		s.data[i] ^= 0x01;
		if (parse_str(&s, &error) != -1)
			missed++;
		s.data[i] ^= 0x01;
	}
	CHECK(missed == 0);
	for (size_t i = 0; i < offset; i++) {
		s.data[i] ^= 0x40;
		(void)parse_str(&s, &error);
		s.data[i] ^= 0x40;
	}
	str_free(&s);
}

TEST(bad_magic)
{
	const char *error = NULL;
	struct drop_envelope env;
	size_t offset;
	CHECK(drop_parse_head("POSTERN-DROP 2\n", 15, &env, &offset, &error) == -1);
	CHECK(drop_parse_head("POSTERN-QUEUE 1\n", 16, &env, &offset, &error) == -1);
	CHECK(drop_parse_head("POST", 4, &env, &offset, &error) == 0);
	CHECK(drop_parse_head("XOST", 4, &env, &offset, &error) == -1);
	CHECK(drop_parse_head("", 0, &env, &offset, &error) == 0);
}

TEST(attribute_rules)
{
	const char *error = NULL;
	struct ipc_rec *rec = drop_rec();
	/* Missing smtputf8. */
	CHECK(parse_with_drop(rec, "bob@example.test", &error) == -1);
	CHECK(error != NULL && strstr(error, "smtputf8") != NULL);

	rec = drop_rec();
	ipc_rec_add_int(rec, "smtputf8", 0);
	CHECK(parse_with_drop(rec, "bob@example.test", &error) == 0);

	rec = drop_rec();
	ipc_rec_add_int(rec, "smtputf8", 0);
	ipc_rec_add_str(rec, "extra", "x");
	CHECK(parse_with_drop(rec, "bob@example.test", &error) == -1);
	CHECK(strstr(error, "unknown attribute") != NULL);

	rec = drop_rec();
	ipc_rec_add_int(rec, "smtputf8", 0);
	ipc_rec_add_int(rec, "uid", 5);
	CHECK(parse_with_drop(rec, "bob@example.test", &error) == -1);
	CHECK(strstr(error, "repeated") != NULL);

	rec = drop_rec();
	ipc_rec_add_str(rec, "smtputf8", "0");
	CHECK(parse_with_drop(rec, "bob@example.test", &error) == -1);
	CHECK(strstr(error, "wrong type") != NULL);

	/* verify_report (sendmail -bv): optional, once, 0 or 1. */
	rec = drop_rec();
	ipc_rec_add_int(rec, "smtputf8", 0);
	ipc_rec_add_int(rec, "verify_report", 1);
	CHECK(parse_with_drop(rec, "bob@example.test", &error) == 0);
	rec = drop_rec();
	ipc_rec_add_int(rec, "smtputf8", 0);
	ipc_rec_add_int(rec, "verify_report", 1);
	ipc_rec_add_int(rec, "verify_report", 1);
	CHECK(parse_with_drop(rec, "bob@example.test", &error) == -1);
	CHECK(strstr(error, "repeated") != NULL);
	rec = drop_rec();
	ipc_rec_add_int(rec, "smtputf8", 0);
	ipc_rec_add_int(rec, "verify_report", 2);
	CHECK(parse_with_drop(rec, "bob@example.test", &error) == -1);
	CHECK(strstr(error, "verify_report") != NULL);
	rec = drop_rec();
	ipc_rec_add_int(rec, "smtputf8", 0);
	ipc_rec_add_int(rec, "trace_report", 1);
	ipc_rec_add_int(rec, "verify_report", 0);
	CHECK(parse_with_drop(rec, "bob@example.test", &error) == 0);
	rec = drop_rec();
	ipc_rec_add_int(rec, "smtputf8", 0);
	ipc_rec_add_int(rec, "trace_report", 3);
	CHECK(parse_with_drop(rec, "bob@example.test", &error) == -1);
	CHECK(strstr(error, "trace_report") != NULL);
	/* The optional ones do not make smtputf8 optional. */
	rec = drop_rec();
	ipc_rec_add_int(rec, "verify_report", 1);
	CHECK(parse_with_drop(rec, "bob@example.test", &error) == -1);
	CHECK(error != NULL && strstr(error, "smtputf8") != NULL);
	rec = drop_rec();
	ipc_rec_add_int(rec, "smtputf8", 0);
	ipc_rec_add_str(rec, "verify_report", "probe");
	CHECK(parse_with_drop(rec, "bob@example.test", &error) == -1);
	CHECK(strstr(error, "wrong type") != NULL);

	rec = drop_rec();
	ipc_rec_add_int(rec, "smtputf8", 2);
	CHECK(parse_with_drop(rec, "bob@example.test", &error) == -1);

	rec = drop_rec();
	ipc_rec_add_int(rec, "smtputf8", 0);
	CHECK(parse_with_drop(rec, NULL, &error) == -1);
	CHECK_STR(error, "no recipients");
}

static int parse_with_field(const char *name, const char *value, const char **error_r)
{
	struct drop_envelope env;
	sample_envelope(&env);
	if (strcmp(name, "sender") == 0)
		drop_envelope_set(&env.sender, value);
	else if (strcmp(name, "user") == 0)
		drop_envelope_set(&env.user, value);
	else if (strcmp(name, "full_name") == 0)
		drop_envelope_set(&env.full_name, value);
	else if (strcmp(name, "ret") == 0)
		drop_envelope_set(&env.ret, value);
	else if (strcmp(name, "envid") == 0)
		drop_envelope_set(&env.envid, value);
	else if (strcmp(name, "body") == 0)
		drop_envelope_set(&env.body, value);
	else if (strcmp(name, "rcpt") == 0)
		drop_envelope_add_rcpt(&env, value, "", "");
	else if (strcmp(name, "notify") == 0)
		drop_envelope_add_rcpt(&env, "dave@example.test", "", value);
	else if (strcmp(name, "orcpt") == 0)
		drop_envelope_add_rcpt(&env, "dave@example.test", value, "");
	struct str s = STR_INIT;
	drop_encode(&env, message, strlen(message), &s);
	drop_envelope_free(&env);
	int rc = parse_str(&s, error_r);
	str_free(&s);
	return rc;
}

TEST(field_validation)
{
	const char *e = NULL;
	static const struct {
		const char *name, *value;
		int rc;
	} cases[] = {
	    {"sender", "alice@EXAMPLE.test", -1}, /* not canonical */
	    {"sender", "alice", -1},              /* unqualified */
	    {"sender", "<alice@example.test>", -1},
	    {"sender", "a b@example.test", -1},
	    {"sender", "\"a b\"@example.test", 0},
	    {"user", "", -1},
	    {"user", "al ice", -1},
	    {"user", "al\nice", -1},
	    {"full_name", "Alice\r\nBcc: eve@example.test", -1},
	    {"full_name", "J\xc3\xb6rg", 0},
	    {"full_name", "bad \xff utf8", -1},
	    {"ret", "FULL", 0},
	    {"ret", "full", -1},
	    {"envid", "a b", 0},
	    {"envid", "tab\there", -1},
	    {"body", "7BIT", 0},
	    {"body", "BINARYMIME", -1},
	    {"rcpt", "", -1},
	    {"rcpt", "postmaster", -1},
	    {"rcpt", "dave@[192.0.2.1]", 0},
	    {"notify", "NEVER", 0},
	    {"notify", "FAILURE", 0},
	    {"notify", "SUCCESS,FAILURE,DELAY", 0},
	    {"notify", "NEVER,SUCCESS", -1},
	    {"notify", "SUCCESS,SUCCESS", -1},
	    {"notify", "SUCCESS,", -1},
	    {"notify", "success", -1},
	    {"orcpt", "rfc822;dave@example.test", 0},
	    {"orcpt", "dave@example.test", -1},
	    {"orcpt", ";dave", -1},
	    {"orcpt", "rfc822;a\rb", -1},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = parse_with_field(cases[i].name, cases[i].value, &e);
		if (rc != cases[i].rc)
			fprintf(stderr, "case %s=\"%s\": rc %d (%s)\n", cases[i].name,
			        cases[i].value, rc, rc ? e : "ok");
		CHECK(rc == cases[i].rc);
	}
	char long_envid[DROP_MAX_ENVID + 2];
	memset(long_envid, 'x', sizeof(long_envid) - 1);
	long_envid[sizeof(long_envid) - 1] = '\0';
	CHECK(parse_with_field("envid", long_envid, &e) == -1);
	long_envid[DROP_MAX_ENVID] = '\0';
	CHECK(parse_with_field("envid", long_envid, &e) == 0);
}

TEST(numeric_ranges)
{
	struct drop_envelope env;
	const char *error = NULL;
	sample_envelope(&env);
	env.uid = -1;
	CHECK(drop_envelope_check(&env, &error) == -1);
	env.uid = 0xFFFFFFFFLL;
	CHECK(drop_envelope_check(&env, &error) == -1);
	env.uid = 0;
	CHECK(drop_envelope_check(&env, &error) == 0);
	env.time = -5;
	CHECK(drop_envelope_check(&env, &error) == -1);
	drop_envelope_free(&env);
}

TEST(record_order)
{
	const char *error = NULL;
	struct str s = STR_INIT;
	/* rcpt before drop */
	str_append_cstr(&s, DROP_MAGIC);
	add_rec(&s, rcpt_rec("bob@example.test"));
	struct ipc_rec *d = drop_rec();
	ipc_rec_add_int(d, "smtputf8", 0);
	add_rec(&s, d);
	add_content(&s, message, strlen(message));
	CHECK(parse_str(&s, &error) == -1);
	CHECK(strstr(error, "first record") != NULL);
	/* an unknown record in the envelope */
	str_clear(&s);
	str_append_cstr(&s, DROP_MAGIC);
	d = drop_rec();
	ipc_rec_add_int(d, "smtputf8", 0);
	add_rec(&s, d);
	add_rec(&s, rcpt_rec("bob@example.test"));
	add_rec(&s, ipc_rec_new("header"));
	add_content(&s, message, strlen(message));
	CHECK(parse_str(&s, &error) == -1);
	/* two drop records */
	str_clear(&s);
	str_append_cstr(&s, DROP_MAGIC);
	for (int i = 0; i < 2; i++) {
		d = drop_rec();
		ipc_rec_add_int(d, "smtputf8", 0);
		add_rec(&s, d);
	}
	add_rec(&s, rcpt_rec("bob@example.test"));
	add_content(&s, message, strlen(message));
	CHECK(parse_str(&s, &error) == -1);
	str_free(&s);
}

static int parse_content(const char *content, size_t len, const char **error_r)
{
	struct str s = STR_INIT;
	str_append_cstr(&s, DROP_MAGIC);
	struct ipc_rec *d = drop_rec();
	ipc_rec_add_int(d, "smtputf8", 0);
	add_rec(&s, d);
	add_rec(&s, rcpt_rec("bob@example.test"));
	add_content(&s, content, len);
	int rc = parse_str(&s, error_r);
	str_free(&s);
	return rc;
}

TEST(content_line_ends)
{
	const char *error = NULL;
	CHECK(parse_content("a\r\nb\r\n", 6, &error) == 0);
	CHECK(parse_content("", 0, &error) == 0);
	CHECK(parse_content("a\nb\r\n", 5, &error) == -1);
	CHECK_STR(error, "bare LF in the content");
	CHECK(parse_content("a\rb\r\n", 5, &error) == -1);
	CHECK_STR(error, "bare CR in the content");
	CHECK(parse_content("a\r\nb", 4, &error) == -1);
	CHECK_STR(error, "content does not end with CRLF");
	CHECK(parse_content("a\r\n\r", 4, &error) == -1);
	CHECK(parse_content("\n", 1, &error) == -1);
	CHECK(parse_content("a\r\n\0b\r\n", 7, &error) == 0);

	/* Fed in pieces split between CR and LF. */
	struct drop_content_check c;
	drop_content_check_init(&c);
	CHECK(drop_content_check_feed(&c, "ab\r", 3, &error) == 0);
	CHECK(drop_content_check_feed(&c, "\ncd\r", 4, &error) == 0);
	CHECK(drop_content_check_finish(&c, &error) == -1);
	drop_content_check_init(&c);
	CHECK(drop_content_check_feed(&c, "ab\r", 3, &error) == 0);
	CHECK(drop_content_check_feed(&c, "\n", 1, &error) == 0);
	CHECK(drop_content_check_finish(&c, &error) == 0);
	CHECK(c.seen == 4);
	CHECK(c.crc == (uint32_t)crc32(0L, (const Bytef *)"ab\r\n", 4));
	drop_content_check_init(&c);
	CHECK(drop_content_check_feed(&c, "ab\r", 3, &error) == 0);
	CHECK(drop_content_check_feed(&c, "x\n", 2, &error) == -1);
	CHECK(drop_content_check_feed(&c, "\r\n", 2, &error) == -1);
}

TEST(tail)
{
	const char *error = NULL;
	struct str s = STR_INIT;
	sample_file(&s);
	str_append_cstr(&s, "x");
	CHECK(parse_str(&s, &error) == -1);
	CHECK_STR(error, "data after the end record");
	str_free(&s);

	uint32_t crc = 1234;
	CHECK(drop_parse_tail("", 0, crc, &error) == -1);
	drop_encode_tail(crc, &s);
	CHECK(drop_parse_tail(s.data, s.len, crc, &error) == 0);
	CHECK(drop_parse_tail(s.data, s.len, crc + 1, &error) == -1);
	CHECK_STR(error, "content checksum mismatch");
	CHECK(drop_parse_tail(s.data, s.len - 1, crc, &error) == -1);
	/* Two end records. */
	drop_encode_tail(crc, &s);
	CHECK(drop_parse_tail(s.data, s.len, crc, &error) == -1);
	/* An end record with another attribute. */
	str_clear(&s);
	struct ipc_rec *rec = ipc_rec_new("end");
	ipc_rec_add_int(rec, "crc32", crc);
	ipc_rec_add_int(rec, "more", 1);
	add_rec(&s, rec);
	CHECK(drop_parse_tail(s.data, s.len, crc, &error) == -1);
	str_free(&s);
}

TEST(size_beyond_data)
{
	const char *error = NULL;
	struct str s = STR_INIT;
	str_append_cstr(&s, DROP_MAGIC);
	struct ipc_rec *d = drop_rec();
	ipc_rec_add_int(d, "smtputf8", 0);
	add_rec(&s, d);
	add_rec(&s, rcpt_rec("bob@example.test"));
	struct ipc_rec *c = ipc_rec_new("content");
	ipc_rec_add_int(c, "size", INT64_MAX);
	add_rec(&s, c);
	str_append_cstr(&s, "a\r\n");
	CHECK(parse_str(&s, &error) == -1);
	CHECK_STR(error, "truncated in the content");
	str_clear(&s);
	str_append_cstr(&s, DROP_MAGIC);
	d = drop_rec();
	ipc_rec_add_int(d, "smtputf8", 0);
	add_rec(&s, d);
	add_rec(&s, rcpt_rec("bob@example.test"));
	c = ipc_rec_new("content");
	ipc_rec_add_int(c, "size", -1);
	add_rec(&s, c);
	CHECK(parse_str(&s, &error) == -1);
	str_free(&s);
}

TEST(envelope_too_large)
{
	struct drop_envelope env;
	sample_envelope(&env);
	char addr[300];
	/* About 4 KB of orcpt per recipient: past DROP_MAX_ENVELOPE quickly. */
	char *orcpt = xmalloc(DROP_MAX_ORCPT + 1);
	memcpy(orcpt, "rfc822;", 7);
	memset(orcpt + 7, 'x', DROP_MAX_ORCPT - 7);
	orcpt[DROP_MAX_ORCPT] = '\0';
	for (int i = 0; i < 400; i++) {
		snprintf(addr, sizeof(addr), "user%d@example.test", i);
		drop_envelope_add_rcpt(&env, addr, orcpt, "");
	}
	free(orcpt);
	struct str s = STR_INIT;
	drop_encode(&env, message, strlen(message), &s);
	drop_envelope_free(&env);
	const char *error = NULL;
	CHECK(parse_str(&s, &error) == -1);
	CHECK_STR(error, "envelope too large");
	/* The incremental parser says so once it has seen too much. */
	size_t offset;
	CHECK(drop_parse_head(s.data, DROP_MAX_ENVELOPE + 100, &env, &offset, &error) == -1);
	str_free(&s);
}

/* ---- drop_read_fd ---- */

struct collect {
	struct str content;
	int head_calls;
	bool fail_head;
	bool fail_content;
};

static int collect_head(void *ctx, struct drop_envelope *env, const char **error_r)
{
	struct collect *c = ctx;
	c->head_calls++;
	if (c->fail_head) {
		*error_r = "head refused";
		return -1;
	}
	env->uid = 4242;
	return 0;
}

static int collect_content(void *ctx, const void *data, size_t len, const char **error_r)
{
	struct collect *c = ctx;
	if (c->fail_content) {
		*error_r = "content refused";
		return -1;
	}
	str_append(&c->content, data, len);
	return 0;
}

static const struct drop_read_ops collect_ops = {collect_head, collect_content};

/* Feed bytes through a pipe from a child, in small writes. */
static int read_via_pipe(const char *data, size_t len, int64_t max, struct collect *c,
                         struct drop_envelope *env, const char **error_r)
{
	int fds[2];
	if (pipe(fds) != 0)
		return -99;
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		for (size_t off = 0; off < len;) {
			size_t n = len - off < 7000 ? len - off : 7000;
			ssize_t w = write(fds[1], data + off, n);
			if (w <= 0)
				_exit(1);
			off += (size_t)w;
		}
		_exit(0);
	}
	close(fds[1]);
	int rc = drop_read_fd(fds[0], max, &collect_ops, c, env, error_r);
	close(fds[0]);
	waitpid(pid, NULL, 0);
	return rc;
}

TEST(read_fd_round_trip)
{
	struct drop_envelope env;
	sample_envelope(&env);
	/* A large content: many pipe reads. */
	struct str content = STR_INIT;
	for (int i = 0; i < 20000; i++)
		str_printf(&content, "line %d of the message body\r\n", i);
	struct str s = STR_INIT;
	drop_encode(&env, content.data, content.len, &s);
	drop_envelope_free(&env);
	struct collect c = {STR_INIT, 0, false, false};
	const char *error = NULL;
	int rc = read_via_pipe(s.data, s.len, 0, &c, &env, &error);
	CHECK(rc == DROP_READ_OK);
	if (rc == DROP_READ_OK) {
		CHECK(env.uid == 4242); /* the head callback may change it */
		CHECK(env.size == (int64_t)content.len);
		CHECK(c.content.len == content.len &&
		      memcmp(c.content.data, content.data, content.len) == 0);
		drop_envelope_free(&env);
	}
	CHECK(c.head_calls == 1);
	/* A limit below the size: refused before any content is handed on. */
	str_clear(&c.content);
	rc = read_via_pipe(s.data, s.len, 1000, &c, &env, &error);
	CHECK(rc == DROP_READ_BAD);
	CHECK(error != NULL && strstr(error, "size limit") != NULL);
	CHECK(c.content.len == 0);
	str_free(&c.content);
	str_free(&content);
	str_free(&s);
}

TEST(read_fd_failures)
{
	struct str s = STR_INIT;
	sample_file(&s);
	struct drop_envelope env;
	const char *error = NULL;
	struct collect c = {STR_INIT, 0, true, false};
	CHECK(read_via_pipe(s.data, s.len, 0, &c, &env, &error) == DROP_READ_FAILED);
	CHECK_STR(error, "head refused");
	c.fail_head = false;
	c.fail_content = true;
	CHECK(read_via_pipe(s.data, s.len, 0, &c, &env, &error) == DROP_READ_FAILED);
	CHECK_STR(error, "content refused");
	c.fail_content = false;
	CHECK(read_via_pipe("", 0, 0, &c, &env, &error) == DROP_READ_BAD);
	CHECK_STR(error, "empty input");
	/* Truncated anywhere: bad, never OK. */
	int wrong = 0;
	for (size_t len = 1; len < s.len; len += 3)
		if (read_via_pipe(s.data, len, 0, &c, &env, &error) != DROP_READ_BAD)
			wrong++;
	CHECK(wrong == 0);
	/* Trailing junk. */
	str_append_cstr(&s, "junk");
	CHECK(read_via_pipe(s.data, s.len, 0, &c, &env, &error) == DROP_READ_BAD);
	/* A descriptor that cannot be read. */
	int fd = open("/dev/null", O_WRONLY);
	CHECK(drop_read_fd(fd, 0, &collect_ops, &c, &env, &error) == DROP_READ_FAILED);
	close(fd);
	str_free(&c.content);
	str_free(&s);
}

int main(void)
{
	RUN(round_trip);
	RUN(null_sender_and_empty_content);
	RUN(verify_report_round_trip);
	RUN(smtputf8);
	RUN(every_prefix_is_incomplete);
	RUN(every_flipped_byte_is_caught_or_harmless);
	RUN(bad_magic);
	RUN(attribute_rules);
	RUN(field_validation);
	RUN(numeric_ranges);
	RUN(record_order);
	RUN(content_line_ends);
	RUN(tail);
	RUN(size_beyond_data);
	RUN(envelope_too_large);
	RUN(read_fd_round_trip);
	RUN(read_fd_failures);
	return TESTING_DONE();
}

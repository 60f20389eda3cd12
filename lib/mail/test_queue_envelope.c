/*
 * Unit tests for the queue module's envelope: copying one, the verify
 * attribute written and read back, and the rules a parsed envelope must
 * follow (records in order, required attributes), built record by record.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/queue.h"
#include "mail/queue_test_helpers.h"
#include "util/alloc.h"
#include "util/ipc.h"
#include "util/str.h"
#include "util/testing.h"

TEST(envelope_copy)
{
	struct queue_envelope env, copy;
	fill_envelope(&env);
	env.filter = xstrdup("scan:[127.0.0.1]:10024");
	queue_envelope_copy(&copy, &env);
	CHECK_STR(copy.sender, "alice@example.org");
	CHECK_STR(copy.ret, "HDRS");
	CHECK_STR(copy.filter, "scan:[127.0.0.1]:10024");
	CHECK(copy.rcpt_count == 3);
	CHECK_STR(copy.rcpts[0].orcpt, "rfc822;bob@example.net");
	CHECK_STR(copy.rcpts[0].notify, "SUCCESS,FAILURE");
	CHECK(copy.rcpts[1].valias_pending && !copy.rcpts[0].valias_pending);
	CHECK(copy.rcpts[0].address != env.rcpts[0].address);
	queue_envelope_free(&env);
	CHECK_STR(copy.rcpts[2].address, "dave@example.com");
	queue_envelope_free(&copy);
}

TEST(verify_mode_round_trip)
{
	char *dir = make_queue();
	struct queue_envelope env;
	queue_envelope_init(&env);
	queue_envelope_add_rcpt(&env, "a@example.net", NULL, NULL);
	env.verify = xstrdup(QUEUE_VERIFY_PROBE);
	const char *error = NULL;
	struct queue_writer *w = queue_writer_open(dir, &env, &error);
	CHECK(w != NULL);
	if (w != NULL) {
		CHECK(queue_writer_commit(w, "incoming", &error) == 0);
		char *path = xasprintf("%s/incoming/%s", dir, queue_writer_id(w));
		queue_writer_abort(w);
		struct queue_envelope got;
		size_t offset;
		CHECK(queue_file_read(path, &got, &offset, &error) == 0);
		CHECK_STR(got.verify, "probe");
		CHECK(queue_envelope_is_verify(&got));
		queue_envelope_free(&got);
		free(path);
	}
	/* A message: no verify attribute, read back as "". */
	free(env.verify);
	env.verify = NULL;
	CHECK(!queue_envelope_is_verify(&env));
	w = queue_writer_open(dir, &env, &error);
	CHECK(w != NULL);
	if (w != NULL) {
		CHECK(queue_writer_commit(w, "incoming", &error) == 0);
		char *path = xasprintf("%s/incoming/%s", dir, queue_writer_id(w));
		queue_writer_abort(w);
		struct queue_envelope got;
		size_t offset;
		CHECK(queue_file_read(path, &got, &offset, &error) == 0);
		CHECK_STR(got.verify, "");
		CHECK(!queue_envelope_is_verify(&got));
		queue_envelope_free(&got);
		free(path);
	}
	CHECK(queue_verify_mode_valid("report") && !queue_verify_mode_valid("probe2") &&
	      !queue_verify_mode_valid(""));
	queue_envelope_free(&env);
	drop_queue(dir);
}

/* Envelope-level semantic errors, built record by record. */
static int parse_records(const char *const *names, size_t count)
{
	struct str buf = STR_INIT;
	str_append_cstr(&buf, QUEUE_MAGIC);
	for (size_t i = 0; i < count; i++) {
		struct ipc_rec *rec = NULL;
		const char *n = names[i];
		if (strcmp(n, "envelope") == 0 || strcmp(n, "envelope-badid") == 0 ||
		    strcmp(n, "envelope-noid") == 0 || strcmp(n, "envelope-nosender") == 0) {
			rec = ipc_rec_new("envelope");
			if (strcmp(n, "envelope-noid") != 0)
				ipc_rec_add_str(rec, "id",
				                strcmp(n, "envelope-badid") == 0
				                    ? "../../etc/passwd"
				                    : "0123456789ABCDEF");
			ipc_rec_add_int(rec, "arrival", 1);
			if (strcmp(n, "envelope-nosender") != 0)
				ipc_rec_add_str(rec, "sender", "");
		} else if (strcmp(n, "envelope-intsender") == 0) {
			rec = ipc_rec_new("envelope");
			ipc_rec_add_str(rec, "id", "0123456789ABCDEF");
			ipc_rec_add_int(rec, "arrival", 1);
			ipc_rec_add_int(rec, "sender", 7);
		} else if (strcmp(n, "rcpt") == 0) {
			rec = ipc_rec_new("rcpt");
			ipc_rec_add_str(rec, "address", "r@example.net");
		} else if (strcmp(n, "rcpt-empty") == 0) {
			rec = ipc_rec_new("rcpt");
			ipc_rec_add_str(rec, "address", "");
		} else if (strcmp(n, "content") == 0 || strcmp(n, "content-negative") == 0) {
			rec = ipc_rec_new("content");
			ipc_rec_add_int(rec, "size", strcmp(n, "content") == 0 ? 0 : -5);
		} else if (strcmp(n, "content-nosize") == 0) {
			rec = ipc_rec_new("content");
		} else {
			rec = ipc_rec_new(n);
		}
		ipc_rec_encode(rec, &buf);
		ipc_rec_free(rec);
	}
	struct queue_envelope env;
	size_t offset;
	const char *error = NULL;
	int rc = queue_file_parse_envelope(buf.data, buf.len, &env, &offset, &error);
	if (rc == 1)
		queue_envelope_free(&env);
	if (rc == -1 && error == NULL)
		rc = -2; /* an error must say why */
	str_free(&buf);
	return rc;
}

#define PARSE(...)                                                                                 \
	parse_records((const char *const[]){__VA_ARGS__},                                          \
	              sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

TEST(envelope_semantics)
{
	CHECK(PARSE("envelope", "rcpt", "content") == 1);
	CHECK(PARSE("envelope", "rcpt", "rcpt", "content") == 1);
	CHECK(PARSE("envelope", "rcpt") == 0);
	CHECK(PARSE("envelope", "content") == -1);
	CHECK(PARSE("rcpt", "envelope", "content") == -1);
	CHECK(PARSE("content") == -1);
	CHECK(PARSE("envelope", "envelope", "rcpt", "content") == -1);
	CHECK(PARSE("envelope-badid", "rcpt", "content") == -1);
	CHECK(PARSE("envelope-noid", "rcpt", "content") == -1);
	CHECK(PARSE("envelope-nosender", "rcpt", "content") == -1);
	CHECK(PARSE("envelope-intsender", "rcpt", "content") == -1);
	CHECK(PARSE("envelope", "rcpt-empty", "content") == -1);
	CHECK(PARSE("envelope", "rcpt", "content-negative") == -1);
	CHECK(PARSE("envelope", "rcpt", "content-nosize") == -1);
	CHECK(PARSE("envelope", "rcpt", "unknown", "content") == -1);
	CHECK(PARSE("envelope", "rcpt", "end") == -1);
}

int main(void)
{
	RUN(envelope_copy);
	RUN(verify_mode_round_trip);
	RUN(envelope_semantics);
	return TESTING_DONE();
}

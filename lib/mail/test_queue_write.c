/*
 * Unit tests for writing queue files: a file written in chunks, committed
 * and read back (whole, by a window of recipients, by the pure parser, and
 * copied into another file); an empty one put on hold; envelopes the
 * reader would reject refused; commits that fail (a missing directory, a
 * file already there, twice) leave no partial file; and a write onto a
 * full filesystem when run as root.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mail/queue.h"
#include "mail/queue_test_helpers.h"
#include "util/alloc.h"
#include "util/str.h"
#include "util/testing.h"

/* ---- writing and reading ---- */

static void check_same_envelope(const struct queue_envelope *a, const struct queue_envelope *b)
{
	CHECK_STR(a->id, b->id);
	CHECK(a->arrival == b->arrival);
	CHECK_STR(a->sender, b->sender);
	CHECK_STR(a->envid, b->envid);
	CHECK_STR(a->ret, b->ret);
	CHECK_STR(a->body, b->body);
	CHECK(a->smtputf8 == b->smtputf8);
	CHECK_STR(a->client_name, b->client_name);
	CHECK_STR(a->client_addr, b->client_addr);
	CHECK_STR(a->client_port, b->client_port);
	CHECK_STR(a->helo, b->helo);
	CHECK_STR(a->protocol, b->protocol);
	CHECK_STR(a->tls, b->tls);
	CHECK_STR(a->auth_user, b->auth_user);
	CHECK_STR(a->origin, b->origin);
	CHECK(a->rcpt_count == b->rcpt_count);
	for (size_t i = 0; i < a->rcpt_count && i < b->rcpt_count; i++) {
		CHECK_STR(a->rcpts[i].address, b->rcpts[i].address);
		CHECK_STR(a->rcpts[i].orcpt, b->rcpts[i].orcpt);
		CHECK_STR(a->rcpts[i].notify, b->rcpts[i].notify);
		CHECK(a->rcpts[i].valias_pending == b->rcpts[i].valias_pending);
	}
}

TEST(write_commit_read_back)
{
	char *dir = make_queue();
	struct queue_envelope env;
	fill_envelope(&env);
	const char *error = NULL;
	struct queue_writer *w = queue_writer_open(dir, &env, &error);
	CHECK(w != NULL);
	if (w == NULL) {
		fprintf(stderr, "open: %s\n", error);
		queue_envelope_free(&env);
		drop_queue(dir);
		return;
	}
	CHECK(queue_id_valid(queue_writer_id(w)));
	CHECK_STR(env.id, queue_writer_id(w));
	CHECK(count_entries(dir, "tmp") == 1);

	/* Content in several chunks: text, an empty one, binary bytes, and one
	 * large enough to make the writer flush to disk in the middle. */
	struct str expect = STR_INIT;
	const char *head = "From: alice@example.org\r\nSubject: test\r\n\r\n";
	const char binary[] = {'\0', '\r', '\n', (char)0xff, '.', '\r', '\n'};
	struct str big = STR_INIT;
	for (int i = 0; i < 100000; i++)
		str_append_char(&big, (char)('a' + i % 26));
	struct {
		const void *data;
		size_t len;
	} chunks[] = {{head, strlen(head)},
	              {"", 0},
	              {binary, sizeof(binary)},
	              {big.data, big.len},
	              {"tail\r\n", 6}};
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		CHECK(queue_writer_write(w, chunks[i].data, chunks[i].len, &error) == 0);
		str_append(&expect, chunks[i].data, chunks[i].len);
	}
	CHECK(queue_writer_size(w) == (int64_t)expect.len);
	CHECK(queue_writer_commit(w, "incoming", &error) == 0);
	char id[QUEUE_ID_LEN + 1];
	memcpy(id, queue_writer_id(w), sizeof(id));
	queue_writer_abort(w); /* frees; removes nothing once committed */
	CHECK(count_entries(dir, "tmp") == 0);
	CHECK(count_entries(dir, "incoming") == 1);

	char *path = xasprintf("%s/incoming/%s", dir, id);
	struct stat st;
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	struct queue_envelope got;
	size_t offset = 0;
	CHECK(queue_file_read(path, &got, &offset, &error) == 0);
	check_same_envelope(&env, &got);
	CHECK(got.size == (int64_t)expect.len);

	/* A window of the recipients: the rest are counted, not kept. */
	struct queue_envelope window;
	size_t window_offset = 0;
	CHECK(queue_file_read_window(path, 1, 1, &window, &window_offset, &error) == 0);
	CHECK(window_offset == offset && window.rcpt_first == 1);
	CHECK(window.rcpt_count == 1 && window.rcpt_total == env.rcpt_count);
	if (window.rcpt_count == 1) {
		CHECK_STR(window.rcpts[0].address, env.rcpts[1].address);
		CHECK(window.rcpts[0].valias_pending == env.rcpts[1].valias_pending);
	}
	queue_envelope_free(&window);
	CHECK(queue_file_read_window(path, 0, 0, &window, &window_offset, &error) == 0);
	CHECK(window.rcpt_count == 0 && window.rcpt_total == env.rcpt_count);
	queue_envelope_free(&window);
	CHECK(queue_file_read_window(path, 2, 100, &window, &window_offset, &error) == 0);
	CHECK(window.rcpt_count == env.rcpt_count - 2);
	queue_envelope_free(&window);

	/* Another queue file with the same content, copied from this one. */
	struct queue_writer *copy = queue_writer_open(dir, &got, &error);
	CHECK(copy != NULL && queue_writer_rcpt_count(copy) == env.rcpt_count);
	CHECK(copy != NULL &&
	      queue_writer_copy_content(copy, path, offset, got.size, &error) == 0 &&
	      queue_writer_size(copy) == (int64_t)expect.len &&
	      queue_writer_commit(copy, "deferred", &error) == 0);
	if (copy != NULL) {
		char *copy_path = xasprintf("%s/deferred/%s", dir, queue_writer_id(copy));
		struct queue_envelope copied;
		size_t copied_offset;
		struct str copied_file = STR_INIT;
		CHECK(queue_file_read(copy_path, &copied, &copied_offset, &error) == 0);
		CHECK(read_whole(copy_path, &copied_file));
		CHECK(copied_offset + expect.len <= copied_file.len &&
		      memcmp(copied_file.data + copied_offset, expect.data, expect.len) == 0);
		queue_envelope_free(&copied);
		str_free(&copied_file);
		free(copy_path);
		queue_writer_abort(copy);
	}

	struct str file = STR_INIT;
	CHECK(read_whole(path, &file));
	CHECK(memcmp(file.data, QUEUE_MAGIC, strlen(QUEUE_MAGIC)) == 0);
	CHECK(offset + expect.len < file.len);
	CHECK(offset + expect.len <= file.len &&
	      memcmp(file.data + offset, expect.data, expect.len) == 0);

	/* The pure parser agrees with the file reader. */
	struct queue_envelope parsed;
	size_t parsed_offset = 0;
	CHECK(queue_file_parse_envelope(file.data, file.len, &parsed, &parsed_offset, &error) == 1);
	CHECK(parsed_offset == offset);
	check_same_envelope(&env, &parsed);
	queue_envelope_free(&parsed);

	queue_envelope_free(&got);
	queue_envelope_free(&env);
	str_free(&file);
	str_free(&expect);
	str_free(&big);
	free(path);
	drop_queue(dir);
}

TEST(empty_content_and_hold)
{
	char *dir = make_queue();
	struct queue_envelope env;
	queue_envelope_init(&env);
	queue_envelope_add_rcpt(&env, "a@example.net", NULL, NULL);
	const char *error = NULL;
	struct queue_writer *w = queue_writer_open(dir, &env, &error);
	CHECK(w != NULL);
	if (w != NULL) {
		CHECK(queue_writer_commit(w, "hold", &error) == 0);
		char *path = xasprintf("%s/hold/%s", dir, queue_writer_id(w));
		queue_writer_abort(w);
		struct queue_envelope got;
		size_t offset;
		CHECK(queue_file_read(path, &got, &offset, &error) == 0);
		CHECK(got.size == 0);
		CHECK_STR(got.sender, ""); /* NULL sender is written as <> */
		CHECK_STR(got.origin, "");
		queue_envelope_free(&got);
		free(path);
	}
	queue_envelope_free(&env);
	drop_queue(dir);
}

TEST(writer_refuses_unreadable_envelope)
{
	char *dir = make_queue();
	struct queue_envelope env;
	queue_envelope_init(&env);
	env.sender = xstrdup("a@example.org");
	const char *error = NULL;
	/* No recipients: the reader would reject the file, so no file at all. */
	CHECK(queue_writer_open(dir, &env, &error) == NULL);
	CHECK(error != NULL && strstr(error, "recipient") != NULL);
	CHECK(count_entries(dir, "tmp") == count_free(dir)); /* no partial file */
	/* An envelope larger than a reader looks at. */
	struct str huge = STR_INIT;
	for (int i = 0; i < 1100 * 1024; i++)
		str_append_char(&huge, 'h');
	queue_envelope_add_rcpt(&env, "a@example.net", NULL, NULL);
	free(env.helo);
	env.helo = str_steal(&huge);
	error = NULL;
	CHECK(queue_writer_open(dir, &env, &error) == NULL);
	CHECK(error != NULL);
	CHECK(count_entries(dir, "tmp") == count_free(dir)); /* no partial file */
	queue_envelope_free(&env);
	drop_queue(dir);
}

TEST(commit_missing_dir)
{
	char *dir = make_queue();
	struct queue_envelope env;
	fill_envelope(&env);
	const char *error = NULL;
	struct queue_writer *w = queue_writer_open(dir, &env, &error);
	CHECK(w != NULL);
	CHECK(queue_writer_write(w, "hello\r\n", 7, &error) == 0);
	error = NULL;
	CHECK(queue_writer_commit(w, "nonexistent", &error) == -1);
	CHECK(error != NULL && strstr(error, "nonexistent") != NULL);
	/* Further use after a failure keeps failing. */
	CHECK(queue_writer_write(w, "x", 1, &error) == -1);
	CHECK(queue_writer_commit(w, "incoming", &error) == -1);
	queue_writer_abort(w);
	CHECK(count_entries(dir, "tmp") == count_free(dir)); /* no partial file */
	CHECK(count_entries(dir, "incoming") == 0);
	CHECK(count_entries(dir, "nonexistent") == -1);
	queue_envelope_free(&env);
	drop_queue(dir);
}

TEST(commit_never_replaces)
{
	char *dir = make_queue();
	struct queue_envelope env;
	fill_envelope(&env);
	const char *error = NULL;
	struct queue_writer *w = queue_writer_open(dir, &env, &error);
	CHECK(w != NULL);
	char *taken = xasprintf("%s/incoming/%s", dir, queue_writer_id(w));
	CHECK(write_whole(taken, "older", 5));
	CHECK(queue_writer_commit(w, "incoming", &error) == -1);
	queue_writer_abort(w);
	struct str data = STR_INIT;
	CHECK(read_whole(taken, &data) && str_equal_cstr(&data, "older"));
	CHECK(count_entries(dir, "tmp") == count_free(dir)); /* no partial file */
	str_free(&data);
	free(taken);
	queue_envelope_free(&env);
	drop_queue(dir);
}

TEST(commit_twice)
{
	char *dir = make_queue();
	struct queue_envelope env;
	fill_envelope(&env);
	const char *error = NULL;
	struct queue_writer *w = queue_writer_open(dir, &env, &error);
	CHECK(queue_writer_commit(w, "incoming", &error) == 0);
	CHECK(queue_writer_write(w, "x", 1, &error) == -1);
	CHECK(queue_writer_commit(w, "hold", &error) == -1);
	queue_writer_abort(w);
	CHECK(count_entries(dir, "incoming") == 1);
	CHECK(count_entries(dir, "hold") == 0);
	queue_envelope_free(&env);
	drop_queue(dir);
}

/* ---- a full filesystem ---- */

TEST(full_filesystem)
{
	if (geteuid() != 0) {
		printf("skip full_filesystem: not root\n");
		return;
	}
	char *mnt = xstrdup("/tmp/postern-test-tmpfs-XXXXXX");
	CHECK(mkdtemp(mnt) != NULL);
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=64k") != 0) {
		printf("skip full_filesystem: mount tmpfs: %s\n", strerror(errno));
		rmdir(mnt);
		free(mnt);
		return;
	}
	const char *error = NULL;
	CHECK(queue_make_dirs(mnt, (uid_t)-1, (gid_t)-1, &error) == 0);
	struct queue_envelope env;
	fill_envelope(&env);
	struct queue_writer *w = queue_writer_open(mnt, &env, &error);
	CHECK(w != NULL);
	if (w != NULL) {
		char chunk[8192];
		memset(chunk, 'm', sizeof(chunk));
		int failed = 0;
		for (int i = 0; i < 64 && !failed; i++) /* 512 KiB into 64 KiB */
			if (queue_writer_write(w, chunk, sizeof(chunk), &error) != 0)
				failed = 1;
		if (!failed && queue_writer_commit(w, "incoming", &error) != 0)
			failed = 1;
		CHECK(failed);
		CHECK(error != NULL && strstr(error, "No space") != NULL);
		queue_writer_abort(w);
	}
	CHECK(count_entries(mnt, "tmp") == count_free(mnt)); /* no partial file */
	CHECK(count_entries(mnt, "incoming") == 0);
	/* The filesystem is usable again afterwards: a small file fits. */
	char *path = write_small_file(mnt, "small\r\n");
	struct queue_envelope got;
	size_t offset;
	CHECK(queue_file_read(path, &got, &offset, &error) == 0);
	queue_envelope_free(&got);
	free(path);
	queue_envelope_free(&env);
	CHECK(umount(mnt) == 0);
	CHECK(rmdir(mnt) == 0);
	free(mnt);
}

int main(void)
{
	RUN(write_commit_read_back);
	RUN(empty_content_and_hold);
	RUN(writer_refuses_unreadable_envelope);
	RUN(commit_missing_dir);
	RUN(commit_never_replaces);
	RUN(commit_twice);
	RUN(full_filesystem);
	return TESTING_DONE();
}

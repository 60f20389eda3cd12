/*
 * Unit tests for reading damaged queue files: every truncated prefix, a
 * flipped content byte, bad magic, a missing, wrong or displaced end
 * record, random bytes, and files that are not regular files.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mail/queue.h"
#include "mail/queue_test_helpers.h"
#include "util/alloc.h"
#include "util/ipc.h"
#include "util/str.h"
#include "util/testing.h"

/* queue_file_read on these bytes (written to a scratch file) must fail. */
static bool file_rejected(const char *queue_dir, const void *data, size_t len)
{
	char *path = xasprintf("%s/corrupt/scratch", queue_dir);
	if (!write_whole(path, data, len)) {
		free(path);
		return false;
	}
	struct queue_envelope env;
	size_t offset = 0;
	const char *error = NULL;
	int rc = queue_file_read(path, &env, &offset, &error);
	unlink(path);
	free(path);
	if (rc == 0) {
		queue_envelope_free(&env);
		return false;
	}
	return error != NULL && *error != '\0';
}

/* ---- damaged files ---- */

TEST(truncated_every_prefix)
{
	char *dir = make_queue();
	char *path = write_small_file(dir, "Subject: hi\r\n\r\nbody\r\n");
	struct str file = STR_INIT;
	CHECK(read_whole(path, &file));
	struct queue_envelope env;
	size_t offset = 0;
	const char *error = NULL;
	CHECK(queue_file_read(path, &env, &offset, &error) == 0);
	queue_envelope_free(&env);
	size_t content_offset = offset;
	bool all_rejected = true, parse_ok = true;
	for (size_t len = 0; len < file.len; len++) {
		if (!file_rejected(dir, file.data, len)) {
			fprintf(stderr, "prefix of %zu bytes accepted\n", len);
			all_rejected = false;
		}
		/* A prefix of a valid file needs more bytes until the content. */
		int want = len < content_offset ? 0 : 1;
		int rc = queue_file_parse_envelope(file.data, len, &env, &offset, &error);
		if (rc == 1)
			queue_envelope_free(&env);
		if (rc != want) {
			fprintf(stderr, "parse of %zu-byte prefix returned %d\n", len, rc);
			parse_ok = false;
		}
	}
	CHECK(all_rejected);
	CHECK(parse_ok);
	str_free(&file);
	free(path);
	drop_queue(dir);
}

TEST(damaged_content)
{
	char *dir = make_queue();
	const char *content = "Subject: hi\r\n\r\nmessage text\r\n";
	char *path = write_small_file(dir, content);
	struct str file = STR_INIT;
	CHECK(read_whole(path, &file));
	char *found = memmem(file.data, file.len, "message text", 12);
	CHECK(found != NULL);
	if (found != NULL) {
		*found ^= 0x01; /* crc mismatch */
		CHECK(file_rejected(dir, file.data, file.len));
		*found ^= 0x01;
	}
	CHECK(!file_rejected(dir, file.data, file.len));
	/* Bad magic. */
	char saved = file.data[8];
	file.data[8] = 'X';
	CHECK(file_rejected(dir, file.data, file.len));
	file.data[8] = saved;
	CHECK(!file_rejected(dir, file.data, file.len));
	/* Missing end record: cut right after the content. */
	struct queue_envelope env;
	size_t offset = 0;
	const char *error = NULL;
	CHECK(queue_file_read(path, &env, &offset, &error) == 0);
	size_t content_end = offset + strlen(content);
	queue_envelope_free(&env);
	CHECK(file_rejected(dir, file.data, content_end));
	/* Garbage after the end record. */
	struct str longer = STR_INIT;
	str_append(&longer, file.data, file.len);
	str_append(&longer, "junk", 4);
	CHECK(file_rejected(dir, longer.data, longer.len));
	/* A wrong crc in an otherwise good end record. */
	str_truncate(&longer, content_end);
	struct ipc_rec *rec = ipc_rec_new("end");
	ipc_rec_add_int(rec, "crc32", 12345);
	ipc_rec_encode(rec, &longer);
	ipc_rec_free(rec);
	CHECK(file_rejected(dir, longer.data, longer.len));
	/* Another record where the end record belongs. */
	str_truncate(&longer, content_end);
	rec = ipc_rec_new("rcpt");
	ipc_rec_add_str(rec, "address", "z@example.net");
	ipc_rec_encode(rec, &longer);
	ipc_rec_free(rec);
	CHECK(file_rejected(dir, longer.data, longer.len));
	str_free(&longer);
	str_free(&file);
	free(path);
	drop_queue(dir);
}

TEST(garbage_and_odd_files)
{
	char *dir = make_queue();
	CHECK(file_rejected(dir, "", 0));
	CHECK(file_rejected(dir, "hello world\n", 12));
	CHECK(file_rejected(dir, "POSTERN-QUEUE 2\n", 16));
	CHECK(file_rejected(dir, QUEUE_MAGIC, strlen(QUEUE_MAGIC)));
	unsigned char noise[4096];
	unsigned state = 12345;
	bool all_rejected = true;
	for (int round = 0; round < 200; round++) {
		size_t len = (size_t)(round * 37 % (int)sizeof(noise));
		for (size_t i = 0; i < len; i++) {
			state = state * 1103515245u + 12345u;
			noise[i] = (unsigned char)(state >> 16);
		}
		/* Half of them look like queue files until the records start. */
		if (round % 2 == 0 && len >= strlen(QUEUE_MAGIC))
			memcpy(noise, QUEUE_MAGIC, strlen(QUEUE_MAGIC));
		if (!file_rejected(dir, noise, len))
			all_rejected = false;
		struct queue_envelope env;
		size_t offset;
		const char *error = NULL;
		if (queue_file_parse_envelope(noise, len, &env, &offset, &error) == 1) {
			queue_envelope_free(&env);
			all_rejected = false;
		}
	}
	CHECK(all_rejected);

	struct queue_envelope env;
	size_t offset;
	const char *error = NULL;
	/* Missing file, a directory, a FIFO (must not block), a symlink. */
	char *missing = xasprintf("%s/incoming/0000000000000000", dir);
	CHECK(queue_file_read(missing, &env, &offset, &error) == -1);
	char *incoming = xasprintf("%s/incoming", dir);
	CHECK(queue_file_read(incoming, &env, &offset, &error) == -1);
	char *fifo = xasprintf("%s/hold/fifo", dir);
	CHECK(mkfifo(fifo, 0600) == 0);
	CHECK(queue_file_read(fifo, &env, &offset, &error) == -1);
	char *good = write_small_file(dir, "x\r\n");
	char *link = xasprintf("%s/hold/link", dir);
	CHECK(symlink(good, link) == 0);
	CHECK(queue_file_read(link, &env, &offset, &error) == -1);
	CHECK(queue_file_read(good, &env, &offset, &error) == 0);
	/* The same through a descriptor: the same envelope and offset; a
	 * directory's or a FIFO's descriptor is refused. */
	struct queue_envelope by_fd;
	size_t fd_offset = 0;
	int fd = open(good, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0 && queue_file_read_fd(fd, &by_fd, &fd_offset, &error) == 0);
	CHECK(fd_offset == offset && by_fd.size == env.size && by_fd.rcpt_count == env.rcpt_count);
	CHECK_STR(by_fd.sender, env.sender);
	queue_envelope_free(&by_fd);
	close(fd);
	fd = open(incoming, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(fd >= 0 && queue_file_read_fd(fd, &by_fd, &fd_offset, &error) == -1);
	close(fd);
	fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	CHECK(fd >= 0 && queue_file_read_fd(fd, &by_fd, &fd_offset, &error) == -1);
	close(fd);
	queue_envelope_free(&env);
	free(missing);
	free(incoming);
	free(fifo);
	free(good);
	free(link);
	drop_queue(dir);
}

int main(void)
{
	RUN(truncated_every_prefix);
	RUN(damaged_content);
	RUN(garbage_and_odd_files);
	return TESTING_DONE();
}

/*
 * Unit tests for the queue's free-file pool: an aborted file emptied and
 * kept, a prepared spare used and swept, a recycled file's inode reused,
 * an empty pool remembered for a moment, and a full pool removing files.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mail/queue.h"
#include "mail/queue_test_helpers.h"
#include "util/alloc.h"
#include "util/testing.h"

TEST(abort_leaves_nothing)
{
	char *dir = make_queue();
	struct queue_envelope env;
	fill_envelope(&env);
	const char *error = NULL;
	struct queue_writer *w = queue_writer_open(dir, &env, &error);
	CHECK(w != NULL);
	CHECK(count_entries(dir, "tmp") == 1);
	queue_writer_abort(w);
	/* Nothing but the file, emptied and kept for the next message. */
	CHECK(count_entries(dir, "tmp") == 1);
	CHECK(count_free(dir) == 1);

	w = queue_writer_open(dir, &env, &error);
	CHECK(w != NULL);
	char big[70000];
	memset(big, 'x', sizeof(big));
	CHECK(queue_writer_write(w, big, sizeof(big), &error) == 0);
	CHECK(queue_writer_write(w, "more", 4, &error) == 0);
	queue_writer_abort(w);
	CHECK(count_entries(dir, "tmp") == 1); /* the same free file again */
	CHECK(count_free(dir) == 1);
	CHECK(count_entries(dir, "incoming") == 0);
	queue_writer_abort(NULL);
	queue_envelope_free(&env);
	drop_queue(dir);
}

TEST(prepared_file_used_and_swept)
{
	char *dir = make_queue();
	struct queue_envelope env;
	fill_envelope(&env);
	const char *error = NULL;
	queue_writer_prepare(dir);
	CHECK(count_entries(dir, "tmp") == 1);
	queue_writer_prepare(dir); /* one spare at most */
	CHECK(count_entries(dir, "tmp") == 1);
	struct queue_writer *w = queue_writer_open(dir, &env, &error);
	CHECK(w != NULL);
	CHECK(count_entries(dir, "tmp") == 1); /* the spare became the file */
	CHECK(queue_writer_write(w, "Subject: x\r\n\r\nbody\r\n", 20, &error) == 0);
	CHECK(queue_writer_commit(w, "incoming", &error) == 0);
	char *path = xasprintf("%s/incoming/%s", dir, queue_writer_id(w));
	queue_writer_abort(w);
	CHECK(count_entries(dir, "tmp") == 0);
	CHECK(count_entries(dir, "incoming") == 1);
	struct queue_envelope got;
	size_t offset;
	CHECK(queue_file_read(path, &got, &offset, &error) == 0);
	CHECK(got.size == 20);
	queue_envelope_free(&got);
	free(path);

	/* A spare for another queue is replaced, not used there: it goes back
	 * to its own queue's free files. */
	char *other = make_queue();
	queue_writer_prepare(dir);
	queue_writer_prepare(other);
	CHECK(count_entries(dir, "tmp") == 1);
	CHECK(count_free(dir) == 1);
	CHECK(count_entries(other, "tmp") == 1);
	/* Leftovers are swept by age; names that are not queue ids stay. */
	CHECK(queue_sweep_tmp(other, 3600) == 0);
	char *stray = xasprintf("%s/tmp/not-an-id", other);
	CHECK(write_whole(stray, "x", 1));
	CHECK(queue_sweep_tmp(other, 0) == 1);
	CHECK(count_entries(other, "tmp") == 1);
	unlink(stray);
	free(stray);
	queue_writer_prepare(dir); /* leaves other's spare swept, no error */
	w = queue_writer_open(dir, &env, &error);
	CHECK(w != NULL);
	queue_writer_abort(w);
	CHECK(count_entries(dir, "tmp") == count_free(dir));
	queue_envelope_free(&env);
	drop_queue(other);
	drop_queue(dir);
}

TEST(recycled_file_reused)
{
	char *dir = make_queue();
	struct queue_envelope env;
	fill_envelope(&env);
	const char *error = NULL;
	struct queue_writer *w = queue_writer_open(dir, &env, &error);
	CHECK(w != NULL);
	CHECK(queue_writer_write(w, "Subject: one\r\n\r\n", 16, &error) == 0);
	CHECK(queue_writer_commit(w, "incoming", &error) == 0);
	char *path = xasprintf("%s/incoming/%s", dir, queue_writer_id(w));
	queue_writer_abort(w);
	struct stat before;
	CHECK(stat(path, &before) == 0);
	CHECK(queue_file_recycle(dir, path) == 0);
	CHECK(access(path, F_OK) != 0);
	CHECK(count_entries(dir, "incoming") == 0);
	CHECK(count_entries(dir, "tmp") == 1);     /* emptied, waiting */
	CHECK(queue_file_recycle(dir, path) == 0); /* already gone: fine */

	/* The next file is that inode, holding only the new message. */
	w = queue_writer_open(dir, &env, &error);
	CHECK(w != NULL);
	CHECK(queue_writer_write(w, "Subject: two\r\n\r\n", 16, &error) == 0);
	CHECK(queue_writer_commit(w, "incoming", &error) == 0);
	char *second = xasprintf("%s/incoming/%s", dir, queue_writer_id(w));
	queue_writer_abort(w);
	struct stat after;
	CHECK(stat(second, &after) == 0);
	CHECK(after.st_ino == before.st_ino);
	CHECK(count_entries(dir, "tmp") == 0);
	struct queue_envelope got;
	size_t offset;
	CHECK(queue_file_read(second, &got, &offset, &error) == 0);
	CHECK(got.size == 16);
	queue_envelope_free(&got);
	/* Free files survive the start-up sweep; they hold no mail. */
	CHECK(queue_file_recycle(dir, second) == 0);
	CHECK(queue_sweep_tmp(dir, 0) == 0);
	CHECK(count_entries(dir, "tmp") == 1);
	free(second);
	free(path);
	queue_envelope_free(&env);
	drop_queue(dir);
}

/* A taker that found the pool empty skips reading tmp/ for a moment (it
 * still tries a few random slots), then finds a file another process
 * recycled; a file this process recycles is found at once. */
TEST(free_file_after_empty_pool)
{
	char *dir = make_queue();
	char *path = xasprintf("%s/tmp/taken", dir);
	CHECK(queue_take_free_file(dir, path, O_WRONLY) == -1); /* empty: remembered */
	/* "Another process" recycles a file into a slot. */
	char *slot = xasprintf("%s/tmp/free.123", dir);
	int fd = open(slot, O_WRONLY | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0);
	close(fd);
	fd = queue_take_free_file(dir, path, O_WRONLY);
	if (fd < 0) {
		/* Not probed by chance: found by reading tmp/ once the moment ends. */
		CHECK(access(slot, F_OK) == 0);
		sleep(2);
		fd = queue_take_free_file(dir, path, O_WRONLY);
	}
	CHECK(fd >= 0);
	close(fd);
	CHECK(access(slot, F_OK) != 0 && access(path, F_OK) == 0);
	CHECK(queue_take_free_file(dir, path, O_WRONLY) == -1); /* empty again */
	/* Recycled here: the memory of an empty pool is dropped. */
	CHECK(queue_file_recycle(dir, path) == 0);
	fd = queue_take_free_file(dir, path, O_WRONLY);
	CHECK(fd >= 0);
	close(fd);
	CHECK(count_entries(dir, "tmp") == 1);
	free(slot);
	free(path);
	drop_queue(dir);
}

/* A file given back to a full pool is removed, and for a moment after
 * that files are removed at once (not offered to slots that are all
 * taken); after the moment they go to the pool again. */
TEST(full_pool_removes_files)
{
	char *dir = make_queue();
	for (int n = 0; n < 256; n++) { /* QUEUE_FREE_SLOTS */
		char *slot = xasprintf("%s/tmp/free.%03d", dir, n);
		int fd = open(slot, O_WRONLY | O_CREAT | O_EXCL, 0600);
		CHECK(fd >= 0);
		close(fd);
		free(slot);
	}
	char *path = xasprintf("%s/incoming/done", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0 && write(fd, "mail", 4) == 4);
	close(fd);
	CHECK(queue_file_recycle(dir, path) == 0);
	time_t seen_full = time(NULL);
	CHECK(access(path, F_OK) != 0);
	CHECK(count_free(dir) == 256 && count_entries(dir, "tmp") == 256);

	/* Slots free up, but the pool was just seen full (the moment lasts
	 * at least the rest of that second: on a machine so busy that the
	 * next second has begun, the file may go to the pool instead). */
	for (int n = 0; n < 250; n++) {
		char *slot = xasprintf("%s/tmp/free.%03d", dir, n);
		CHECK(unlink(slot) == 0);
		free(slot);
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0 && write(fd, "mail", 4) == 4);
	close(fd);
	bool in_moment = time(NULL) == seen_full;
	CHECK(queue_file_recycle(dir, path) == 0);
	CHECK(access(path, F_OK) != 0);
	if (in_moment)
		CHECK(count_entries(dir, "tmp") == 6);
	else
		CHECK(count_entries(dir, "tmp") == 6 || count_entries(dir, "tmp") == 7);

	sleep(2); /* the moment is over */
	int before = count_entries(dir, "tmp");
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0 && write(fd, "mail", 4) == 4);
	close(fd);
	CHECK(queue_file_recycle(dir, path) == 0);
	CHECK(access(path, F_OK) != 0);
	/* emptied, waiting */
	CHECK(count_free(dir) == before + 1 && count_entries(dir, "tmp") == before + 1);
	free(path);
	drop_queue(dir);
}

int main(void)
{
	RUN(abort_leaves_nothing);
	RUN(prepared_file_used_and_swept);
	RUN(recycled_file_reused);
	RUN(free_file_after_empty_pool);
	RUN(full_pool_removes_files);
	return TESTING_DONE();
}

/*
 * Unit tests for the queue module's ids and directories: new ids are
 * valid, unique and ordered by time; what queue_id_valid takes; making
 * the queue's directories with their modes, again, and over a file.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "mail/queue.h"
#include "mail/queue_test_helpers.h"
#include "util/alloc.h"
#include "util/testing.h"

/* ---- ids ---- */

static int compare_ids(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

TEST(ids_unique_and_ordered)
{
	enum { N = 10000 };
	char(*ids)[QUEUE_ID_LEN + 1] = xcalloc(N, sizeof(*ids));
	bool all_valid = true, increasing = true;
	for (int i = 0; i < N; i++) {
		queue_id_new(ids[i]);
		if (!queue_id_valid(ids[i]) || strlen(ids[i]) != QUEUE_ID_LEN)
			all_valid = false;
		if (i > 0 && strcmp(ids[i - 1], ids[i]) >= 0)
			increasing = false;
	}
	CHECK(all_valid);
	CHECK(increasing);
	qsort(ids, N, sizeof(*ids), compare_ids);
	bool unique = true;
	for (int i = 1; i < N; i++)
		if (strcmp(ids[i - 1], ids[i]) == 0)
			unique = false;
	CHECK(unique);
	free(ids);
}

TEST(ids_sort_by_time)
{
	char a[QUEUE_ID_LEN + 1], b[QUEUE_ID_LEN + 1];
	struct timeval before;
	gettimeofday(&before, NULL);
	queue_id_new(a);
	struct timespec pause = {0, 3 * 1000 * 1000};
	nanosleep(&pause, NULL);
	queue_id_new(b);
	CHECK(strcmp(a, b) < 0);
	/* The leading digits are the time in microseconds: close to now. */
	char time_part[14];
	memcpy(time_part, a, 13);
	time_part[13] = '\0';
	unsigned long long usec = strtoull(time_part, NULL, 16);
	unsigned long long now =
	    (unsigned long long)before.tv_sec * 1000000ull + (unsigned long long)before.tv_usec;
	CHECK(usec + 1000000ull > now && usec < now + 10000000ull);
	/* Same pid, same tail. */
	CHECK(strcmp(a + 13, b + 13) == 0);
}

TEST(id_valid_cases)
{
	CHECK(queue_id_valid("0123456789ABCDEF"));
	CHECK(queue_id_valid("0000000000000000"));
	CHECK(!queue_id_valid("0123456789abcdef"));
	CHECK(!queue_id_valid("0123456789ABCDE"));
	CHECK(!queue_id_valid("0123456789ABCDEF0"));
	CHECK(!queue_id_valid("0123456789ABCDEG"));
	CHECK(!queue_id_valid("0123456789ABCDE "));
	CHECK(!queue_id_valid("../../etc/passwd"));
	CHECK(!queue_id_valid("0123456789ABCD/F"));
	CHECK(!queue_id_valid(""));
	CHECK(!queue_id_valid(NULL));
}

/* ---- directories ---- */

TEST(make_dirs)
{
	char *dir = xstrdup("/tmp/postern-test-dirs-XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
	const char *error = NULL;
	CHECK(queue_make_dirs(dir, (uid_t)-1, (gid_t)-1, &error) == 0);
	size_t n = 0;
	for (size_t i = 0; queue_dir_names[i]; i++, n++) {
		char *path = xasprintf("%s/%s", dir, queue_dir_names[i]);
		struct stat st;
		CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
		mode_t want = strcmp(queue_dir_names[i], "maildrop") == 0 ? 01730 : 0700;
		CHECK((st.st_mode & 07777) == want);
		free(path);
	}
	CHECK(n == 8);
	/* Again: existing directories are fine. */
	CHECK(queue_make_dirs(dir, (uid_t)-1, (gid_t)-1, &error) == 0);
	/* A file where a directory belongs is an error. */
	char *hold = xasprintf("%s/hold", dir);
	CHECK(rmdir(hold) == 0);
	CHECK(write_whole(hold, "x", 1));
	error = NULL;
	CHECK(queue_make_dirs(dir, (uid_t)-1, (gid_t)-1, &error) == -1);
	CHECK(error != NULL && strstr(error, "hold") != NULL);
	free(hold);
	/* A missing parent is an error. */
	char *missing = xasprintf("%s/no/such/dir", dir);
	error = NULL;
	CHECK(queue_make_dirs(missing, (uid_t)-1, (gid_t)-1, &error) == -1);
	CHECK(error != NULL);
	free(missing);
	remove_tree(dir);
	free(dir);
}

int main(void)
{
	RUN(ids_unique_and_ordered);
	RUN(ids_sort_by_time);
	RUN(id_valid_cases);
	RUN(make_dirs);
	return TESTING_DONE();
}

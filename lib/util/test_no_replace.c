/*
 * Unit tests for util/no_replace: a move to a free name, and one to a
 * taken name that leaves both files as they were; by path and relative
 * to directory descriptors.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/no_replace.h"
#include "util/testing.h"

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (f == NULL)
		abort();
	fputs(text, f);
	fclose(f);
}

static bool holds(const char *path, const char *text)
{
	char buf[64] = {0};
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return false;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	return n == strlen(text) && memcmp(buf, text, n) == 0;
}

TEST(moves_never_replaces)
{
	char tmpl[] = "/tmp/test_no_replace.XXXXXX";
	char *dir = mkdtemp(tmpl);
	CHECK(dir != NULL);
	if (dir == NULL)
		return;
	char *a = xasprintf("%s/a", dir), *b = xasprintf("%s/b", dir), *c = xasprintf("%s/c", dir);
	put(a, "first");
	CHECK(rename_no_replace(a, b) == 0);
	CHECK(access(a, F_OK) != 0 && holds(b, "first"));
	put(c, "second");
	errno = 0;
	CHECK(rename_no_replace(c, b) == -1 && errno == EEXIST);
	CHECK(holds(b, "first") && holds(c, "second"));
	errno = 0;
	CHECK(rename_no_replace(a, c) == -1 && errno == ENOENT); /* a is gone */
	CHECK(holds(c, "second"));
	unlink(b);
	unlink(c);
	rmdir(dir);
	free(a);
	free(b);
	free(c);
}

TEST(moves_between_directory_descriptors)
{
	char tmpl[] = "/tmp/test_no_replace.XXXXXX";
	char *dir = mkdtemp(tmpl);
	CHECK(dir != NULL);
	if (dir == NULL)
		return;
	char *sub = xasprintf("%s/sub", dir), *a = xasprintf("%s/a", dir);
	char *moved = xasprintf("%s/sub/a", dir), *taken = xasprintf("%s/sub/b", dir);
	CHECK(mkdir(sub, 0700) == 0);
	int from = open(dir, O_RDONLY | O_DIRECTORY), to = open(sub, O_RDONLY | O_DIRECTORY);
	CHECK(from >= 0 && to >= 0);
	put(a, "first");
	CHECK(rename_no_replace_at(from, "a", to, "a") == 0);
	CHECK(access(a, F_OK) != 0 && holds(moved, "first"));
	put(taken, "second");
	errno = 0;
	CHECK(rename_no_replace_at(to, "a", to, "b") == -1 && errno == EEXIST);
	CHECK(holds(moved, "first") && holds(taken, "second"));
	close(from);
	close(to);
	unlink(moved);
	unlink(taken);
	rmdir(sub);
	rmdir(dir);
	free(sub);
	free(a);
	free(moved);
	free(taken);
}

int main(void)
{
	RUN(moves_never_replaces);
	RUN(moves_between_directory_descriptors);
	return TESTING_DONE();
}

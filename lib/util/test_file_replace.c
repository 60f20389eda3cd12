/*
 * Unit tests for util/file_replace: new content and mode in place of the
 * old, an empty file, and failures that leave what was there and no
 * temporary file behind.
 */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/file_replace.h"
#include "util/testing.h"

static bool holds(const char *path, const char *text)
{
	char buf[128] = {0};
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return false;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	return n == strlen(text) && memcmp(buf, text, n) == 0;
}

/* Entries of dir besides . and .. */
static int entries(const char *dir)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

TEST(replaces_content_and_mode)
{
	char tmpl[] = "/tmp/file-replace-XXXXXX";
	char *dir = mkdtemp(tmpl);
	CHECK(dir != NULL);
	if (dir == NULL)
		return;
	char *path = xasprintf("%s/main.conf", dir);
	const char *error = NULL;
	CHECK(file_replace(path, "a = 1\n", 6, 0644, (gid_t)-1, &error) == 0);
	CHECK(holds(path, "a = 1\n"));
	CHECK(file_replace(path, "b = 2\nc = 3\n", 12, 0600, (gid_t)-1, &error) == 0);
	CHECK(holds(path, "b = 2\nc = 3\n"));
	struct stat st;
	CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600);
	CHECK(file_replace(path, NULL, 0, 0644, (gid_t)-1, &error) == 0);
	CHECK(stat(path, &st) == 0 && st.st_size == 0);
	CHECK(entries(dir) == 1); /* no temporary file left */
	unlink(path);
	rmdir(dir);
	free(path);
}

TEST(failure_leaves_what_was_there)
{
	char tmpl[] = "/tmp/file-replace-XXXXXX";
	char *dir = mkdtemp(tmpl);
	CHECK(dir != NULL);
	if (dir == NULL)
		return;
	/* A directory where the file should go: the rename fails. */
	char *path = xasprintf("%s/taken", dir);
	CHECK(mkdir(path, 0755) == 0);
	const char *error = NULL;
	CHECK(file_replace(path, "x\n", 2, 0644, (gid_t)-1, &error) == -1);
	CHECK(error != NULL && strstr(error, "rename into place") != NULL);
	CHECK(entries(dir) == 1); /* the directory only: the temporary file is gone */
	rmdir(path);
	/* A directory that does not exist: nothing to create it in. */
	char *nowhere = xasprintf("%s/missing/main.conf", dir);
	error = NULL;
	CHECK(file_replace(nowhere, "x\n", 2, 0644, (gid_t)-1, &error) == -1);
	CHECK(error != NULL && strncmp(error, "create ", 7) == 0 && errno == ENOENT);
	rmdir(dir);
	free(nowhere);
	free(path);
}

int main(void)
{
	RUN(replaces_content_and_mode);
	RUN(failure_leaves_what_was_there);
	return TESTING_DONE();
}

/*
 * Unit tests for dir_sync.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "util/dir_sync.h"
#include "util/testing.h"

TEST(sync_dir_and_parent)
{
	char dir[] = "/tmp/postern-dirsync-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	CHECK(dir_sync(dir) == 0);
	char file[64];
	snprintf(file, sizeof(file), "%s/f", dir);
	FILE *f = fopen(file, "w");
	CHECK(f != NULL);
	if (f)
		fclose(f);
	CHECK(dir_sync_parent(file) == 0);
	/* A file is not a directory; a missing path fails with its errno. */
	CHECK(dir_sync(file) == -1 && errno == ENOTDIR);
	unlink(file);
	CHECK(dir_sync(file) == -1 && errno == ENOENT);
	rmdir(dir);
}

int main(void)
{
	RUN(sync_dir_and_parent);
	return TESTING_DONE();
}

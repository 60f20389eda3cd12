/*
 * Unit tests for dir_sync.
 */
#include <errno.h>
#include <fcntl.h>
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

TEST(journal_options)
{
	CHECK(fs_journal_options_ordered("rw\nrelatime\ndata=ordered\nbarrier\n"));
	CHECK(fs_journal_options_ordered("rw\ndata=journal"));
	CHECK(!fs_journal_options_ordered("rw\ndata=writeback\n"));
	/* ext4 without a journal lists no data mode */
	CHECK(!fs_journal_options_ordered("rw\nbsddf\nnojournal_checksum\n"));
	CHECK(!fs_journal_options_ordered("xdata=ordered\ndata=orderedx\n"));
	CHECK(!fs_journal_options_ordered(""));
}

static bool ordered_at(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	bool ordered = fd >= 0 && fs_journal_ordered(fd);
	if (fd >= 0)
		close(fd);
	return ordered;
}

/* tmpfs has no journal; a fresh ext4 (as root) has an ordered one, and
 * the answer for one file system is not kept for another. */
TEST(journal_of_file_systems)
{
	if (access("/dev/shm", W_OK) == 0)
		CHECK(!ordered_at("/dev/shm"));
	char dir[64];
	if (!testing_mount_ext4(dir)) {
		printf("(no journalled ext4 to test on: needs root and a loop device)\n");
		return;
	}
	CHECK(ordered_at(dir));
	if (access("/dev/shm", W_OK) == 0)
		CHECK(!ordered_at("/dev/shm"));
	CHECK(ordered_at(dir));
	testing_unmount_ext4(dir);
}

int main(void)
{
	RUN(sync_dir_and_parent);
	RUN(journal_options);
	RUN(journal_of_file_systems);
	return TESTING_DONE();
}

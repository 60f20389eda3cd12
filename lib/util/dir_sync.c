/*
 * fsync of a directory, and whether the file system makes it redundant
 * (dir_sync.h).
 */
#include "util/dir_sync.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "util/alloc.h"

int dir_sync(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	int saved = errno;
	close(fd);
	errno = saved;
	return rc == 0 ? 0 : -1;
}

int dir_sync_parent(const char *path)
{
	char *copy = xstrdup(path);
	int rc = dir_sync(dirname(copy));
	int saved = errno;
	free(copy);
	errno = saved;
	return rc;
}

bool fs_journal_options_ordered(const char *options)
{
	/* One option a line; a journalled ext4 lists its data mode. */
	for (const char *line = options; *line;) {
		size_t len = strcspn(line, "\n");
		if ((len == 12 && strncmp(line, "data=ordered", 12) == 0) ||
		    (len == 12 && strncmp(line, "data=journal", 12) == 0))
			return true;
		line += len;
		if (*line == '\n')
			line++;
	}
	return false;
}

/* The ext4 options of block device dev: its name from /sys/dev/block. */
static bool device_journal_ordered(dev_t dev)
{
	char sys[64], target[PATH_MAX];
	snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u", major(dev), minor(dev));
	ssize_t n = readlink(sys, target, sizeof(target) - 1);
	if (n <= 0)
		return false;
	target[n] = '\0';
	const char *name = strrchr(target, '/');
	name = name ? name + 1 : target;
	char *path = xasprintf("/proc/fs/ext4/%s/options", name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd < 0)
		return false;
	char text[4096];
	size_t used = 0;
	ssize_t got;
	while (used < sizeof(text) - 1 &&
	       ((got = read(fd, text + used, sizeof(text) - 1 - used)) > 0 ||
	        (got < 0 && errno == EINTR)))
		if (got > 0)
			used += (size_t)got;
	close(fd);
	text[used] = '\0';
	return fs_journal_options_ordered(text);
}

bool fs_journal_ordered(int fd)
{
	static _Thread_local bool known;
	static _Thread_local dev_t known_dev;
	static _Thread_local bool known_ordered;
	struct stat st;
	if (fstat(fd, &st) != 0)
		return false;
	/* The device's answer is kept: one system call a file after the first. */
	if (!known || known_dev != st.st_dev) {
		struct statfs fs;
		if (fstatfs(fd, &fs) != 0)
			return false;
		known_ordered = fs.f_type == EXT4_SUPER_MAGIC && device_journal_ordered(st.st_dev);
		known_dev = st.st_dev;
		known = true;
	}
	return known_ordered;
}

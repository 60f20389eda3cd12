/*
 * fsync of a directory (dir_sync.h).
 */
#include "util/dir_sync.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
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

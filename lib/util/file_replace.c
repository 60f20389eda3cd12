/*
 * Replacing a whole file atomically (file_replace.h).
 */
#include "util/file_replace.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/dir_sync.h"

static _Thread_local char replace_error[512];

static int write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

int file_replace(const char *path, const void *data, size_t len, mode_t mode, gid_t gid,
                 const char **error_r)
{
	char *tmp = xasprintf("%s.tmpXXXXXX", path);
	int fd = mkstemp(tmp);
	const char *failed = NULL; /* what failed, about tmp */
	if (fd < 0)
		failed = "create";
	else if (fchmod(fd, mode) != 0 || (gid != (gid_t)-1 && fchown(fd, (uid_t)-1, gid) != 0))
		failed = "set the mode or group of";
	else if (write_all(fd, len ? data : "", len) != 0 || fsync(fd) != 0)
		failed = "write";
	else if (rename(tmp, path) != 0)
		failed = "rename into place";
	int rc = 0;
	if (failed) {
		snprintf(replace_error, sizeof(replace_error), "%s %s: %s", failed, tmp,
		         strerror(errno));
		if (fd >= 0)
			unlink(tmp);
		rc = -1;
	} else if (dir_sync_parent(path) != 0) {
		snprintf(replace_error, sizeof(replace_error), "fsync the directory of %s: %s",
		         path, strerror(errno));
		rc = -1;
	}
	int saved = errno;
	if (fd >= 0)
		close(fd);
	free(tmp);
	if (rc != 0)
		*error_r = replace_error;
	errno = saved;
	return rc;
}

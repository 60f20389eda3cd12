/*
 * Free space on the queue's file system (queue_space.h).
 */
#include "mail/queue_space.h"

#include <errno.h>
#include <string.h>
#include <sys/statvfs.h>

#include "util/log.h"

bool queue_free_bytes(const char *queue_dir, long long *free_r)
{
	struct statvfs st;
	if (statvfs(queue_dir, &st) != 0) {
		log_warn("statvfs %s: %s", queue_dir, strerror(errno));
		return false;
	}
	*free_r = (long long)st.f_bavail * (long long)st.f_frsize;
	return true;
}

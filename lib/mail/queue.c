/*
 * The queue on disk: its subdirectories, queue ids and moving a queue file
 * from one subdirectory to another (layout and format in queue.h), and the
 * error messages of the whole module. The rest of it: queue_envelope.c
 * (the envelope in memory), queue_writer.c (writing a queue file durably),
 * queue_read.c (parsing and validating one), queue_tmp.c (the files under
 * tmp/).
 */
#include "mail/queue.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "mail/queue_internal.h"
#include "util/alloc.h"
#include "util/dir_sync.h"
#include "util/no_replace.h"
#include "util/self_pid.h"

const char *const queue_dir_names[] = {"maildrop", "incoming", "active", "deferred", "hold",
                                       "corrupt",  "status",   "tmp",    NULL};

/* Per thread: qmgr's delivery threads write queue files at once. */
static _Thread_local char queue_error[512];

const char *queue_set_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(queue_error, sizeof(queue_error), fmt, ap);
	va_end(ap);
	return queue_error;
}

static int make_dir(const char *path, mode_t mode, uid_t owner, gid_t group, const char **error_r)
{
	struct stat st;
	if (mkdir(path, mode) == 0) {
		/* mkdir's mode went through the umask; set exactly what we want. */
		if (chmod(path, mode) != 0) {
			*error_r = queue_set_error("chmod %s: %s", path, strerror(errno));
			return -1;
		}
	} else if (errno != EEXIST) {
		*error_r = queue_set_error("mkdir %s: %s", path, strerror(errno));
		return -1;
	} else if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
		*error_r = queue_set_error("%s: exists and is not a directory", path);
		return -1;
	}
	if (owner != (uid_t)-1 && geteuid() == 0) {
		if (chown(path, owner, group) != 0 || chmod(path, mode) != 0) {
			*error_r = queue_set_error("chown %s: %s", path, strerror(errno));
			return -1;
		}
	}
	return 0;
}

int queue_make_dirs(const char *queue_dir, uid_t owner, gid_t group, const char **error_r)
{
	for (size_t i = 0; queue_dir_names[i]; i++) {
		char *path = xasprintf("%s/%s", queue_dir, queue_dir_names[i]);
		bool maildrop = strcmp(queue_dir_names[i], "maildrop") == 0;
		/* maildrop/ is written by the setgid drop helper: group-writable, sticky. */
		int rc = make_dir(path, maildrop ? 01730 : 0700, owner, group, error_r);
		free(path);
		if (rc != 0)
			return -1;
	}
	return 0;
}

void queue_id_new(char *buf)
{
	static _Atomic uint64_t last_usec;
	struct timeval tv;
	gettimeofday(&tv, NULL);
	uint64_t usec = (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
	/* Within a process ids strictly increase, even when two are made in the
	 * same microsecond (by two threads too) or the clock steps back. */
	uint64_t last = atomic_load(&last_usec);
	do {
		if (usec <= last)
			usec = last + 1;
	} while (!atomic_compare_exchange_weak(&last_usec, &last, usec));
	/* 52 bits of microseconds last until 2112; the low 12 bits of the pid
	 * keep concurrent processes apart (live pids 4096 apart are rare, and
	 * then the same microsecond is needed too; O_EXCL and a rename that
	 * never replaces catch what is left). */
	unsigned tail = (unsigned)self_pid() & 0xFFFu;
	snprintf(buf, QUEUE_ID_LEN + 1, "%013llX%03X",
	         (unsigned long long)(usec & 0xFFFFFFFFFFFFFull), tail);
}

bool queue_id_valid(const char *id)
{
	if (id == NULL)
		return false;
	size_t i = 0;
	for (; id[i]; i++)
		if (i >= QUEUE_ID_LEN ||
		    !((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'A' && id[i] <= 'F')))
			return false;
	return i == QUEUE_ID_LEN;
}

int queue_fsync_dir(const char *dir, const char **error_r)
{
	if (dir_sync(dir) != 0) {
		*error_r = queue_set_error("fsync %s: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

int queue_move(const char *queue_dir, const char *id, const char *from, const char *to,
               const char **error_r)
{
	char *src = xasprintf("%s/%s/%s", queue_dir, from, id);
	char *dst = xasprintf("%s/%s/%s", queue_dir, to, id);
	int rc = rename_no_replace(src, dst);
	int saved = errno;
	if (rc != 0)
		*error_r = queue_set_error("move %s to %s/: %s", src, to, strerror(errno));
	free(src);
	free(dst);
	if (rc != 0) {
		errno = saved;
		return -1;
	}
	char *dir = xasprintf("%s/%s", queue_dir, to);
	rc = queue_fsync_dir(dir, error_r);
	free(dir);
	if (rc == 0) {
		dir = xasprintf("%s/%s", queue_dir, from);
		rc = queue_fsync_dir(dir, error_r);
		free(dir);
	}
	/* The move itself happened; a failed fsync is reported, not undone. */
	errno = 0;
	return rc == 0 ? 0 : 1;
}

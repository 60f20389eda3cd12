/*
 * Writing the status log status/ID (format and reading in
 * lib/mail/status_log.h): qmgr alone appends to it, fsync'd after each
 * batch, so that a crashed qmgr never delivers a recipient twice nor
 * forgets one. A batch is all or nothing: when a write fails (disk full,
 * I/O error) the file is cut back to where it was, and the caller decides
 * (qmgr/message.c defers the message). A log is only ever made for a
 * message in active/: if mailctl queue delete removed the message and its
 * log meanwhile, the log is not made again (message.c drops the message
 * at the end of the attempt).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qmgr/qmgr.h"
#include "util/alloc.h"
#include "util/ipc.h"
#include "util/str.h"

static char *status_path(const char *id)
{
	return xasprintf("%s/status/%s", qmgr.queue_dir, id);
}

int status_log_load(const char *id, size_t first, size_t count, struct status_log *log,
                    const char **error_r)
{
	return status_log_read_window(qmgr.queue_dir, id, first, count, true, log, error_r);
}

/* Is queue_dir/active/ID still there? */
static bool still_active(const char *id)
{
	char *path = xasprintf("%s/active/%s", qmgr.queue_dir, id);
	struct stat st;
	bool there = lstat(path, &st) == 0 || errno != ENOENT;
	free(path);
	return there;
}

/* Write data at the end of fd (size bytes long), then fsync; on failure
 * cut the file back to size, so that no torn record is left for later
 * records to follow. */
static int write_and_sync(int fd, off_t size, const struct str *data, const char **error_r)
{
	size_t done = 0;
	int rc = 0;
	while (rc == 0 && done < data->len) {
		ssize_t n = write(fd, data->data + done, data->len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*error_r = n < 0 ? strerror(errno) : "short write";
			rc = -1;
		} else {
			done += (size_t)n;
		}
	}
	if (rc == 0 && fsync(fd) != 0) {
		*error_r = strerror(errno);
		rc = -1;
	}
	if (rc != 0 && done > 0 && ftruncate(fd, size) == 0)
		(void)fsync(fd);
	return rc;
}

static int append_and_sync(const char *id, const struct str *data, const char **error_r)
{
	char *path = status_path(id);
	int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		if (!still_active(id)) {
			free(path);
			return 0; /* deleted meanwhile: nothing to record */
		}
		/* A new log: a recycled file if there is one (see queue.h). */
		fd = queue_take_free_file(qmgr.queue_dir, path, O_WRONLY | O_APPEND);
		if (fd < 0)
			fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	}
	free(path);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		*error_r = strerror(errno);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	int rc = write_and_sync(fd, st.st_size, data, error_r);
	close(fd);
	return rc;
}

int status_log_append_rcpts(const char *id, const struct status_log *log, const size_t *indexes,
                            size_t count, const char **error_r)
{
	struct str out = STR_INIT;
	for (size_t i = 0; i < count; i++) {
		const struct rcpt_result *r = &log->rcpts[indexes[i]];
		struct ipc_rec *rec = ipc_rec_new("rcpt_status");
		ipc_rec_add_int(rec, "index", (int64_t)(log->rcpt_first + indexes[i]));
		ipc_rec_add_str(rec, "state", rcpt_state_name(r->state));
		ipc_rec_add_str(rec, "status", r->status ? r->status : "");
		ipc_rec_add_str(rec, "reason", r->reason ? r->reason : "");
		ipc_rec_add_int(rec, "time", r->time);
		if (r->notified)
			ipc_rec_add_int(rec, "notified", 1);
		if (r->remote_mta)
			ipc_rec_add_str(rec, "remote_mta", r->remote_mta);
		if (r->diagnostic)
			ipc_rec_add_str(rec, "diagnostic", r->diagnostic);
		if (r->dsn != RCPT_DSN_DELIVERED)
			ipc_rec_add_str(rec, "dsn", rcpt_dsn_name(r->dsn));
		ipc_rec_encode(rec, &out);
		ipc_rec_free(rec);
	}
	int rc = append_and_sync(id, &out, error_r);
	str_free(&out);
	return rc;
}

int status_log_append_message(const char *id, int64_t attempts, int64_t next_attempt,
                              const char **error_r)
{
	struct str out = STR_INIT;
	struct ipc_rec *rec = ipc_rec_new("message_status");
	ipc_rec_add_int(rec, "attempts", attempts);
	ipc_rec_add_int(rec, "next_attempt", next_attempt);
	ipc_rec_encode(rec, &out);
	ipc_rec_free(rec);
	int rc = append_and_sync(id, &out, error_r);
	str_free(&out);
	return rc;
}

int status_log_append_delay_warning(const char *id, int64_t when, const char **error_r)
{
	struct str out = STR_INIT;
	struct ipc_rec *rec = ipc_rec_new("delay_warning");
	ipc_rec_add_int(rec, "time", when);
	ipc_rec_encode(rec, &out);
	ipc_rec_free(rec);
	int rc = append_and_sync(id, &out, error_r);
	str_free(&out);
	return rc;
}

void status_log_remove(const char *id)
{
	char *path = status_path(id);
	queue_file_recycle(qmgr.queue_dir, path);
	free(path);
}

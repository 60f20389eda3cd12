/*
 * Writing the status log status/ID (format and reading in
 * lib/mail/status_log.h): qmgr alone appends to it, fsync'd after each
 * batch, so that a crashed qmgr never delivers a recipient twice nor
 * forgets one.
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

static int append_and_sync(const char *id, const struct str *data, const char **error_r)
{
	char *path = status_path(id);
	int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		/* A new log: a recycled file if there is one (see queue.h). */
		fd = queue_take_free_file(qmgr.queue_dir, path, O_WRONLY | O_APPEND);
		if (fd < 0)
			fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	}
	free(path);
	if (fd < 0) {
		*error_r = strerror(errno);
		return -1;
	}
	size_t done = 0;
	while (done < data->len) {
		ssize_t n = write(fd, data->data + done, data->len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*error_r = n < 0 ? strerror(errno) : "short write";
			close(fd);
			return -1;
		}
		done += (size_t)n;
	}
	if (fsync(fd) != 0) {
		*error_r = strerror(errno);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
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

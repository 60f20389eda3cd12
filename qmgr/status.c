/*
 * The status log status/ID: an append-only sequence of IPC records that
 * qmgr alone writes, fsync'd after each batch, so that a crashed qmgr never
 * delivers a recipient twice nor forgets one:
 *   "rcpt_status"    index (i), state (s), status (s), reason (s), time (i),
 *                    notified (i, optional: 1 once its DSN is queued)
 *   "message_status" attempts (i), next_attempt (i)
 *   "delay_warning"  time (i): the sender was warned about the delay
 * The last record for an index wins. A torn record at the end (a crash in
 * the middle of a write) is cut off when the log is loaded.
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

#define STATUS_MAX_RECORD (64 * 1024)

static char *status_path(const char *id)
{
	return xasprintf("%s/status/%s", qmgr.queue_dir, id);
}

const char *rcpt_state_name(enum rcpt_state state)
{
	switch (state) {
	case RCPT_DELIVERED:
		return "delivered";
	case RCPT_DEFERRED:
		return "deferred";
	case RCPT_BOUNCED:
		return "bounced";
	case RCPT_PENDING:
		break;
	}
	return "pending";
}

enum rcpt_state rcpt_state_parse(const char *name)
{
	if (name == NULL)
		return RCPT_PENDING;
	if (strcmp(name, "delivered") == 0)
		return RCPT_DELIVERED;
	if (strcmp(name, "deferred") == 0)
		return RCPT_DEFERRED;
	if (strcmp(name, "bounced") == 0)
		return RCPT_BOUNCED;
	return RCPT_PENDING;
}

void rcpt_result_set(struct rcpt_result *r, enum rcpt_state state, const char *status,
                     const char *reason, int64_t when)
{
	char *new_status = xstrdup(status ? status : "");
	char *new_reason = xstrdup(reason ? reason : "");
	rcpt_result_free(r);
	r->state = state;
	r->status = new_status;
	r->reason = new_reason;
	r->time = when;
	r->notified = false;
}

void rcpt_result_free(struct rcpt_result *r)
{
	free(r->status);
	free(r->reason);
	r->status = NULL;
	r->reason = NULL;
}

static int read_all(int fd, struct str *buf)
{
	char chunk[8192];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		str_append(buf, chunk, (size_t)n);
	}
}

static void apply_record(struct status_log *log, const struct ipc_rec *rec)
{
	int64_t index, when = 0, attempts, next, notified = 0;
	if (ipc_rec_is(rec, "rcpt_status") && ipc_rec_get_int(rec, "index", &index)) {
		if (index < 0 || (uint64_t)index >= log->rcpt_count)
			return;
		ipc_rec_get_int(rec, "time", &when);
		rcpt_result_set(&log->rcpts[index], rcpt_state_parse(ipc_rec_get_str(rec, "state")),
		                ipc_rec_get_str(rec, "status"), ipc_rec_get_str(rec, "reason"),
		                when);
		ipc_rec_get_int(rec, "notified", &notified);
		log->rcpts[index].notified = notified != 0;
	} else if (ipc_rec_is(rec, "delay_warning") && ipc_rec_get_int(rec, "time", &when)) {
		log->delay_warned = when;
	} else if (ipc_rec_is(rec, "message_status") &&
	           ipc_rec_get_int(rec, "attempts", &attempts) &&
	           ipc_rec_get_int(rec, "next_attempt", &next)) {
		log->attempts = attempts;
		log->next_attempt = next;
	}
}

int status_log_load(const char *id, size_t rcpt_count, struct status_log *log, const char **error_r)
{
	memset(log, 0, sizeof(*log));
	log->rcpts = xcalloc(rcpt_count ? rcpt_count : 1, sizeof(*log->rcpts));
	log->rcpt_count = rcpt_count;
	char *path = status_path(id);
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		free(path);
		if (errno == ENOENT)
			return 0;
		*error_r = strerror(errno);
		return -1;
	}
	struct str buf = STR_INIT;
	int rc = read_all(fd, &buf);
	size_t pos = 0;
	while (rc == 0 && pos < buf.len) {
		struct ipc_rec *rec;
		size_t used;
		const char *error;
		if (ipc_rec_decode(buf.data + pos, buf.len - pos, STATUS_MAX_RECORD, &rec, &used,
		                   &error) != 1)
			break;
		apply_record(log, rec);
		ipc_rec_free(rec);
		pos += used;
	}
	if (rc == 0 && pos < buf.len) /* a torn tail: later appends must follow good records */
		rc = ftruncate(fd, (off_t)pos);
	if (rc != 0)
		*error_r = strerror(errno);
	str_free(&buf);
	close(fd);
	free(path);
	return rc == 0 ? 0 : -1;
}

void status_log_free(struct status_log *log)
{
	for (size_t i = 0; i < log->rcpt_count; i++)
		rcpt_result_free(&log->rcpts[i]);
	free(log->rcpts);
	memset(log, 0, sizeof(*log));
}

static int append_and_sync(const char *id, const struct str *data, const char **error_r)
{
	char *path = status_path(id);
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
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
		ipc_rec_add_int(rec, "index", (int64_t)indexes[i]);
		ipc_rec_add_str(rec, "state", rcpt_state_name(r->state));
		ipc_rec_add_str(rec, "status", r->status ? r->status : "");
		ipc_rec_add_str(rec, "reason", r->reason ? r->reason : "");
		ipc_rec_add_int(rec, "time", r->time);
		if (r->notified)
			ipc_rec_add_int(rec, "notified", 1);
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
	unlink(path);
	free(path);
}

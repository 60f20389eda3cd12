/*
 * Reading the per-message status log (format in status_log.h).
 */
#include "mail/status_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/ipc.h"
#include "util/str.h"

#define STATUS_MAX_RECORD (64 * 1024)

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

static char *dup_or_null(const char *text)
{
	return text && *text ? xstrdup(text) : NULL;
}

void rcpt_result_set_remote(struct rcpt_result *r, const char *remote_mta, const char *diagnostic,
                            enum rcpt_dsn dsn)
{
	char *mta = dup_or_null(remote_mta), *diag = dup_or_null(diagnostic);
	free(r->remote_mta);
	free(r->diagnostic);
	r->remote_mta = mta;
	r->diagnostic = diag;
	r->dsn = dsn;
}

void rcpt_result_copy(struct rcpt_result *dst, const struct rcpt_result *src)
{
	if (dst == src)
		return;
	rcpt_result_set(dst, src->state, src->status, src->reason, src->time);
	rcpt_result_set_remote(dst, src->remote_mta, src->diagnostic, src->dsn);
	dst->notified = src->notified;
}

void rcpt_result_free(struct rcpt_result *r)
{
	free(r->status);
	free(r->reason);
	free(r->remote_mta);
	free(r->diagnostic);
	r->status = NULL;
	r->reason = NULL;
	r->remote_mta = NULL;
	r->diagnostic = NULL;
	r->dsn = RCPT_DSN_DELIVERED;
}

static const char *const dsn_names[] = {"delivered", "relayed", "passed", "expanded"};

const char *rcpt_dsn_name(enum rcpt_dsn dsn)
{
	return dsn_names[dsn];
}

enum rcpt_dsn rcpt_dsn_parse(const char *name)
{
	for (size_t i = 0; name && i < sizeof(dsn_names) / sizeof(dsn_names[0]); i++)
		if (strcmp(name, dsn_names[i]) == 0)
			return (enum rcpt_dsn)i;
	return RCPT_DSN_DELIVERED;
}

void status_log_init(struct status_log *log, size_t rcpt_count)
{
	memset(log, 0, sizeof(*log));
	log->rcpts = xcalloc(rcpt_count ? rcpt_count : 1, sizeof(*log->rcpts));
	log->rcpt_count = rcpt_count;
}

void status_log_free(struct status_log *log)
{
	for (size_t i = 0; i < log->rcpt_count; i++)
		rcpt_result_free(&log->rcpts[i]);
	free(log->rcpts);
	memset(log, 0, sizeof(*log));
}

static void apply_record(struct status_log *log, const struct ipc_rec *rec)
{
	int64_t index, when = 0, attempts, next, notified = 0;
	if (ipc_rec_is(rec, "rcpt_status") && ipc_rec_get_int(rec, "index", &index)) {
		if (index < 0 || (uint64_t)index < log->rcpt_first ||
		    (uint64_t)index - log->rcpt_first >= log->rcpt_count)
			return;
		struct rcpt_result *r = &log->rcpts[(uint64_t)index - log->rcpt_first];
		ipc_rec_get_int(rec, "time", &when);
		rcpt_result_set(r, rcpt_state_parse(ipc_rec_get_str(rec, "state")),
		                ipc_rec_get_str(rec, "status"), ipc_rec_get_str(rec, "reason"),
		                when);
		rcpt_result_set_remote(r, ipc_rec_get_str(rec, "remote_mta"),
		                       ipc_rec_get_str(rec, "diagnostic"),
		                       rcpt_dsn_parse(ipc_rec_get_str(rec, "dsn")));
		ipc_rec_get_int(rec, "notified", &notified);
		r->notified = notified != 0;
	} else if (ipc_rec_is(rec, "delay_warning") && ipc_rec_get_int(rec, "time", &when)) {
		log->delay_warned = when;
	} else if (ipc_rec_is(rec, "message_status") &&
	           ipc_rec_get_int(rec, "attempts", &attempts) &&
	           ipc_rec_get_int(rec, "next_attempt", &next)) {
		log->attempts = attempts;
		log->next_attempt = next;
	}
}

size_t status_log_parse(const void *data, size_t len, struct status_log *log)
{
	size_t pos = 0;
	while (pos < len) {
		struct ipc_rec *rec;
		size_t used;
		const char *error;
		if (ipc_rec_decode((const char *)data + pos, len - pos, STATUS_MAX_RECORD, &rec,
		                   &used, &error) != 1)
			break;
		apply_record(log, rec);
		ipc_rec_free(rec);
		pos += used;
	}
	return pos;
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

int status_log_read(const char *queue_dir, const char *id, size_t rcpt_count, bool repair,
                    struct status_log *log, const char **error_r)
{
	return status_log_read_window(queue_dir, id, 0, rcpt_count, repair, log, error_r);
}

int status_log_read_window(const char *queue_dir, const char *id, size_t first, size_t count,
                           bool repair, struct status_log *log, const char **error_r)
{
	status_log_init(log, count);
	log->rcpt_first = first;
	char *path = xasprintf("%s/status/%s", queue_dir, id);
	int fd = open(path, (repair ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW);
	free(path);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		*error_r = strerror(errno);
		return -1;
	}
	log->on_disk = true;
	struct str buf = STR_INIT;
	int rc = read_all(fd, &buf);
	size_t good = rc == 0 ? status_log_parse(buf.data, buf.len, log) : 0;
	if (rc == 0 && repair && good < buf.len)
		rc = ftruncate(fd, (off_t)good);
	if (rc != 0)
		*error_r = strerror(errno);
	str_free(&buf);
	close(fd);
	return rc == 0 ? 0 : -1;
}

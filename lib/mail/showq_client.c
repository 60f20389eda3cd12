/*
 * The client side of the showq protocol (see showq_client.h).
 */
#include "mail/showq_client.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/ipc.h"
#include "util/sock.h"

/* A full backlog (every showq process busy) is waited for this long. */
#define SHOWQ_CONNECT_TIMEOUT_MS 10000
/* showq reads the whole queue before its first record. */
#define SHOWQ_READ_TIMEOUT_MS 60000
/* A "text" record: the chunk and the record's own few bytes. */
#define SHOWQ_MAX_RECORD (SHOWQ_CHUNK + 256)

static char showq_error[512];

static int fail(int status, int *status_r, const char **error_r, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(int status, int *status_r, const char **error_r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(showq_error, sizeof(showq_error), fmt, ap);
	va_end(ap);
	*status_r = status;
	*error_r = showq_error;
	return -1;
}

int showq_client_fetch(const char *queue_dir, struct str *out, int *status_r, const char **error_r)
{
	char *path = xasprintf("%s/public/%s", queue_dir, SHOWQ_SERVICE);
	const char *error;
	int fd = sock_connect_unix(path, SHOWQ_CONNECT_TIMEOUT_MS, &error);
	int err = errno;
	free(path);
	if (fd < 0) {
		/* As postqueue: no permission is not "down". */
		if (err == EACCES || err == EPERM)
			return fail(EX_SOFTWARE, status_r, error_r,
			            "Connect to the Postern showq service: %s", strerror(err));
		return fail(EX_UNAVAILABLE, status_r, error_r,
		            "Queue report unavailable - mail system is down (Connect to the "
		            "Postern showq service: %s)",
		            strerror(err));
	}
	int rc = -1;
	for (;;) {
		struct ipc_rec *rec = NULL;
		int got = ipc_read(fd, &rec, SHOWQ_MAX_RECORD, SHOWQ_READ_TIMEOUT_MS, &error);
		if (got != 1) {
			fail(EX_SOFTWARE, status_r, error_r, "showq service: %s",
			     got == 0 ? "the listing ended early" : error);
			break;
		}
		size_t len;
		const char *data = ipc_rec_get_data(rec, "data", &len);
		const char *reason = ipc_rec_get_str(rec, "reason");
		if (ipc_rec_is(rec, SHOWQ_TEXT) && data != NULL) {
			str_append(out, data, len);
			ipc_rec_free(rec);
			continue;
		}
		if (ipc_rec_is(rec, SHOWQ_END))
			rc = 0;
		else if (ipc_rec_is(rec, SHOWQ_ERROR) && reason != NULL)
			fail(EX_SOFTWARE, status_r, error_r, "showq service: %s", reason);
		else
			fail(EX_SOFTWARE, status_r, error_r,
			     "showq service: unexpected record \"%s\"", rec->name);
		ipc_rec_free(rec);
		break;
	}
	close(fd);
	return rc;
}

/*
 * Waking a queue daemon through its public socket (see wakeup.h). smtpd,
 * pickup, local (forwarded copies), postdrop and mailctl all wake qmgr or
 * pickup this way.
 */
#include "mail/wakeup.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/ipc.h"
#include "util/sock.h"

/* One non-blocking attempt: the socket, or -1 with errno (EAGAIN when the
 * backlog is full). */
static int connect_once(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	int rc;
	while ((rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun))) != 0 && errno == EINTR)
		;
	if (rc != 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

bool mail_wakeup(const char *socket_path, bool flush, int timeout_ms)
{
	int fd;
	if (flush) {
		const char *error;
		fd = sock_connect_unix(socket_path, timeout_ms, &error);
	} else {
		fd = connect_once(socket_path);
		if (fd < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return true; /* wake-ups are pending: one of them is ours */
	}
	if (fd < 0)
		return false;
	struct ipc_rec *rec = ipc_rec_new("wakeup");
	if (flush)
		ipc_rec_add_int(rec, "flush", 1);
	/* A full socket buffer on a fresh connection is a daemon that reads
	 * nothing: the connection alone still counts as a wake-up. */
	bool ok = ipc_write(fd, rec, timeout_ms) == 0 || !flush;
	ipc_rec_free(rec);
	close(fd);
	return ok;
}

/*
 * Waking a queue daemon through its public socket (see wakeup.h). smtpd,
 * pickup, local (forwarded copies), postdrop and mailctl all wake qmgr or
 * pickup this way.
 */
#include "mail/wakeup.h"

#include <errno.h>
#include <unistd.h>

#include "util/ipc.h"
#include "util/sock.h"

bool mail_wakeup(const char *socket_path, bool flush, int timeout_ms)
{
	/* A plain wake-up makes one connection attempt (timeout 0). */
	const char *error;
	int fd = sock_connect_unix_nonblock(socket_path, flush ? timeout_ms : 0, &error);
	if (fd < 0 && !flush && errno == ETIMEDOUT)
		return true; /* a full backlog: wake-ups are pending, one is ours */
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

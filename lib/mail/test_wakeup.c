/* Unit tests for mail/wakeup: the record a daemon gets, flush, a daemon
 * that is not there, and a full backlog that must not make the caller
 * wait. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "mail/wakeup.h"
#include "util/alloc.h"
#include "util/event.h"
#include "util/ipc.h"
#include "util/sock.h"
#include "util/testing.h"

static char *socket_path(char *dir)
{
	CHECK(mkdtemp(dir) != NULL);
	return xasprintf("%s/qmgr", dir);
}

/* The record on the next connection of listen_fd, or NULL. */
static struct ipc_rec *next_record(int listen_fd)
{
	int fd = accept(listen_fd, NULL, NULL);
	if (fd < 0)
		return NULL;
	struct ipc_rec *rec = NULL;
	const char *error;
	if (ipc_read(fd, &rec, 4096, 1000, &error) != 1)
		rec = NULL;
	close(fd);
	return rec;
}

TEST(plain_and_flush)
{
	char dir[] = "/tmp/postern-wakeup-XXXXXX";
	char *path = socket_path(dir);
	const char *error;
	int lfd = sock_listen_unix(path, 0600, 16, &error);
	CHECK(lfd >= 0);
	CHECK(mail_wakeup(path, false, 1000));
	struct ipc_rec *rec = next_record(lfd);
	CHECK(rec != NULL && ipc_rec_is(rec, "wakeup"));
	int64_t flush = 0;
	CHECK(rec != NULL && !ipc_rec_get_int(rec, "flush", &flush));
	ipc_rec_free(rec);
	CHECK(mail_wakeup(path, true, 1000));
	rec = next_record(lfd);
	CHECK(rec != NULL && ipc_rec_get_int(rec, "flush", &flush) && flush == 1);
	ipc_rec_free(rec);
	close(lfd);
	unlink(path);
	/* Nobody listening: the mail waits, the caller is told. */
	CHECK(!mail_wakeup(path, false, 1000));
	CHECK(!mail_wakeup(path, true, 100));
	rmdir(dir);
	free(path);
}

TEST(full_backlog_is_a_pending_wakeup)
{
	char dir[] = "/tmp/postern-wakeup-XXXXXX";
	char *path = socket_path(dir);
	const char *error;
	int lfd = sock_listen_unix(path, 0600, 1, &error);
	CHECK(lfd >= 0);
	/* Fill the backlog with connections nobody accepts. */
	int held[8];
	int n = 0;
	while (n < 8) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
		struct sockaddr_un sun = {.sun_family = AF_UNIX};
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
			close(fd);
			break;
		}
		held[n++] = fd;
	}
	CHECK(n < 8); /* the backlog did fill */
	int64_t start = event_now_ms();
	CHECK(mail_wakeup(path, false, 2000));
	CHECK(event_now_ms() - start < 500); /* no waiting for room */
	/* A flush is retried until the daemon takes it (here: never). */
	start = event_now_ms();
	CHECK(!mail_wakeup(path, true, 200));
	CHECK(event_now_ms() - start >= 150);
	for (int i = 0; i < n; i++)
		close(held[i]);
	close(lfd);
	unlink(path);
	rmdir(dir);
	free(path);
}

int main(void)
{
	RUN(plain_and_flush);
	RUN(full_backlog_is_a_pending_wakeup);
	return TESTING_DONE();
}

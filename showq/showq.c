/*
 * showq: the mail queue listing for users who may not read the queue
 * (Postfix's showq). The queue directories belong to mail_owner alone;
 * showq runs as mail_owner and hands the listing, in Postfix's mailq
 * format, to any local client of queue_directory/public/showq: mailq and
 * sendmail -bp run by such a user (`mailctl queue list --mailq`, through
 * the set-gid postdrop -p, which may reach public/). Root and mail_owner
 * read the queue themselves, so their mailq works while master is down.
 *
 * The client is untrusted: showq reads nothing from it (protocol in
 * mail/showq_client.h), and a client that does not take the listing
 * within SHOWQ_DEADLINE_MS is dropped. One connection at a time per
 * process; master starts more up to the service's process limit.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "mail/mailq.h"
#include "mail/queue_scan.h"
#include "mail/showq_client.h"
#include "server/server.h"
#include "util/ipc.h"
#include "util/log.h"
#include "util/str.h"

/* The most time one client gets to take its whole listing. */
#define SHOWQ_DEADLINE_MS 60000

static const char *queue_dir;

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Send rec within what is left until deadline; false (logged) if not. */
static bool send_record(int fd, struct ipc_rec *rec, int64_t deadline)
{
	int64_t left = deadline - now_ms();
	int rc = left > 0 ? ipc_write(fd, rec, (int)left) : (errno = ETIMEDOUT, -1);
	ipc_rec_free(rec);
	if (rc == 0)
		return true;
	if (errno == ETIMEDOUT)
		log_warn("client did not take the queue listing within %ds; dropped",
		         SHOWQ_DEADLINE_MS / 1000);
	else
		log_debug("write to client: %m");
	return false;
}

/* The listing (the queue read after the client arrived), in chunks. */
static void serve(struct server *srv, int fd)
{
	(void)srv;
	struct queue_scan list = {0};
	const char *error;
	int rc = queue_scan_load(queue_dir, &list, &error);
	/* The deadline is for the client: the scan's own time does not count. */
	int64_t deadline = now_ms() + SHOWQ_DEADLINE_MS;
	if (rc != 0) {
		log_warn("cannot read the queue: %s", error);
		struct ipc_rec *rec = ipc_rec_new(SHOWQ_ERROR);
		ipc_rec_add_str(rec, "reason", "cannot read the mail queue; see the mail log");
		send_record(fd, rec, deadline);
		queue_scan_free(&list);
		return;
	}
	struct str text = STR_INIT;
	mailq_format(&list, &text);
	size_t messages = list.count;
	queue_scan_free(&list);
	bool ok = true;
	for (size_t off = 0; ok && off < text.len; off += SHOWQ_CHUNK) {
		size_t n = text.len - off < SHOWQ_CHUNK ? text.len - off : SHOWQ_CHUNK;
		struct ipc_rec *rec = ipc_rec_new(SHOWQ_TEXT);
		ipc_rec_add_data(rec, "data", text.data + off, n);
		ok = send_record(fd, rec, deadline);
	}
	if (ok && send_record(fd, ipc_rec_new(SHOWQ_END), deadline))
		log_debug("listed %zu queue files", messages);
	str_free(&text);
}

static void init(struct server *srv)
{
	queue_dir = conf_get(server_conf(srv), "queue_directory");
}

int main(int argc, char **argv)
{
	static const struct server_ops ops = {
	    .mode = SERVER_SINGLE,
	    .init = init,
	    .serve = serve,
	};
	return server_main(argc, argv, &ops, NULL);
}

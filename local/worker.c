/*
 * Long-lived delivery children: instead of forking for every Maildir
 * delivery (which made fork, page faults and exit a fifth of all CPU when
 * mail streams in), local keeps a few children, one per set of
 * credentials, each of which became its user for good when it was made
 * (local_become: root not regainable) and then runs one job after another.
 *
 * A job is one IPC record on a socket pair, preceded by the descriptors it
 * needs: the queue file (read only) and the qmgr connection of the request
 * (for local_child_abandoned). The child reports on the same socket with
 * local_child_report and closes both descriptors before it reads the next
 * job. A child that does not answer within the job's time limit is killed
 * and replaced; one whose parent went away sees end of file and exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "local/local.h"
#include "util/alloc.h"
#include "util/log.h"
#include "util/sock.h"

/* How many children (distinct credentials) are kept. */
#define WORKER_SLOTS 4
/* The largest job record (paths and addresses). */
#define WORKER_JOB_MAX (64 * 1024)

struct worker {
	pid_t pid; /* 0: slot unused */
	int fd;
	uid_t uid;
	gid_t gid;
	char *user;
	gid_t extra_gid;
	bool allow_root;
	unsigned long last_used;
};

static struct worker workers[WORKER_SLOTS];
static unsigned long use_clock;

static bool same_creds(const struct worker *w, const struct local_creds *c)
{
	return w->pid > 0 && w->uid == c->uid && w->gid == c->gid && w->extra_gid == c->extra_gid &&
	       w->allow_root == c->allow_root &&
	       ((w->user == NULL && c->user == NULL) ||
	        (w->user && c->user && strcmp(w->user, c->user) == 0));
}

static void worker_stop(struct worker *w, bool force)
{
	if (w->pid <= 0)
		return;
	close(w->fd);
	if (force)
		kill(w->pid, SIGKILL);
	while (waitpid(w->pid, NULL, 0) < 0 && errno == EINTR)
		;
	free(w->user);
	memset(w, 0, sizeof(*w));
}

/* Send a descriptor (or a marker that there is none) ahead of a job. */
static int send_desc(int sock, int fd)
{
	if (fd >= 0)
		return sock_send_fd(sock, fd, "F", 1) == 1 ? 0 : -1;
	ssize_t n;
	while ((n = send(sock, "N", 1, MSG_NOSIGNAL)) < 0 && errno == EINTR)
		;
	return n == 1 ? 0 : -1;
}

/* In the child: the next descriptor; 0 with *fd_r (-1 for none), -1 at end. */
static int recv_desc(int sock, int *fd_r)
{
	char mark = 0;
	ssize_t n = sock_recv_fd(sock, fd_r, &mark, 1);
	if (n != 1 || (mark == 'F') != (*fd_r >= 0)) {
		if (*fd_r >= 0)
			close(*fd_r);
		return -1;
	}
	return 0;
}

static void worker_run_job(const struct ipc_rec *job, int msg_fd, int report_fd)
{
	if (ipc_rec_is(job, "maildir"))
		local_maildir_job(job, msg_fd, report_fd);
	else
		local_child_report(report_fd, "deferred", "4.3.0", "delivery process: unknown job");
}

/* Close every descriptor above standard error except a and b. */
static void close_all_but(int a, int b)
{
	int lo = a < b ? a : b, hi = a < b ? b : a;
	unsigned from = STDERR_FILENO + 1;
	int keep[2] = {lo, hi};
	for (int i = 0; i < 2; i++) {
		if (keep[i] < (int)from)
			continue;
		if ((unsigned)keep[i] > from)
			close_range(from, (unsigned)keep[i] - 1, 0);
		from = (unsigned)keep[i] + 1;
	}
	close_range(from, ~0U, 0);
}

/* The child's life: become the user once, then serve jobs until the parent
 * closes the socket. */
static _Noreturn void worker_main(int sock, const struct local_creds *creds)
{
	signal(SIGPIPE, SIG_IGN);
	/* Keep standard error, the log file and the socket; nothing of the
	 * parent's requests (queue files, the qmgr connection, listeners)
	 * stays open. */
	close_all_but(sock, log_file_fd());
	local_qmgr_set(-1);
	const char *error = "";
	bool became = local_become(creds, &error) == 0;
	char *why =
	    became ? NULL : xasprintf("cannot change to user id %ld: %s", (long)creds->uid, error);
	for (;;) {
		int msg_fd = -1, qmgr_fd = -1;
		if (recv_desc(sock, &msg_fd) != 0 || recv_desc(sock, &qmgr_fd) != 0)
			break;
		struct ipc_rec *job = NULL;
		const char *read_error;
		int rc = ipc_read(sock, &job, WORKER_JOB_MAX, -1, &read_error);
		if (rc == 1) {
			if (why) {
				local_child_report(sock, "deferred", "4.3.0", why);
			} else {
				local_qmgr_set(qmgr_fd);
				worker_run_job(job, msg_fd, sock);
				local_qmgr_set(-1);
			}
		}
		ipc_rec_free(job);
		if (msg_fd >= 0)
			close(msg_fd);
		if (qmgr_fd >= 0)
			close(qmgr_fd);
		if (rc != 1 || why)
			break;
	}
	_exit(0);
}

static struct worker *worker_get(const struct local_creds *creds, const char **error_r)
{
	struct worker *slot = &workers[0];
	for (int i = 0; i < WORKER_SLOTS; i++) {
		if (same_creds(&workers[i], creds))
			return &workers[i];
		if (workers[i].pid == 0 ||
		    (slot->pid != 0 && workers[i].last_used < slot->last_used))
			slot = &workers[i];
	}
	worker_stop(slot, false); /* the least recently used one goes */
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		*error_r = "cannot create socket pair";
		return NULL;
	}
	pid_t pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		*error_r = "cannot fork delivery process";
		return NULL;
	}
	if (pid == 0) {
		close(sv[0]);
		worker_main(sv[1], creds);
	}
	close(sv[1]);
	slot->pid = pid;
	slot->fd = sv[0];
	slot->uid = creds->uid;
	slot->gid = creds->gid;
	slot->user = creds->user ? xstrdup(creds->user) : NULL;
	slot->extra_gid = creds->extra_gid;
	slot->allow_root = creds->allow_root;
	return slot;
}

/* Hand the job to w; 0 once it is sent, -1 if w is not there any more. */
static int worker_send(struct worker *w, const struct ipc_rec *job, int msg_fd)
{
	int qmgr_fd = local_qmgr_fd();
	if (send_desc(w->fd, msg_fd) != 0 || send_desc(w->fd, qmgr_fd) != 0)
		return -1;
	return ipc_write(w->fd, job, 10000) == 0 ? 0 : -1;
}

struct ipc_rec *local_worker_run(const struct local_creds *creds, long long timeout_ms,
                                 const struct ipc_rec *job, int msg_fd, const char **error_r)
{
	struct worker *w = worker_get(creds, error_r);
	if (w == NULL)
		return NULL;
	if (worker_send(w, job, msg_fd) != 0) {
		/* It died since its last job (killed, or it ran into a limit):
		 * one fresh child, once. */
		worker_stop(w, true);
		if ((w = worker_get(creds, error_r)) == NULL)
			return NULL;
		if (worker_send(w, job, msg_fd) != 0) {
			worker_stop(w, true);
			*error_r = "delivery process failed";
			return NULL;
		}
	}
	w->last_used = ++use_clock;
	if (timeout_ms > INT32_MAX)
		timeout_ms = INT32_MAX;
	struct ipc_rec *rec = NULL;
	const char *error = "";
	if (ipc_read(w->fd, &rec, LOCAL_CHILD_REPORT_MAX, (int)timeout_ms, &error) != 1) {
		ipc_rec_free(rec);
		worker_stop(w, true);
		*error_r = "delivery process failed or timed out";
		return NULL;
	}
	return rec;
}

void local_workers_stop(void)
{
	for (int i = 0; i < WORKER_SLOTS; i++)
		worker_stop(&workers[i], false);
}

/*
 * Work done with someone else's privileges: local forks a child that, when
 * local runs as root, becomes the given user for good (supplementary
 * groups, gid, uid, all verified, root not regainable) before it touches a
 * mailbox, a file, a command or a user's .forward. The child reports its
 * outcome to the parent as one IPC record over a pipe; a child that takes
 * longer than its time limit is killed.
 *
 * The child also holds the connection to qmgr of the request being served.
 * Just before a delivery becomes visible it looks whether qmgr is still
 * there, and its parent too (local_child_abandoned); if either died, nobody
 * would record the result and the restarted qmgr would deliver again, so
 * the delivery is abandoned instead.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "local/local.h"
#include "util/alloc.h"
#include "util/privs.h"

/* The connection to qmgr of the request being served, -1 if none. */
static int qmgr_fd = -1;

void local_qmgr_set(int fd)
{
	qmgr_fd = fd;
}

int local_qmgr_fd(void)
{
	return qmgr_fd;
}

bool local_qmgr_gone(void)
{
	if (qmgr_fd < 0)
		return false;
	struct pollfd pfd = {.fd = qmgr_fd, .events = POLLIN | POLLRDHUP};
	int n;
	while ((n = poll(&pfd, 1, 0)) < 0 && errno == EINTR)
		;
	if (n <= 0)
		return false;
	if (pfd.revents & (POLLHUP | POLLRDHUP | POLLERR))
		return true;
	if (!(pfd.revents & POLLIN))
		return false;
	/* qmgr sends nothing after its request: readable means EOF, but look
	 * without taking anything */
	char c;
	ssize_t r;
	while ((r = recv(qmgr_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT)) < 0 && errno == EINTR)
		;
	return r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

bool local_child_abandoned(int report_fd)
{
	/* The parent passes the result on to qmgr: if it died (the pipe has no
	 * reader), the result is lost just the same. The child holds its own
	 * copy of the qmgr connection, so qmgr sees nothing until it exits. */
	struct pollfd pfd = {.fd = report_fd, .events = 0};
	bool parent_gone = poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLERR | POLLHUP));
	if (!parent_gone && !local_qmgr_gone())
		return false;
	local_child_report(report_fd, "deferred", "4.3.0",
	                   "queue manager went away: delivery abandoned");
	return true;
}

void local_child_report(int fd, const char *state, const char *status, const char *reason)
{
	struct ipc_rec *rec = ipc_rec_new("result");
	ipc_rec_add_str(rec, "state", state);
	ipc_rec_add_str(rec, "status", status);
	ipc_rec_add_str(rec, "reason", reason);
	(void)ipc_write(fd, rec, 10000);
	ipc_rec_free(rec);
}

const char *local_creds_refused(const struct local_creds *creds)
{
	if (privs_are_root() && creds->uid == 0 && !creds->allow_root)
		return "refusing to deliver as root";
	return NULL;
}

int local_become(const struct local_creds *creds, const char **error_r)
{
	if (!privs_are_root())
		return 0;
	const char *refused = local_creds_refused(creds);
	if (refused != NULL) {
		*error_r = refused;
		return -1;
	}
	int rc = creds->user ? initgroups(creds->user, creds->gid) : setgroups(0, NULL);
	if (rc == 0 && creds->extra_gid != (gid_t)-1) {
		/* add the one extra group (the mail spool's) to the list */
		int n = getgroups(0, NULL);
		gid_t *groups = xreallocarray(NULL, (size_t)(n > 0 ? n : 0) + 1, sizeof(gid_t));
		n = getgroups(n, groups);
		if (n < 0) {
			rc = -1;
		} else {
			groups[n++] = creds->extra_gid;
			rc = setgroups((size_t)n, groups);
		}
		free(groups);
	}
	if (rc != 0 || setresgid(creds->gid, creds->gid, creds->gid) != 0 ||
	    setresuid(creds->uid, creds->uid, creds->uid) != 0) {
		*error_r = strerror(errno);
		return -1;
	}
	uid_t r, e, s;
	gid_t rg, eg, sg;
	if (getresuid(&r, &e, &s) != 0 || r != creds->uid || e != creds->uid || s != creds->uid ||
	    getresgid(&rg, &eg, &sg) != 0 || rg != creds->gid || eg != creds->gid ||
	    sg != creds->gid) {
		*error_r = "user or group ids not as set";
		return -1;
	}
	if (creds->uid != 0 && setuid(0) == 0) {
		*error_r = "root privileges could be regained";
		return -1;
	}
	return 0;
}

struct ipc_rec *local_run_child(const struct local_creds *creds, long long timeout_ms,
                                local_child_fn *fn, void *arg, const char **error_r)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) != 0) {
		*error_r = "cannot create pipe";
		return NULL;
	}
	pid_t pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		*error_r = "cannot fork delivery process";
		return NULL;
	}
	if (pid == 0) {
		close(fds[0]);
		signal(SIGPIPE, SIG_IGN);
		const char *error = "";
		if (local_become(creds, &error) != 0) {
			char *text =
			    xasprintf("cannot change to user id %ld: %s", (long)creds->uid, error);
			local_child_report(fds[1], "deferred", "4.3.0", text);
			free(text);
		} else {
			fn(arg, fds[1]);
		}
		_exit(0);
	}
	close(fds[1]);
	struct ipc_rec *rec = NULL;
	const char *error = "";
	if (timeout_ms > INT32_MAX)
		timeout_ms = INT32_MAX;
	int rc = ipc_read(fds[0], &rec, LOCAL_CHILD_REPORT_MAX, (int)timeout_ms, &error);
	close(fds[0]);
	if (rc != 1)
		kill(pid, SIGKILL);
	int wstatus;
	while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
		;
	if (rc != 1) {
		ipc_rec_free(rec);
		*error_r = "delivery process failed or timed out";
		return NULL;
	}
	return rec;
}

/* A status the child may report: "D.D.D" with D digits, class 2, 4 or 5
 * matching the state. */
static bool status_ok(const char *state, const char *status)
{
	size_t len = strlen(status);
	if (len < 5 || len > 11 || strspn(status, "0123456789.") != len)
		return false;
	char want = strcmp(state, "delivered") == 0  ? '2'
	            : strcmp(state, "deferred") == 0 ? '4'
	                                             : '5';
	return status[0] == want && status[1] == '.';
}

void local_child_result(const struct ipc_rec *rec, const char *error, struct local_result *result)
{
	const char *state = rec ? ipc_rec_get_str(rec, "state") : NULL;
	const char *status = rec ? ipc_rec_get_str(rec, "status") : NULL;
	const char *reason = rec ? ipc_rec_get_str(rec, "reason") : NULL;
	if (state && status && reason &&
	    (strcmp(state, "delivered") == 0 || strcmp(state, "deferred") == 0 ||
	     strcmp(state, "bounced") == 0) &&
	    status_ok(state, status)) {
		local_result_set(result,
		                 strcmp(state, "delivered") == 0  ? "delivered"
		                 : strcmp(state, "deferred") == 0 ? "deferred"
		                                                  : "bounced",
		                 status, reason);
	} else {
		local_result_set(result, "deferred", "4.3.0",
		                 rec ? "delivery process sent a malformed report" : error);
	}
}

void local_result_set(struct local_result *r, const char *state, const char *status,
                      const char *reason)
{
	/* reason and status may be r's own */
	char *copy = xstrdup(reason);
	char code[sizeof(r->status)];
	snprintf(code, sizeof(code), "%s", status);
	r->state = state;
	memcpy(r->status, code, sizeof(code));
	free(r->reason);
	r->reason = copy;
	struct local_result none = {0};
	local_result_take_agent(r, &none);
}

void local_result_take_agent(struct local_result *dst, struct local_result *src)
{
	free(dst->relay);
	free(dst->tls);
	free(dst->remote_mta);
	free(dst->diagnostic);
	dst->relay = src->relay;
	dst->tls = src->tls;
	dst->remote_mta = src->remote_mta;
	dst->diagnostic = src->diagnostic;
	dst->dsn = src->dsn;
	src->relay = src->tls = src->remote_mta = src->diagnostic = NULL;
	src->dsn = NULL;
}

void local_result_free(struct local_result *r)
{
	struct local_result none = {0};
	local_result_take_agent(r, &none);
	free(r->reason);
	r->reason = NULL;
}

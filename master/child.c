/*
 * master's children: fork and exec of service processes with their
 * descriptors, the status channel (busy/idle), reaping, the crash throttle,
 * retirement on reload, and wake-up requests.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "master/master.h"
#include "util/alloc.h"
#include "util/log.h"
#include "util/sock.h"

#define STATUS_WRITE_TIMEOUT_MS 1000
#define WAKEUP_TIMEOUT_MS 1000
#define THROTTLE_FIRST_MS 1000

static void on_child_status(struct event_loop *loop, int fd, int events, void *ctx);

static struct child *child_by_pid(pid_t pid, struct child ***link_r)
{
	for (struct service *svc = master.services; svc; svc = svc->next)
		for (struct child **link = &svc->children; *link; link = &(*link)->next)
			if ((*link)->pid == pid) {
				*link_r = link;
				return *link;
			}
	return NULL;
}

int child_count(void)
{
	int n = 0;
	for (struct service *svc = master.services; svc; svc = svc->next)
		for (struct child *c = svc->children; c; c = c->next)
			n++;
	return n;
}

static void set_available(struct child *c, bool available)
{
	if (c->retired || c->available == available)
		return;
	c->available = available;
	c->service->available += available ? 1 : -1;
	service_update_listening(c->service);
}

/* In the new process: descriptors in place, signals reset, then exec. */
static void exec_child(struct service *svc, int status_fd)
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	/* Its own process group: a terminal's Ctrl-C reaches master alone, which
	 * then stops its children in order. */
	setpgid(0, 0);
	int devnull = open("/dev/null", O_RDWR);
	if (devnull >= 0 && devnull != STDIN_FILENO) {
		dup2(devnull, STDIN_FILENO);
		close(devnull);
	}
	int log_fd = log_file_fd();
	if (log_fd >= 0 && log_fd != STDERR_FILENO)
		dup2(log_fd, STDERR_FILENO);
	/* Move descriptors above the target range first so dup2 cannot clobber them. */
	int high = MASTER_LISTEN_FD + MASTER_MAX_LISTEN_FDS + 1;
	int moved_status = fcntl(status_fd, F_DUPFD, high);
	int moved[MASTER_MAX_LISTEN_FDS];
	for (int i = 0; i < svc->listen_count; i++)
		moved[i] = fcntl(svc->listen_fds[i], F_DUPFD, high);
	if (moved_status < 0 || dup2(moved_status, MASTER_STATUS_FD) < 0)
		_exit(126);
	for (int i = 0; i < svc->listen_count; i++)
		if (moved[i] < 0 || dup2(moved[i], MASTER_LISTEN_FD + i) < 0)
			_exit(126);
	/* Everything else (other services' sockets, the control socket) stays with master. */
	close_range((unsigned)(MASTER_LISTEN_FD + svc->listen_count), ~0U, 0);
	char **argv = xcalloc((size_t)svc->def.argc + 4, sizeof(char *));
	int n = 0;
	argv[n++] = svc->def.argv[0];
	argv[n++] = "-c";
	argv[n++] = master.config_dir;
	for (int i = 1; i < svc->def.argc; i++)
		argv[n++] = svc->def.argv[i];
	argv[n] = NULL;
	execve(svc->program, argv, master.child_env);
	log_error("exec %s: %m", svc->program);
	_exit(127);
}

static void send_service_record(struct service *svc, int fd)
{
	struct ipc_rec *rec = ipc_rec_new("service");
	ipc_rec_add_str(rec, "name", svc->def.name);
	ipc_rec_add_str(rec, "type", service_type_name(svc->def.type));
	ipc_rec_add_int(rec, "uid", svc->uid);
	ipc_rec_add_int(rec, "gid", svc->gid);
	ipc_rec_add_int(rec, "allow_root", svc->allow_root);
	ipc_rec_add_str(rec, "chroot", master.privileged ? svc->chroot_dir : "");
	ipc_rec_add_int(rec, "listen_fds", svc->listen_count);
	ipc_rec_add_int(rec, "drop", master.privileged);
	tickets_add_to_service_record(svc, rec);
	if (ipc_write(fd, rec, STATUS_WRITE_TIMEOUT_MS) != 0)
		log_warn("service %s: cannot send service record: %m", svc->label);
	ipc_rec_free(rec);
}

void child_spawn(struct service *svc)
{
	int pair[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
		log_error("service %s: socketpair: %m", svc->label);
		return;
	}
	pid_t pid = fork();
	if (pid < 0) {
		log_error("service %s: fork: %m", svc->label);
		close(pair[0]);
		close(pair[1]);
		return;
	}
	if (pid == 0) {
		close(pair[0]);
		exec_child(svc, pair[1]);
	}
	close(pair[1]);
	struct child *c = xcalloc(1, sizeof(*c));
	c->pid = pid;
	c->service = svc;
	c->status_fd = pair[0];
	c->started_ms = event_now_ms();
	ipc_reader_init(&c->reader, 4096);
	c->next = svc->children;
	svc->children = c;
	svc->total++;
	svc->spawned++;
	if (svc->crashed_since_spawn) {
		svc->restarts++;
		svc->crashed_since_spawn = false;
	}
	send_service_record(svc, c->status_fd);
	sock_set_nonblock(c->status_fd, true);
	event_add_fd(master.loop, c->status_fd, EVENT_READ, on_child_status, c);
	log_debug("service %s: started process %ld", svc->label, (long)pid);
	c->available = false;
	set_available(c, true);
}

static void close_status(struct child *c)
{
	if (c->status_fd < 0)
		return;
	event_del_fd(master.loop, c->status_fd);
	close(c->status_fd);
	c->status_fd = -1;
	ipc_reader_free(&c->reader);
}

static void on_child_status(struct event_loop *loop, int fd, int events, void *ctx)
{
	(void)loop;
	(void)events;
	struct child *c = ctx;
	int rc = ipc_reader_fill(&c->reader, fd);
	if (rc == 0 || (rc < 0 && errno != EAGAIN && errno != EINTR)) {
		/* The process is exiting; SIGCHLD does the rest. It keeps its
		 * place until it is reaped, so that a waiting client does not
		 * start another one before a crash is counted and throttled. */
		close_status(c);
		return;
	}
	struct ipc_rec *rec;
	const char *error;
	while ((rc = ipc_reader_next(&c->reader, &rec, &error)) == 1) {
		const char *state = ipc_rec_get_str(rec, "state");
		if (ipc_rec_is(rec, "status") && state && strcmp(state, "busy") == 0)
			set_available(c, false);
		else if (ipc_rec_is(rec, "status") && state && strcmp(state, "idle") == 0)
			set_available(c, true);
		else
			log_warn("service %s: process %ld sent a bad status record",
			         c->service->label, (long)c->pid);
		ipc_rec_free(rec);
	}
	if (rc < 0) {
		log_warn("service %s: process %ld: %s; killing it", c->service->label, (long)c->pid,
		         error);
		set_available(c, false);
		close_status(c);
		kill(c->pid, SIGKILL);
	}
}

static void on_throttle_end(struct event_loop *loop, void *ctx)
{
	(void)loop;
	struct service *svc = ctx;
	svc->throttle_timer = NULL;
	service_update_listening(svc);
	/* A daemon woken by timer (qmgr, pickup) is brought back at once. */
	if (svc->def.wakeup > 0 && svc->total == 0)
		child_wakeup_send(svc);
}

static void throttle(struct service *svc)
{
	int64_t limit = conf_get_time(master.conf, "service_throttle_time") * 1000;
	int64_t delay = THROTTLE_FIRST_MS;
	for (int i = 1; i < svc->consecutive_crashes && delay < limit; i++)
		delay *= 2;
	if (delay > limit)
		delay = limit;
	svc->throttle_until_ms = event_now_ms() + delay;
	if (svc->throttle_timer)
		event_cancel_timer(master.loop, svc->throttle_timer);
	svc->throttle_timer = event_add_timer(master.loop, delay, on_throttle_end, svc);
	log_warn("service %s: %d consecutive abnormal exits; no new process for %lld ms",
	         svc->label, svc->consecutive_crashes, (long long)delay);
}

static void child_exited(struct child *c, int status)
{
	struct service *svc = c->service;
	bool abnormal = !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	if (abnormal && !master.stopping) {
		if (WIFSIGNALED(status))
			log_warn("service %s: process %ld killed by signal %d", svc->label,
			         (long)c->pid, WTERMSIG(status));
		else
			log_warn("service %s: process %ld exited with status %d", svc->label,
			         (long)c->pid, WEXITSTATUS(status));
	} else {
		log_debug("service %s: process %ld exited", svc->label, (long)c->pid);
	}
	set_available(c, false);
	close_status(c);
	if (!c->retired)
		svc->total--;
	if (abnormal && !master.stopping && !svc->removed) {
		svc->crashes++;
		svc->consecutive_crashes++;
		svc->crashed_since_spawn = true;
		throttle(svc);
	} else if (!abnormal) {
		svc->consecutive_crashes = 0;
	}
	service_update_listening(svc);
}

void child_on_sigchld(void)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct child **link;
		struct child *c = child_by_pid(pid, &link);
		if (c == NULL)
			continue;
		*link = c->next;
		struct service *svc = c->service;
		child_exited(c, status);
		free(c);
		if (svc->removed && svc->children == NULL) {
			for (struct service **s = &master.services; *s; s = &(*s)->next)
				if (*s == svc) {
					*s = svc->next;
					break;
				}
			service_free(svc);
		}
	}
}

void child_retire_all(struct service *svc)
{
	for (struct child *c = svc->children; c; c = c->next) {
		if (c->retired)
			continue;
		set_available(c, false);
		c->retired = true;
		svc->total--;
		if (c->status_fd >= 0) {
			struct ipc_rec *rec = ipc_rec_new("retire");
			if (ipc_write(c->status_fd, rec, STATUS_WRITE_TIMEOUT_MS) != 0)
				kill(c->pid, SIGTERM);
			ipc_rec_free(rec);
		}
	}
	service_update_listening(svc);
}

void child_signal_all(int sig)
{
	for (struct service *svc = master.services; svc; svc = svc->next)
		for (struct child *c = svc->children; c; c = c->next)
			kill(c->pid, sig);
}

void child_wakeup_send(struct service *svc)
{
	if (svc->socket_path == NULL || svc->listen_count == 0)
		return;
	const char *error;
	int fd = sock_connect_unix(svc->socket_path, WAKEUP_TIMEOUT_MS, &error);
	if (fd < 0) {
		log_warn("service %s: wakeup: %s", svc->label, error);
		return;
	}
	struct ipc_rec *rec = ipc_rec_new("wakeup");
	if (ipc_write(fd, rec, WAKEUP_TIMEOUT_MS) != 0)
		log_warn("service %s: wakeup: %m", svc->label);
	ipc_rec_free(rec);
	close(fd);
}

/*
 * master's control socket: mailctl connects, sends one request record and
 * reads the reply (status, reload, stop, version). The socket is mode 0600,
 * owned by master's user, in private/: only root (or an instance's own user)
 * can reach it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "master/master.h"
#include "util/alloc.h"
#include "util/log.h"
#include "util/sock.h"

#define CONTROL_TIMEOUT_MS 5000
#define CONTROL_MAX_REQUEST 4096

struct control_conn {
	int fd;
	struct ipc_reader reader;
	struct event_timer *timer;
};

static void conn_close(struct control_conn *cc)
{
	event_del_fd(master.loop, cc->fd);
	if (cc->timer)
		event_cancel_timer(master.loop, cc->timer);
	close(cc->fd);
	ipc_reader_free(&cc->reader);
	free(cc);
}

static void reply(int fd, struct ipc_rec *rec)
{
	if (ipc_write(fd, rec, CONTROL_TIMEOUT_MS) != 0)
		log_warn("control: reply: %m");
	ipc_rec_free(rec);
}

static void reply_status(int fd)
{
	int64_t now = event_now_ms();
	for (struct service *svc = master.services; svc; svc = svc->next) {
		struct ipc_rec *rec = ipc_rec_new("service");
		ipc_rec_add_str(rec, "name", svc->def.name);
		ipc_rec_add_str(rec, "type", service_type_name(svc->def.type));
		ipc_rec_add_str(rec, "command", svc->def.argv[0]);
		ipc_rec_add_int(rec, "max_proc", svc->max_proc);
		ipc_rec_add_int(rec, "processes", svc->total);
		ipc_rec_add_int(rec, "idle", svc->available);
		ipc_rec_add_int(rec, "busy", svc->total - svc->available);
		ipc_rec_add_int(rec, "spawned", (int64_t)svc->spawned);
		ipc_rec_add_int(rec, "crashes", (int64_t)svc->crashes);
		ipc_rec_add_int(rec, "restarts", (int64_t)svc->restarts);
		ipc_rec_add_int(rec, "uptime", (now - svc->created_ms) / 1000);
		ipc_rec_add_int(rec, "throttled",
		                svc->throttle_until_ms > now ? (svc->throttle_until_ms - now) : 0);
		ipc_rec_add_int(rec, "removed", svc->removed);
		for (struct child *c = svc->children; c; c = c->next) {
			ipc_rec_add_int(rec, "pid", c->pid);
			ipc_rec_add_str(rec, "state",
			                c->retired     ? "retiring"
			                : c->available ? "idle"
			                               : "busy");
		}
		reply(fd, rec);
	}
	struct ipc_rec *end = ipc_rec_new("end");
	ipc_rec_add_int(end, "pid", getpid());
	ipc_rec_add_int(end, "uptime", (now - master.started_ms) / 1000);
	ipc_rec_add_int(end, "privileged", master.privileged);
	reply(fd, end);
}

static void handle_request(int fd, const struct ipc_rec *req)
{
	const char *what = ipc_rec_get_str(req, "request");
	if (!ipc_rec_is(req, "request") || what == NULL) {
		struct ipc_rec *rec = ipc_rec_new("error");
		ipc_rec_add_str(rec, "message", "malformed request");
		reply(fd, rec);
		return;
	}
	if (strcmp(what, "status") == 0) {
		reply_status(fd);
	} else if (strcmp(what, "reload") == 0) {
		struct str errors = STR_INIT;
		bool ok = master_reload(&errors) == 0;
		struct ipc_rec *rec = ipc_rec_new(ok ? "ok" : "error");
		if (!ok)
			ipc_rec_add_str(rec, "message", str_cstr(&errors));
		reply(fd, rec);
		str_free(&errors);
	} else if (strcmp(what, "stop") == 0) {
		reply(fd, ipc_rec_new("ok"));
		master_request_stop();
	} else if (strcmp(what, "version") == 0) {
		struct ipc_rec *rec = ipc_rec_new("ok");
		ipc_rec_add_str(rec, "version", POSTERN_VERSION);
		ipc_rec_add_int(rec, "pid", getpid());
		reply(fd, rec);
	} else {
		struct ipc_rec *rec = ipc_rec_new("error");
		ipc_rec_add_str(rec, "message", "unknown request");
		reply(fd, rec);
	}
}

static void on_timeout(struct event_loop *loop, void *ctx)
{
	(void)loop;
	struct control_conn *cc = ctx;
	cc->timer = NULL;
	log_warn("control: client sent no request in time");
	conn_close(cc);
}

static void on_readable(struct event_loop *loop, int fd, int events, void *ctx)
{
	(void)loop;
	(void)events;
	struct control_conn *cc = ctx;
	int rc = ipc_reader_fill(&cc->reader, fd);
	if (rc < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (rc <= 0) {
		conn_close(cc);
		return;
	}
	struct ipc_rec *req;
	const char *error;
	rc = ipc_reader_next(&cc->reader, &req, &error);
	if (rc == 0)
		return;
	if (rc < 0) {
		log_warn("control: bad request: %s", error);
		conn_close(cc);
		return;
	}
	sock_set_nonblock(fd, false);
	handle_request(fd, req);
	ipc_rec_free(req);
	conn_close(cc);
}

static void on_accept(struct event_loop *loop, int fd, int events, void *ctx)
{
	(void)loop;
	(void)events;
	(void)ctx;
	int conn = sock_accept(fd);
	if (conn < 0)
		return;
	sock_set_nonblock(conn, true);
	struct control_conn *cc = xcalloc(1, sizeof(*cc));
	cc->fd = conn;
	ipc_reader_init(&cc->reader, CONTROL_MAX_REQUEST);
	cc->timer = event_add_timer(master.loop, CONTROL_TIMEOUT_MS, on_timeout, cc);
	event_add_fd(master.loop, conn, EVENT_READ, on_readable, cc);
}

int control_open(const char **error_r)
{
	master.control_path =
	    xasprintf("%s/%s", conf_get(master.conf, "queue_directory"), MASTER_CONTROL_SOCKET);
	master.control_fd = sock_listen_unix(master.control_path, 0600, 16, error_r);
	if (master.control_fd < 0)
		return -1;
	sock_set_nonblock(master.control_fd, true);
	event_add_fd(master.loop, master.control_fd, EVENT_READ, on_accept, NULL);
	return 0;
}

void control_close(void)
{
	if (master.control_fd < 0)
		return;
	event_del_fd(master.loop, master.control_fd);
	close(master.control_fd);
	unlink(master.control_path);
	master.control_fd = -1;
}

/*
 * The service skeleton: everything between exec by master and the
 * protocol code of one service (see server.h and master_proto.h).
 */
#include "server/server.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server/master_proto.h"
#include "server/program.h"
#include "tls/tls_tickets.h"
#include "util/alloc.h"
#include "util/ipc.h"
#include "util/log.h"
#include "util/privs.h"
#include "util/self_pid.h"
#include "util/sock.h"

#define STATUS_WRITE_TIMEOUT_MS 2000
#define HANDSHAKE_TIMEOUT_MS 10000
/* How long a delivery agent waits for qmgr's next request on a connection
 * it has served (qmgr gives up on an idle connection sooner). */
#define NEXT_REQUEST_WAIT_MS 2000

struct server {
	const struct server_ops *ops;
	void *ctx;
	struct conf *conf;
	struct event_loop *loop;
	char *service_name;
	char *service_type;
	char **args;
	int argc;
	int listen_fds[MASTER_MAX_LISTEN_FDS];
	int listen_count;
	bool listening;
	bool busy_reported;
	int conn_requests; /* SINGLE: requests read on the current connection */
	bool retiring;
	int connections;
	long long uses;
	long long max_use;
	long long max_idle;
	struct event_timer *idle_timer;
	struct ipc_reader master_reader;
};

static void server_exit(struct server *srv, const char *why)
{
	log_debug("exiting: %s", why);
	if (srv->ops->shutdown)
		srv->ops->shutdown(srv);
	exit(0);
}

static void report_state(struct server *srv, bool busy)
{
	struct ipc_rec *rec = ipc_rec_new("status");
	ipc_rec_add_int(rec, "pid", self_pid());
	ipc_rec_add_str(rec, "state", busy ? "busy" : "idle");
	int rc = ipc_write(MASTER_STATUS_FD, rec, STATUS_WRITE_TIMEOUT_MS);
	ipc_rec_free(rec);
	if (rc != 0)
		server_exit(srv, "master is gone");
	srv->busy_reported = busy;
}

static void on_listener(struct event_loop *loop, int fd, int events, void *ctx);

static void set_listening(struct server *srv, bool on)
{
	if (srv->listening == on)
		return;
	for (int i = 0; i < srv->listen_count; i++) {
		if (on)
			event_add_fd(srv->loop, srv->listen_fds[i], EVENT_READ | EVENT_EXCLUSIVE,
			             on_listener, srv);
		else
			event_del_fd(srv->loop, srv->listen_fds[i]);
	}
	srv->listening = on;
}

static void on_idle_timeout(struct event_loop *loop, void *ctx)
{
	(void)loop;
	struct server *srv = ctx;
	srv->idle_timer = NULL;
	server_exit(srv, "idle for max_idle");
}

static void arm_idle_timer(struct server *srv)
{
	if (srv->idle_timer)
		event_cancel_timer(srv->loop, srv->idle_timer);
	srv->idle_timer = NULL;
	if (!srv->ops->persistent && srv->connections == 0 && srv->max_idle > 0)
		srv->idle_timer =
		    event_add_timer(srv->loop, srv->max_idle * 1000, on_idle_timeout, srv);
}

static bool used_up(const struct server *srv)
{
	return !srv->ops->persistent && srv->max_use > 0 && srv->uses >= srv->max_use;
}

/* A pass-type listener hands over the client descriptor on the connection. */
static int unwrap_passed_fd(int conn)
{
	struct pollfd pfd = {.fd = conn, .events = POLLIN};
	int fd = -1;
	char byte;
	if (poll(&pfd, 1, HANDSHAKE_TIMEOUT_MS) == 1 && sock_recv_fd(conn, &fd, &byte, 1) >= 0)
		return fd;
	if (fd >= 0)
		close(fd);
	return -1;
}

static int accept_client(struct server *srv, int listen_fd)
{
	int fd = sock_accept(listen_fd);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED &&
		    errno != EINTR)
			log_warn("accept: %m");
		return -1;
	}
	if (strcmp(srv->service_type, "pass") == 0) {
		int client = unwrap_passed_fd(fd);
		close(fd);
		if (client < 0)
			log_warn("pass service %s: no descriptor received", srv->service_name);
		return client;
	}
	return fd;
}

/* A client already waiting on a listener, or -1. */
static int waiting_client(struct server *srv)
{
	for (int i = 0; i < srv->listen_count && !srv->retiring; i++) {
		int client = accept_client(srv, srv->listen_fds[i]);
		if (client >= 0)
			return client;
	}
	return -1;
}

static void serve_single(struct server *srv, int fd)
{
	report_state(srv, true);
	/* Clients that are already waiting when one is done are served in
	 * turn: telling master "idle" and at once "busy" again would wake it
	 * twice a connection for nothing. */
	while (fd >= 0) {
		srv->connections = 1;
		srv->conn_requests = 0;
		srv->ops->serve(srv, fd);
		close(fd);
		srv->connections = 0;
		/* Each request counts toward max_use (at least one a connection). */
		srv->uses += srv->conn_requests > 1 ? srv->conn_requests : 1;
		if (used_up(srv))
			server_exit(srv, "max_use reached");
		fd = waiting_client(srv);
	}
	report_state(srv, false);
	arm_idle_timer(srv);
}

static void on_listener(struct event_loop *loop, int fd, int events, void *ctx)
{
	(void)loop;
	(void)events;
	struct server *srv = ctx;
	if (srv->retiring)
		return;
	int client = accept_client(srv, fd);
	if (client < 0)
		return;
	if (srv->idle_timer) {
		event_cancel_timer(srv->loop, srv->idle_timer);
		srv->idle_timer = NULL;
	}
	if (srv->ops->mode == SERVER_SINGLE) {
		serve_single(srv, client);
		return;
	}
	srv->connections++;
	srv->uses++;
	bool full = srv->ops->max_connections > 0 && srv->connections >= srv->ops->max_connections;
	if (full || used_up(srv)) {
		set_listening(srv, false);
		report_state(srv, true);
	}
	srv->ops->accept(srv, client);
}

void server_conn_done(struct server *srv)
{
	if (srv->connections > 0)
		srv->connections--;
	if (srv->retiring && srv->connections == 0)
		server_exit(srv, "retired by master");
	if (used_up(srv)) {
		if (srv->connections == 0)
			server_exit(srv, "max_use reached");
		return;
	}
	if (srv->busy_reported &&
	    (srv->ops->max_connections == 0 || srv->connections < srv->ops->max_connections)) {
		set_listening(srv, true);
		report_state(srv, false);
	}
	arm_idle_timer(srv);
}

/* The TLS session ticket keys in a record from master, if it has any. */
static void install_ticket_keys(const struct ipc_rec *rec)
{
	size_t len = 0;
	const char *keys = ipc_rec_get_data(rec, "tls_ticket_keys", &len);
	if (keys != NULL && tls_tickets_install(keys, len) != 0)
		log_warn("master sent malformed TLS ticket keys (%zu bytes); ignored", len);
}

static void on_master(struct event_loop *loop, int fd, int events, void *ctx)
{
	(void)loop;
	(void)events;
	struct server *srv = ctx;
	int rc = ipc_reader_fill(&srv->master_reader, fd);
	if (rc == 0 || (rc < 0 && errno != EAGAIN && errno != EINTR))
		server_exit(srv, "master is gone");
	struct ipc_rec *rec;
	const char *error;
	while ((rc = ipc_reader_next(&srv->master_reader, &rec, &error)) == 1) {
		if (ipc_rec_is(rec, "retire")) {
			srv->retiring = true;
			set_listening(srv, false);
		} else if (ipc_rec_is(rec, "tls_keys")) {
			install_ticket_keys(rec);
		} else {
			log_warn("unexpected record \"%s\" from master", rec->name);
		}
		ipc_rec_free(rec);
	}
	if (rc < 0)
		log_fatal("bad record from master: %s", error);
	if (srv->retiring && srv->connections == 0)
		server_exit(srv, "retired by master");
}

static void apply_overrides(struct conf *conf, char **overrides, int count)
{
	for (int i = 0; i < count; i++) {
		char *eq = strchr(overrides[i], '=');
		if (eq == NULL)
			log_fatal("-o %s: expected name=value", overrides[i]);
		*eq = '\0';
		const char *error;
		if (conf_set(conf, overrides[i], eq + 1, &error) != 0)
			log_fatal("-o %s=%s: %s", overrides[i], eq + 1, error);
		*eq = '=';
	}
}

/* Read master's "service" record and drop privileges as it says. */
static void handshake(struct server *srv)
{
	struct ipc_rec *rec;
	const char *error = "";
	int rc = ipc_read(MASTER_STATUS_FD, &rec, 0, HANDSHAKE_TIMEOUT_MS, &error);
	if (rc != 1)
		log_fatal("no service description from master (%s); this program is started by "
		          "master",
		          rc == 0 ? "end of file" : error);
	if (!ipc_rec_is(rec, "service"))
		log_fatal("unexpected record \"%s\" from master", rec->name);
	int64_t uid = -1, gid = -1, allow_root = 0, count = 0, drop = 0;
	const char *name = ipc_rec_get_str(rec, "name");
	const char *type = ipc_rec_get_str(rec, "type");
	const char *chroot_dir = ipc_rec_get_str(rec, "chroot");
	if (!name || !type || !ipc_rec_get_int(rec, "listen_fds", &count) ||
	    !ipc_rec_get_int(rec, "drop", &drop) || count < 0 || count > MASTER_MAX_LISTEN_FDS)
		log_fatal("incomplete service description from master");
	ipc_rec_get_int(rec, "uid", &uid);
	ipc_rec_get_int(rec, "gid", &gid);
	ipc_rec_get_int(rec, "allow_root", &allow_root);
	install_ticket_keys(rec);
	srv->service_name = xstrdup(name);
	srv->service_type = xstrdup(type);
	srv->listen_count = (int)count;
	for (int i = 0; i < srv->listen_count; i++) {
		srv->listen_fds[i] = MASTER_LISTEN_FD + i;
		sock_set_nonblock(srv->listen_fds[i], true);
		sock_set_cloexec(srv->listen_fds[i], true);
	}
	if (srv->ops->pre_drop)
		srv->ops->pre_drop(srv);
	if (drop) {
		if (privs_drop((uid_t)uid, (gid_t)gid, chroot_dir, allow_root != 0, &error) != 0)
			log_fatal("service %s: %s", name, error);
	}
	ipc_rec_free(rec);
}

int server_main(int argc, char **argv, const struct server_ops *ops, void *ctx)
{
	struct server *srv = xcalloc(1, sizeof(*srv));
	srv->ops = ops;
	srv->ctx = ctx;
	log_init(argv[0]);

	const char *config_dir = NULL;
	char **overrides = xcalloc((size_t)argc + 1, sizeof(char *));
	int override_count = 0;
	int opt;
	while ((opt = getopt(argc, argv, "+c:o:v")) != -1) {
		switch (opt) {
		case 'c':
			config_dir = optarg;
			break;
		case 'o':
			overrides[override_count++] = optarg;
			break;
		case 'v':
			log_set_verbose(true);
			break;
		default:
			log_fatal("usage: %s [-c config_dir] [-o name=value] [-v] [args]", argv[0]);
		}
	}
	srv->args = argv + optind;
	srv->argc = argc - optind;

	srv->conf = program_load_conf(program_config_dir(config_dir));
	apply_overrides(srv->conf, overrides, override_count);
	free(overrides);
	program_setup_logging(srv->conf, false);
	signal(SIGPIPE, SIG_IGN);

	srv->max_use = conf_get_int(srv->conf, "max_use");
	srv->max_idle = conf_get_time(srv->conf, "max_idle");
	srv->loop = event_loop_new();
	handshake(srv);
	if (ops->init)
		ops->init(srv);

	ipc_reader_init(&srv->master_reader, 0);
	sock_set_nonblock(MASTER_STATUS_FD, true);
	event_add_fd(srv->loop, MASTER_STATUS_FD, EVENT_READ, on_master, srv);
	set_listening(srv, true);
	arm_idle_timer(srv);
	event_loop_run(srv->loop);
	server_exit(srv, "event loop stopped");
	return 0;
}

void *server_context(const struct server *srv)
{
	return srv->ctx;
}

/* A later request on a served connection: wait for it (or for master,
 * which may be retiring this process) at most NEXT_REQUEST_WAIT_MS.
 * True if the connection has something to read. */
static bool next_request_waiting(struct server *srv, int fd)
{
	if (srv->retiring || (!srv->ops->persistent && srv->max_use > 0 &&
	                      srv->uses + srv->conn_requests >= srv->max_use))
		return false;
	struct pollfd pfd[2] = {{.fd = fd, .events = POLLIN},
	                        {.fd = MASTER_STATUS_FD, .events = POLLIN}};
	int n;
	while ((n = poll(pfd, 2, NEXT_REQUEST_WAIT_MS)) < 0 && errno == EINTR)
		;
	/* Master's word is read by the event loop once this connection ends. */
	return n > 0 && pfd[1].revents == 0 && pfd[0].revents != 0;
}

struct ipc_rec *server_read_request(struct server *srv, int fd, const char *name, int *timeout_ms_r)
{
	*timeout_ms_r = (int)(conf_get_time(srv->conf, "ipc_timeout") * 1000);
	bool later = srv->conn_requests > 0;
	if (later && !next_request_waiting(srv, fd))
		return NULL;
	struct ipc_rec *req = NULL;
	const char *error = "";
	int rc = ipc_read(fd, &req, 0, *timeout_ms_r, &error);
	if (rc < 0 && !(later && errno == ECONNRESET))
		log_warn("reading %s request: %s", name, error);
	if (rc != 1)
		return NULL; /* (a later one: qmgr closed the connection it kept) */
	if (!ipc_rec_is(req, name)) {
		log_warn("unexpected request \"%s\"", req->name);
		ipc_rec_free(req);
		return NULL;
	}
	srv->conn_requests++;
	if (later)
		log_debug("request %d on this connection", srv->conn_requests);
	return req;
}

const struct conf *server_conf(const struct server *srv)
{
	return srv->conf;
}

struct event_loop *server_loop(struct server *srv)
{
	return srv->loop;
}

const char *server_service_name(const struct server *srv)
{
	return srv->service_name;
}

char **server_args(const struct server *srv, int *argc_r)
{
	if (argc_r)
		*argc_r = srv->argc;
	return srv->args;
}

bool server_retiring(const struct server *srv)
{
	return srv->retiring;
}

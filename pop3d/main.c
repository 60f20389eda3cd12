/*
 * pop3d: settings from main.conf (with master.conf -o overrides), the TLS
 * context and the login user (looked up while still root), and the
 * service entry point. One process takes many connections (a multi
 * server): each is served by login_serve() in a forked child, so the
 * memory of the settings and the TLS context is shared by every session
 * instead of copied per session. Children are reaped on SIGCHLD through a
 * self-pipe in the event loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pop3d/pop3d.h"
#include "server/server.h"
#include "tls/tls_sni.h"
#include "tls/tls_tickets.h"
#include "util/alloc.h"
#include "util/log.h"
#include "util/privs.h"

/* Sessions one process takes before master starts another. */
#define POP3D_SESSIONS_PER_PROCESS 500

static struct pop3d_settings settings;

static void start_reaper(struct server *srv);

static void load_settings(struct server *srv)
{
	const struct conf *conf = server_conf(srv);
	struct pop3d_settings *c = &settings;
	c->conf = conf;
	c->hostname = conf_get(conf, "myhostname");
	c->queue_dir = conf_get(conf, "queue_directory");
	c->auth_socket = xasprintf("%s/private/auth", c->queue_dir);
	c->wrapper_mode = conf_get_bool(conf, "pop3d_tls_wrappermode");
	c->tls_auth_only = conf_get_bool(conf, "pop3d_tls_auth_only");
	c->timeout_ms = conf_get_time(conf, "pop3d_timeout") * 1000;
	c->auth_failure_limit = conf_get_int(conf, "pop3d_auth_failure_limit");
	c->hard_error_limit = conf_get_int(conf, "pop3d_hard_error_limit");
	if (c->timeout_ms <= 0 || c->timeout_ms > 24 * 3600 * 1000LL)
		log_fatal("pop3d_timeout must be between 1s and 1d");
	const char *proxy = conf_get(conf, "pop3d_upstream_proxy_protocol");
	if (*proxy != '\0' && strcmp(proxy, "haproxy") != 0)
		log_fatal("pop3d_upstream_proxy_protocol: \"%s\" is not haproxy (or empty)", proxy);
	c->upstream_proxy = *proxy != '\0';
	c->upstream_proxy_timeout_ms = conf_get_time(conf, "pop3d_upstream_proxy_timeout") * 1000;
	if (c->upstream_proxy_timeout_ms <= 0 || c->upstream_proxy_timeout_ms > 3600 * 1000LL)
		log_fatal("pop3d_upstream_proxy_timeout must be between 1s and 1h");
	if (c->auth_failure_limit < 1)
		c->auth_failure_limit = 1;
	if (c->hard_error_limit < 1)
		c->hard_error_limit = 1;
	char *bad = NULL;
	char *const *trusted = conf_get_list(conf, "pop3d_upstream_proxy_trusted_networks");
	c->upstream_proxy_trusted = NULL;
	if (trusted[0] != NULL) {
		c->upstream_proxy_trusted = cidr_list_parse(trusted, &bad);
		if (c->upstream_proxy_trusted == NULL)
			log_fatal(
			    "pop3d_upstream_proxy_trusted_networks: bad network address \"%s\"",
			    bad);
	}
	c->auth_exempt_networks =
	    cidr_list_parse(conf_get_list(conf, "pop3d_tls_auth_only_exempt"), &bad);
	if (c->auth_exempt_networks == NULL)
		log_fatal("pop3d_tls_auth_only_exempt: bad network address \"%s\"", bad);
	if (c->wrapper_mode && c->tls == NULL)
		log_fatal("pop3d_tls_wrappermode is set but no certificate could be loaded "
		          "(pop3d_tls_cert_file)");
}

/* As root, before the skeleton's own drop (none: this service stays root). */
static void pre_drop(struct server *srv)
{
	const struct conf *conf = server_conf(srv);
	if (privs_are_root()) {
		const char *error;
		if (privs_lookup(conf_get(conf, "pop3d_login_user"), &settings.login_uid,
		                 &settings.login_gid, &error) != 0)
			log_fatal("pop3d_login_user: %s", error);
		if (settings.login_uid == 0)
			log_fatal("pop3d_login_user must not be root");
	}
	const char *cert = conf_get(conf, "pop3d_tls_cert_file");
	if (*cert == '\0') {
		if (*conf_get(conf, "tls_server_sni_maps") != '\0')
			log_warn("tls_server_sni_maps is set but pop3d_tls_cert_file is not: no "
			         "TLS on this "
			         "service (the SNI certificates need a default one)");
		return;
	}
	struct tls_settings ts = {
	    .cert_file = cert,
	    .key_file = conf_get(conf, "pop3d_tls_key_file"),
	    .protocols = conf_get(conf, "pop3d_tls_protocols"),
	    .ticket_lifetime_s =
	        tls_ticket_lifetime(conf_get_time(conf, "pop3d_tls_session_cache_timeout")),
	};
	const char *error;
	settings.tls = tls_server_context(&ts, &error);
	if (settings.tls == NULL)
		log_error("TLS disabled: %s", error);
	else
		tls_sni_setup(settings.tls, conf_get(conf, "tls_server_sni_maps"));
}

static void init(struct server *srv)
{
	load_settings(srv);
	start_reaper(srv);
	/* Still root here only when master.conf runs pop3d with unpriv "n": the
	 * per-connection processes change users. Otherwise (an unprivileged
	 * instance, or a master.conf line naming a user) everything runs as
	 * this one user. */
	settings.privileged = privs_are_root();
}

static int child_pipe[2] = {-1, -1};

static void on_sigchld(int sig)
{
	(void)sig;
	int saved = errno;
	(void)write(child_pipe[1], "c", 1);
	errno = saved;
}

/* Reap the finished sessions. */
static void on_children(struct event_loop *loop, int fd, int events, void *ctx)
{
	(void)loop;
	(void)events;
	struct server *srv = ctx;
	char buf[64];
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		server_conn_done(srv);
}

static void start_reaper(struct server *srv)
{
	if (pipe2(child_pipe, O_NONBLOCK | O_CLOEXEC) != 0)
		log_fatal("pipe: %m");
	struct sigaction sa = {.sa_handler = on_sigchld, .sa_flags = SA_RESTART | SA_NOCLDSTOP};
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGCHLD, &sa, NULL) != 0)
		log_fatal("sigaction: %m");
	event_add_fd(server_loop(srv), child_pipe[0], EVENT_READ, on_children, srv);
}

static void accept_session(struct server *srv, int fd)
{
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		log_warn("fork: %m");
		close(fd);
		server_conn_done(srv);
		return;
	}
	if (pid == 0) {
		signal(SIGCHLD, SIG_DFL);
		pop3d_die_with_parent(parent);
		/* Not the listeners, the master socket or the event loop. */
		int keep[] = {fd};
		pop3d_close_other_fds(keep, 1);
		login_serve(&settings, fd);
		_exit(0);
	}
	close(fd);
}

int main(int argc, char **argv)
{
	static const struct server_ops ops = {
	    .mode = SERVER_MULTI,
	    .max_connections = POP3D_SESSIONS_PER_PROCESS,
	    .pre_drop = pre_drop,
	    .init = init,
	    .accept = accept_session,
	};
	return server_main(argc, argv, &ops, NULL);
}

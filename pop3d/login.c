/*
 * The root parent of one POP3 connection (see pop3d.h): it starts the
 * login child, checks the credentials the child sends with the auth
 * service, logs each login, and after a good one starts the mailbox
 * process as the mailbox owner. It reads only typed records from the
 * child, never the client's bytes.
 */
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "auth/auth_client.h"
#include "mail/mailbox.h"
#include "pop3d/pop3d.h"
#include "util/alloc.h"
#include "util/ipc.h"
#include "util/log.h"
#include "util/privs.h"
#include "util/sock.h"

#define AUTH_TIMEOUT_MS 30000
#define CTL_WRITE_TIMEOUT_MS 10000
#define CHILD_EXIT_WAIT_MS 15000
void pop3d_close_other_fds(const int *keep, size_t count)
{
	int log_fd = log_file_fd();
	/* glibc's syslog would otherwise write to whatever file takes its number. */
	closelog();
	for (int fd = 3; fd < 1024; fd++) {
		bool kept = fd == log_fd;
		for (size_t i = 0; i < count && !kept; i++)
			kept = keep[i] == fd;
		if (!kept)
			close(fd);
	}
}

void pop3d_die_with_parent(pid_t parent)
{
	/* Cleared by every change of user: call after the last one. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0)
		log_warn("prctl PR_SET_PDEATHSIG: %m");
	if (getppid() != parent)
		_exit(0);
}

/* In the mailbox process: become the owner for good. */
static void become_owner(const struct pop3d_settings *cfg, const struct mailbox_location *o)
{
	if (!cfg->privileged)
		return;
	const char *error = "";
	if (privs_drop(o->uid, o->gid, NULL, false, &error) != 0)
		log_fatal("cannot become the mailbox owner (uid %ld): %s", (long)o->uid, error);
}

/* In the mailbox process: create virtual_mailbox_base/DOMAIN/USER if missing. */
static void make_dirs(const struct mailbox_location *o)
{
	struct str path = STR_INIT;
	const char *error = "";
	if (mailbox_make_dirs(o->base, o->subdirs, &path, &error) != 0)
		log_warn("cannot create mailbox directory %s: %s", str_cstr(&path), error);
	str_free(&path);
}

/* Wait for a child; kill it if it does not exit within wait_ms. */
static void reap(pid_t pid, int wait_ms)
{
	for (int waited = 0;; waited += 50) {
		pid_t r = waitpid(pid, NULL, WNOHANG);
		if (r == pid || (r < 0 && errno != EINTR))
			return;
		if (waited >= wait_ms) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return;
		}
		struct timespec ts = {0, 50 * 1000000};
		nanosleep(&ts, NULL);
	}
}

static void answer(int ctl, const char *name, const char *reason)
{
	struct ipc_rec *rec = ipc_rec_new(name);
	ipc_rec_add_str(rec, "reason", reason);
	(void)ipc_write(ctl, rec, CTL_WRITE_TIMEOUT_MS);
	ipc_rec_free(rec);
}

struct parent {
	const struct pop3d_settings *cfg;
	const struct pop3d_client *client;
	int fd, ctl, proxy;
	pid_t self;
	int failures;
	char *failed_user;   /* the last name that failed to log in, for the log */
	char *failed_method; /* and its method */
	char *user;          /* canonical, after a good login */
	char *method;
	char *tls;
	struct mailbox_location owner;
};

/* A "login" record: check it and answer. True after a good login. */
static bool handle_login(struct parent *p, struct ipc_rec *rec)
{
	size_t user_len = 0, pass_len = 0;
	const char *user = ipc_rec_get_data(rec, "user", &user_len);
	const char *password = ipc_rec_get_data(rec, "password", &pass_len);
	const char *method = ipc_rec_get_str(rec, "method");
	const char *tls = ipc_rec_get_str(rec, "tls");
	if (user == NULL || password == NULL || method == NULL || tls == NULL ||
	    memchr(user, '\0', user_len) || memchr(password, '\0', pass_len)) {
		log_warn("%s: malformed login record from the login process", p->client->addr);
		answer(p->ctl, "refused", "internal error");
		return false;
	}
	char *safe_user = xstrdup(pop3d_log_safe(user, user_len));
	if (p->failures >= p->cfg->auth_failure_limit) {
		answer(p->ctl, "refused", "too many failures");
		free(safe_user);
		return false;
	}
	char *canonical = NULL;
	const char *error = "";
	enum auth_result r =
	    auth_client_verify(p->cfg->auth_socket, user, password, "pop3", p->client->addr,
	                       AUTH_TIMEOUT_MS, &canonical, &error);
	const char *tls_log = *tls ? tls : "no";
	bool ok = false;
	if (r == AUTH_OK) {
		const char *why = "";
		if (mailbox_find(p->cfg->conf, canonical, p->cfg->privileged, &p->owner, &why) !=
		    0) {
			log_info("login: user=%s, client=%s, method=%s, tls=%s, result=fail (%s)",
			         canonical, p->client->addr, method, tls_log, why);
			answer(p->ctl, "tempfail", "No mailbox for this user here");
		} else {
			log_info("login: user=%s, client=%s, method=%s, tls=%s, result=ok",
			         canonical, p->client->addr, method, tls_log);
			p->user = canonical;
			canonical = NULL;
			p->method = xstrdup(method);
			p->tls = xstrdup(tls);
			answer(p->ctl, "ok", "");
			ok = true;
		}
	} else if (r == AUTH_TEMPFAIL) {
		log_warn("login: user=%s, client=%s, method=%s, tls=%s, result=tempfail (%s)",
		         safe_user, p->client->addr, method, tls_log, error);
		answer(p->ctl, "tempfail", "Authentication service unavailable");
	} else {
		p->failures++;
		free(p->failed_user);
		p->failed_user = xstrdup(safe_user);
		free(p->failed_method);
		p->failed_method = xstrdup(method);
		log_info("login: user=%s, client=%s, method=%s, tls=%s, result=fail (%d of %lld)",
		         safe_user, p->client->addr, method, tls_log, p->failures,
		         p->cfg->auth_failure_limit);
		answer(p->ctl, p->failures >= p->cfg->auth_failure_limit ? "refused" : "fail",
		       "authentication failed");
	}
	free(canonical);
	free(safe_user);
	return ok;
}

/* Start the mailbox process with the handed-over connection. */
static pid_t start_mailbox(struct parent *p, struct ipc_rec *handoff)
{
	int64_t tls = 0;
	size_t input_len = 0;
	const char *input = ipc_rec_get_data(handoff, "input", &input_len);
	if (!ipc_rec_get_int(handoff, "tls", &tls) || input == NULL) {
		log_warn("%s: malformed handoff record from the login process", p->client->addr);
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		log_warn("fork: %m");
		return -1;
	}
	if (pid > 0)
		return pid;
	/* The mailbox process. */
	int fd = tls ? p->proxy : p->fd;
	int keep[] = {fd};
	pop3d_close_other_fds(keep, 1);
	/* The TLS key is no business of this process. */
	if (p->cfg->tls)
		tls_context_free(p->cfg->tls);
	become_owner(p->cfg, &p->owner);
	pop3d_die_with_parent(p->self);
	make_dirs(&p->owner);
	struct mailbox_login login = {
	    .user = p->user, .maildir = p->owner.path, .tls = p->tls, .method = p->method};
	transaction_run(p->cfg, p->client, &login, fd, input, input_len);
}

void login_serve(const struct pop3d_settings *cfg, int fd)
{
	struct pop3d_client client = {"unknown", "0", "unknown", "0", ""};
	sock_peer_name(fd, client.addr, sizeof(client.addr), client.port, sizeof(client.port));
	sock_local_name(fd, client.local_addr, sizeof(client.local_addr), client.local_port,
	                sizeof(client.local_port));
	int ctl[2], proxy[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl) != 0)
		return log_warn("socketpair: %m");
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, proxy) != 0) {
		close(ctl[0]);
		close(ctl[1]);
		return log_warn("socketpair: %m");
	}
	/* Behind a load balancer the client is known once the login child
	 * has read the PROXY header (upstream_proxy.c); only a balancer in
	 * pop3d_upstream_proxy_trusted_networks may send one (Dovecot's
	 * haproxy_trusted_networks), anyone else is closed on at once. */
	if (cfg->upstream_proxy && cfg->upstream_proxy_trusted != NULL &&
	    !cidr_list_match(cfg->upstream_proxy_trusted, client.addr)) {
		log_warn("haproxy: connection from %s, not in "
		         "pop3d_upstream_proxy_trusted_networks: closed",
		         client.addr);
		return;
	}
	if (!cfg->upstream_proxy)
		log_info("connect from %s", client.addr);
	time_t connected = time(NULL);
	pid_t p_self = getpid();
	pid_t child = fork();
	if (child < 0) {
		log_warn("fork: %m");
		close(ctl[0]), close(ctl[1]), close(proxy[0]), close(proxy[1]);
		return;
	}
	if (child == 0) {
		int keep[] = {fd, ctl[1], proxy[1]};
		pop3d_close_other_fds(keep, 3);
		const char *error = "";
		if (cfg->privileged &&
		    privs_drop(cfg->login_uid, cfg->login_gid, NULL, false, &error) != 0)
			log_fatal("cannot become pop3d_login_user: %s", error);
		pop3d_die_with_parent(p_self);
		if (cfg->upstream_proxy && !upstream_proxy_read(cfg, &client, fd, ctl[1]))
			_exit(0);
		preauth_run(cfg, &client, fd, ctl[1], proxy[1]);
	}
	close(ctl[1]);
	close(proxy[1]);
	if (cfg->upstream_proxy) {
		if (!upstream_proxy_client(cfg, ctl[0], &client)) {
			close(ctl[0]);
			close(proxy[0]);
			/* Still ours to reap, so the pid cannot be another's. */
			kill(child, SIGKILL);
			reap(child, CHILD_EXIT_WAIT_MS);
			return;
		}
		log_info("connect from %s", client.addr);
		if (*client.proxied_tls)
			log_info("%s: TLS established: %s", client.addr, client.proxied_tls);
	}
	struct parent p = {.cfg = cfg,
	                   .client = &client,
	                   .fd = fd,
	                   .ctl = ctl[0],
	                   .proxy = proxy[0],
	                   .self = p_self};
	pid_t mailbox = -1;
	for (;;) {
		struct ipc_rec *rec = NULL;
		const char *error = "";
		int rc = ipc_read(p.ctl, &rec, 65536, -1, &error);
		if (rc != 1)
			break;
		if (p.user == NULL && ipc_rec_is(rec, "login")) {
			handle_login(&p, rec);
		} else if (p.user != NULL && ipc_rec_is(rec, "handoff")) {
			mailbox = start_mailbox(&p, rec);
			ipc_rec_free(rec);
			break;
		} else {
			log_warn("%s: unexpected record \"%s\" from the login process", client.addr,
			         rec->name);
			ipc_rec_free(rec);
			break;
		}
		for (size_t i = 0; i < rec->count; i++)
			if (rec->attrs[i].value)
				explicit_bzero(rec->attrs[i].value, rec->attrs[i].value_len);
		ipc_rec_free(rec);
	}
	close(p.ctl);
	close(p.proxy);
	if (mailbox > 0)
		waitpid(mailbox, NULL, 0);
	reap(child, CHILD_EXIT_WAIT_MS);
	if (p.user == NULL && p.failures > 0) {
		/* Dovecot's form, which log watchers (fail2ban's dovecot filter) know. */
		log_info("pop3-login: Disconnected (auth failed, %d attempts in %lld secs): "
		         "user=<%s>, method=%s, rip=%s, lip=%s",
		         p.failures, (long long)(time(NULL) - connected), p.failed_user,
		         p.failed_method, client.addr, client.local_addr);
	} else if (p.user == NULL) {
		log_info("disconnect from %s", client.addr);
	}
	free(p.failed_user);
	free(p.failed_method);
	free(p.user);
	free(p.method);
	free(p.tls);
	mailbox_location_free(&p.owner);
}

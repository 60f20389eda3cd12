/*
 * master's services: turning master.conf entries into running services
 * (program path, user, chroot, listening sockets, wake-up timers), watching
 * listeners when every process is busy, and reconciling on reload.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/postfix_hints.h"
#include "mail/queue.h"
#include "master/master.h"
#include "util/alloc.h"
#include "util/log.h"
#include "util/privs.h"
#include "util/sock.h"
#include "util/str.h"

#define LISTEN_BACKLOG 128
/* At most this many processes started at once for clients already waiting. */
#define SPAWN_BURST_MAX 8

static void on_listener_ready(struct event_loop *loop, int fd, int events, void *ctx);
static void on_wakeup_timer(struct event_loop *loop, void *ctx);

struct service *service_find(const struct service_def *def)
{
	for (struct service *svc = master.services; svc; svc = svc->next)
		if (!svc->removed && svc->def.type == def->type &&
		    strcmp(svc->def.name, def->name) == 0)
			return svc;
	return NULL;
}

static bool may_spawn(const struct service *svc, int64_t now)
{
	return !svc->removed && !master.stopping && svc->available == 0 &&
	       (svc->max_proc == 0 || svc->total < svc->max_proc) && now >= svc->throttle_until_ms;
}

void service_update_listening(struct service *svc)
{
	bool want = svc->listen_count > 0 && may_spawn(svc, event_now_ms());
	if (want == svc->listening)
		return;
	for (int i = 0; i < svc->listen_count; i++) {
		if (want)
			event_add_fd(master.loop, svc->listen_fds[i], EVENT_READ, on_listener_ready,
			             svc);
		else
			event_del_fd(master.loop, svc->listen_fds[i]);
	}
	svc->listening = want;
}

/* How many clients wait to be accepted on a TCP listener (Linux reports
 * the accept queue's length as tcpi_unacked of a listening socket); 1
 * where that cannot be told. */
static int clients_waiting(const struct service *svc, int fd)
{
	struct tcp_info info;
	socklen_t len = sizeof(info);
	if (svc->def.type != SERVICE_INET ||
	    getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0 || info.tcpi_unacked == 0)
		return 1;
	return info.tcpi_unacked > SPAWN_BURST_MAX ? SPAWN_BURST_MAX : (int)info.tcpi_unacked;
}

/* Clients wait and no process is free: start one for each (a few at a
 * time), so that a burst of connections is not served by processes
 * started one after another. */
static void on_listener_ready(struct event_loop *loop, int fd, int events, void *ctx)
{
	(void)loop;
	(void)events;
	struct service *svc = ctx;
	if (may_spawn(svc, event_now_ms())) {
		/* A program that has been crashing is started one at a time. */
		int n = svc->consecutive_crashes > 0 ? 1 : clients_waiting(svc, fd);
		if (svc->max_proc > 0 && n > svc->max_proc - svc->total)
			n = svc->max_proc - svc->total;
		for (int i = 0; i < n; i++)
			child_spawn(svc);
	}
	service_update_listening(svc);
}

void service_close_listeners(struct service *svc)
{
	if (svc->listening) {
		for (int i = 0; i < svc->listen_count; i++)
			event_del_fd(master.loop, svc->listen_fds[i]);
		svc->listening = false;
	}
	for (int i = 0; i < svc->listen_count; i++)
		close(svc->listen_fds[i]);
	svc->listen_count = 0;
	if (svc->socket_path)
		unlink(svc->socket_path);
}

void service_free(struct service *svc)
{
	service_close_listeners(svc);
	if (svc->wakeup_timer)
		event_cancel_timer(master.loop, svc->wakeup_timer);
	if (svc->throttle_timer)
		event_cancel_timer(master.loop, svc->throttle_timer);
	service_def_free(&svc->def);
	free(svc->label);
	free(svc->socket_path);
	free(svc->program);
	free(svc->chroot_dir);
	free(svc);
}

/* Everything about a service that can be worked out without opening sockets. */
struct plan {
	char *program;
	char *socket_path;
	char *chroot_dir;
	uid_t uid;
	gid_t gid;
	bool allow_root;
	int max_proc;
};

static void plan_free(struct plan *p)
{
	free(p->program);
	free(p->socket_path);
	free(p->chroot_dir);
}

static int plan_service(const struct conf *conf, const struct service_def *def, struct plan *p,
                        struct str *errors)
{
	memset(p, 0, sizeof(*p));
	const char *cmd = def->argv[0];
	p->program = cmd[0] == '/' ? xstrdup(cmd)
	                           : xasprintf("%s/%s", conf_get(conf, "daemon_directory"), cmd);
	if (access(p->program, X_OK) != 0) {
		int err = errno;
		const char *hint = postfix_program_hint(cmd);
		str_printf(errors, "%s:%d: service %s: command %s: %s", def->file, def->line,
		           def->name, p->program, strerror(err));
		if (hint != NULL)
			str_printf(errors, " (Postfix's %s: %s)", cmd, hint);
		str_printf(errors, "\n");
		return -1;
	}
	if (def->type != SERVICE_INET)
		p->socket_path = xasprintf("%s/%s/%s", conf_get(conf, "queue_directory"),
		                           def->private_socket ? "private" : "public", def->name);
	p->chroot_dir = xstrdup(def->chroot_path    ? def->chroot_path
	                        : def->chroot_queue ? conf_get(conf, "queue_directory")
	                                            : "");
	p->max_proc =
	    def->max_proc >= 0 ? def->max_proc : (int)conf_get_int(conf, "default_process_limit");
	const char *user = def->privilege == SERVICE_USER   ? def->user_spec
	                   : def->privilege == SERVICE_ROOT ? "root"
	                                                    : conf_get(conf, "mail_owner");
	p->allow_root = def->privilege == SERVICE_ROOT;
	if (!master.privileged) {
		p->uid = getuid();
		p->gid = getgid();
		return 0;
	}
	const char *error;
	if (privs_lookup(user, &p->uid, &p->gid, &error) != 0) {
		str_printf(errors, "%s:%d: service %s: user %s: %s\n", def->file, def->line,
		           def->name, user, error);
		return -1;
	}
	if (p->uid == 0 && !p->allow_root) {
		str_printf(errors,
		           "%s:%d: service %s would run as root (%s) but its unpriv column is not "
		           "'n'\n",
		           def->file, def->line, def->name, user);
		return -1;
	}
	if (*p->chroot_dir && access(p->chroot_dir, X_OK) != 0) {
		str_printf(errors, "%s:%d: service %s: chroot %s: %s\n", def->file, def->line,
		           def->name, p->chroot_dir, strerror(errno));
		return -1;
	}
	return 0;
}

static int open_inet_listeners(const struct conf *conf, const struct service_def *def, int *fds,
                               struct str *errors)
{
	char *host = NULL, *port = NULL;
	const char *error;
	if (sock_split_hostport(def->name, &host, &port, &error) != 0) {
		str_printf(errors, "%s:%d: service %s: %s\n", def->file, def->line, def->name,
		           error);
		return -1;
	}
	int count = 0;
	char *const *ifaces = conf_get_list(conf, "inet_interfaces");
	char *const *protos = conf_get_list(conf, "inet_protocols");
	const char *wildcard = NULL;
	if (protos[0] && !protos[1] && strcmp(protos[0], "ipv4") == 0)
		wildcard = "0.0.0.0";
	else if (protos[0] && !protos[1] && strcmp(protos[0], "ipv6") == 0)
		wildcard = "::";
	char *const all[] = {"all", NULL};
	if (host != NULL) {
		char *only[] = {host, NULL};
		ifaces = only;
		/* ifaces points at a local array: use it before leaving this block. */
		for (int i = 0; ifaces[i]; i++) {
			int n = sock_listen_tcp(ifaces[i], port, LISTEN_BACKLOG, fds + count,
			                        MASTER_MAX_LISTEN_FDS - count, &error);
			if (n < 0)
				goto fail;
			count += n;
		}
		goto done;
	}
	if (ifaces[0] == NULL)
		ifaces = all;
	for (int i = 0; ifaces[i]; i++) {
		const char *h = strcmp(ifaces[i], "all") == 0 ? wildcard : ifaces[i];
		int n = sock_listen_tcp(h, port, LISTEN_BACKLOG, fds + count,
		                        MASTER_MAX_LISTEN_FDS - count, &error);
		if (n < 0)
			goto fail;
		count += n;
	}
done:
	free(host);
	free(port);
	return count;
fail:
	str_printf(errors, "%s:%d: service %s: listen: %s\n", def->file, def->line, def->name,
	           error);
	for (int i = 0; i < count; i++)
		close(fds[i]);
	free(host);
	free(port);
	return -1;
}

static int open_unix_listener(const struct service_def *def, const char *path, int *fds,
                              struct str *errors)
{
	const char *error;
	int fd = sock_listen_unix(path, 0666, LISTEN_BACKLOG, &error);
	if (fd < 0) {
		str_printf(errors, "%s:%d: service %s: %s\n", def->file, def->line, def->name,
		           error);
		return -1;
	}
	fds[0] = fd;
	return 1;
}

/* Make the socket directories: private/ for mail_owner only, public/ for
 * the setgid group too. */
static int make_socket_dirs(const struct conf *conf, struct str *errors)
{
	const char *queue = conf_get(conf, "queue_directory");
	uid_t owner = getuid();
	gid_t owner_gid = getgid(), public_gid = getgid();
	const char *error;
	if (master.privileged) {
		if (privs_lookup(conf_get(conf, "mail_owner"), &owner, &owner_gid, &error) != 0) {
			str_printf(errors, "mail_owner %s: %s\n", conf_get(conf, "mail_owner"),
			           error);
			return -1;
		}
		uid_t unused;
		char *spec = xasprintf("root:%s", conf_get(conf, "setgid_group"));
		if (privs_lookup(spec, &unused, &public_gid, &error) != 0)
			public_gid = owner_gid;
		free(spec);
	}
	struct {
		const char *name;
		mode_t mode;
		gid_t gid;
	} dirs[] = {
	    {"", 0755, owner_gid}, {"private", 0700, owner_gid}, {"public", 0710, public_gid}};
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		char *path = xasprintf("%s/%s", queue, dirs[i].name);
		if (mkdir(path, dirs[i].mode) != 0 && errno != EEXIST) {
			str_printf(errors, "mkdir %s: %s\n", path, strerror(errno));
			free(path);
			return -1;
		}
		if (master.privileged && i > 0 && chown(path, owner, dirs[i].gid) != 0) {
			str_printf(errors, "chown %s: %s\n", path, strerror(errno));
			free(path);
			return -1;
		}
		free(path);
	}
	/* The queue itself: incoming/, active/, ... owned by mail_owner. */
	if (queue_make_dirs(queue, master.privileged ? owner : (uid_t)-1, owner_gid, &error) != 0) {
		str_printf(errors, "%s\n", error);
		return -1;
	}
	if (master.privileged) {
		/* maildrop/ belongs to the drop group, so the setgid helper can write. */
		char *maildrop = xasprintf("%s/maildrop", queue);
		if (chown(maildrop, owner, public_gid) != 0) {
			str_printf(errors, "chown %s: %s\n", maildrop, strerror(errno));
			free(maildrop);
			return -1;
		}
		free(maildrop);
	}
	return 0;
}

/* Postfix's set-permissions for the one set-id program: a master running
 * as root makes $daemon_directory/postdrop group setgid_group, mode 2755,
 * so that users other than root can submit mail. It only ever adds the
 * set-gid bit to a file that only root can have written: a regular file
 * (not a symbolic link) with one link, owned by root and writable by no
 * one else, in a directory that belongs to root and that no one else may
 * write. Anything else is left as it is, with a warning; none of this
 * stops master, since only local submission needs postdrop. */
static void postdrop_set_permissions(const struct conf *conf)
{
	const char *dir = conf_get(conf, "daemon_directory");
	const char *group = conf_get(conf, "setgid_group");
	char *path = xasprintf("%s/postdrop", dir);
	char *spec = xasprintf("root:%s", group);
	const char *why = NULL;
	const char *error;
	uid_t unused;
	gid_t gid;
	struct stat st, dir_st, fd_st;
	int fd = -1;
	if (lstat(path, &st) != 0) {
		if (errno == ENOENT)
			log_debug("%s does not exist; local submission with sendmail will not work",
			          path);
		else
			log_warn("%s: %m", path);
		goto done;
	}
	if (privs_lookup(spec, &unused, &gid, &error) != 0) {
		log_warn("setgid_group %s: %s; %s is left as it is, so only root can submit mail "
		         "with sendmail",
		         group, error, path);
		goto done;
	}
	if (S_ISREG(st.st_mode) && st.st_uid == 0 && st.st_gid == gid &&
	    (st.st_mode & 07777) == 02755)
		goto done;
	if (gid == 0)
		why = "setgid_group is root's group";
	else if (S_ISLNK(st.st_mode))
		why = "it is a symbolic link";
	else if (!S_ISREG(st.st_mode))
		why = "it is not a regular file";
	else if (st.st_nlink != 1)
		why = "it has more than one link";
	else if (st.st_uid != 0)
		why = "it is not owned by root";
	else if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
		why = "it is writable by group or others";
	else if (stat(dir, &dir_st) != 0)
		why = "its directory cannot be examined";
	else if (dir_st.st_uid != 0 || (dir_st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
		why = "its directory belongs to a user other than root or is writable by group or "
		      "others";
	if (why != NULL) {
		log_warn("%s is not made set-gid %s: %s; only root can submit mail with sendmail "
		         "(see master(8))",
		         path, group, why);
		goto done;
	}
	/* Change what was checked, not what the name points at by now. */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &fd_st) != 0) {
		log_warn("open %s: %m", path);
		goto done;
	}
	if (fd_st.st_dev != st.st_dev || fd_st.st_ino != st.st_ino) {
		log_warn("%s changed while master examined it; not changed", path);
		goto done;
	}
	/* The group first: a change of group may clear the set-gid bit. */
	if (fchown(fd, 0, gid) != 0 || fchmod(fd, 02755) != 0) {
		log_warn("%s: cannot set group %s and mode 2755: %m", path, group);
		goto done;
	}
	log_info("%s: set group %s and mode 2755 (was gid %ld, mode %04o), so users other than "
	         "root can submit mail",
	         path, group, (long)st.st_gid, (unsigned)(st.st_mode & 07777));
done:
	if (fd >= 0)
		close(fd);
	free(spec);
	free(path);
}

static char *service_label(const struct service_def *def)
{
	return xasprintf("%s/%s", def->name, service_type_name(def->type));
}

/* Is the existing service's socket what def would get? Then keep it open. */
static bool same_listeners(const struct service *svc, const struct service_def *def,
                           const struct plan *p, const struct conf *old_conf,
                           const struct conf *new_conf)
{
	if (svc->listen_count == 0)
		return false;
	if (def->type != SERVICE_INET)
		return svc->socket_path && p->socket_path &&
		       strcmp(svc->socket_path, p->socket_path) == 0;
	return strcmp(conf_get(old_conf, "inet_interfaces"),
	              conf_get(new_conf, "inet_interfaces")) == 0 &&
	       strcmp(conf_get(old_conf, "inet_protocols"), conf_get(new_conf, "inet_protocols")) ==
	           0;
}

static void schedule_wakeup(struct service *svc, int64_t delay_ms)
{
	if (svc->wakeup_timer)
		event_cancel_timer(master.loop, svc->wakeup_timer);
	svc->wakeup_timer = NULL;
	if (svc->def.wakeup > 0 && svc->def.type != SERVICE_INET && !svc->removed)
		svc->wakeup_timer = event_add_timer(master.loop, delay_ms, on_wakeup_timer, svc);
}

static void on_wakeup_timer(struct event_loop *loop, void *ctx)
{
	(void)loop;
	struct service *svc = ctx;
	svc->wakeup_timer = NULL;
	child_wakeup_send(svc);
	schedule_wakeup(svc, (int64_t)svc->def.wakeup * 1000);
}

struct pending {
	struct service_def *def;
	struct plan plan;
	struct service *existing;
	int fds[MASTER_MAX_LISTEN_FDS];
	int count;
	bool keep_fds;
};

int service_configure(bool initial, struct str *errors_out)
{
	struct diag_list diags;
	diag_list_init(&diags);
	struct str errors = STR_INIT;
	struct conf *conf = conf_load(master.config_dir, &diags);
	struct service_list list;
	service_list_init(&list);
	char *master_path = xasprintf("%s/master.conf", master.config_dir);
	if (conf != NULL)
		masterconf_load_file(master_path, &list, &diags);
	free(master_path);
	for (size_t i = 0; i < diags.count; i++) {
		if (diags.items[i].severity == DIAG_WARNING)
			log_warn("%s", diags.items[i].text);
		else
			str_printf(&errors, "%s\n", diags.items[i].text);
	}
	bool failed = conf == NULL || diag_has_errors(&diags);
	diag_list_free(&diags);

	struct pending *pend = xcalloc(list.count + 1, sizeof(*pend));
	if (!failed && make_socket_dirs(conf, &errors) != 0)
		failed = true;
	if (!failed && master.privileged)
		postdrop_set_permissions(conf);
	if (!failed && initial) {
		/* No writer runs yet: what tmp/ holds was left by killed ones. */
		int swept = queue_sweep_tmp(conf_get(conf, "queue_directory"), 0);
		if (swept > 0)
			log_info("removed %d unfinished queue file%s from tmp/", swept,
			         swept == 1 ? "" : "s");
	}
	for (size_t i = 0; !failed && i < list.count; i++) {
		pend[i].def = &list.items[i];
		if (plan_service(conf, pend[i].def, &pend[i].plan, &errors) != 0) {
			failed = true;
			break;
		}
		pend[i].existing = service_find(pend[i].def);
		if (pend[i].existing && !initial &&
		    same_listeners(pend[i].existing, pend[i].def, &pend[i].plan, master.conf,
		                   conf)) {
			pend[i].keep_fds = true;
			continue;
		}
		pend[i].count = pend[i].def->type == SERVICE_INET
		                    ? open_inet_listeners(conf, pend[i].def, pend[i].fds, &errors)
		                    : open_unix_listener(pend[i].def, pend[i].plan.socket_path,
		                                         pend[i].fds, &errors);
		if (pend[i].count < 0) {
			pend[i].count = 0;
			failed = true;
		}
	}
	if (failed) {
		if (errors_out)
			str_append(errors_out, errors.data, errors.len);
		for (const char *line = str_cstr(&errors); *line;) {
			const char *nl = strchr(line, '\n');
			int len = nl ? (int)(nl - line) : (int)strlen(line);
			log_error("%.*s", len, line);
			line += len + (nl ? 1 : 0);
		}
		for (size_t i = 0; i < list.count; i++) {
			for (int j = 0; j < pend[i].count; j++)
				close(pend[i].fds[j]);
			plan_free(&pend[i].plan);
		}
		free(pend);
		service_list_free(&list);
		str_free(&errors);
		if (conf)
			conf_free(conf);
		return -1;
	}
	str_free(&errors);

	/* Services no longer configured: stop listening, let their processes finish. */
	for (struct service *svc = master.services; svc; svc = svc->next) {
		bool kept = false;
		for (size_t i = 0; i < list.count; i++)
			if (pend[i].existing == svc)
				kept = true;
		if (!kept && !svc->removed) {
			log_info("service %s removed", svc->label);
			svc->removed = true;
			service_close_listeners(svc);
			schedule_wakeup(svc, 0);
			child_retire_all(svc);
		}
	}
	for (size_t i = 0; i < list.count; i++) {
		struct service *svc = pend[i].existing;
		if (svc == NULL) {
			svc = xcalloc(1, sizeof(*svc));
			svc->created_ms = event_now_ms();
			svc->next = master.services;
			master.services = svc;
			log_debug("service %s added", pend[i].def->name);
		} else {
			if (!initial)
				child_retire_all(svc);
			if (pend[i].keep_fds) {
				if (svc->listening)
					for (int j = 0; j < svc->listen_count; j++)
						event_del_fd(master.loop, svc->listen_fds[j]);
				svc->listening = false;
			} else {
				/* The new socket may sit at the old path: do not unlink it. */
				if (svc->socket_path && pend[i].plan.socket_path &&
				    strcmp(svc->socket_path, pend[i].plan.socket_path) == 0) {
					free(svc->socket_path);
					svc->socket_path = NULL;
				}
				service_close_listeners(svc);
			}
			service_def_free(&svc->def);
			free(svc->label);
			free(svc->socket_path);
			free(svc->program);
			free(svc->chroot_dir);
		}
		service_def_copy(&svc->def, pend[i].def);
		svc->label = service_label(&svc->def);
		svc->program = pend[i].plan.program;
		svc->socket_path = pend[i].plan.socket_path;
		svc->chroot_dir = pend[i].plan.chroot_dir;
		svc->uid = pend[i].plan.uid;
		svc->gid = pend[i].plan.gid;
		svc->allow_root = pend[i].plan.allow_root;
		svc->max_proc = pend[i].plan.max_proc;
		if (!pend[i].keep_fds) {
			svc->listen_count = pend[i].count;
			memcpy(svc->listen_fds, pend[i].fds, sizeof(int) * (size_t)pend[i].count);
		}
		service_update_listening(svc);
		schedule_wakeup(svc, 0);
	}
	if (master.conf)
		conf_free(master.conf);
	master.conf = conf;
	free(pend);
	service_list_free(&list);
	return 0;
}

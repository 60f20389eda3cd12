/*
 * master: the supervisor. Internal interfaces between its files:
 * main.c (start-up, signals, the main loop), service.c (services from
 * master.conf: listeners, users, reload), child.c (spawning, status, reaping,
 * throttling), control.c (the mailctl control socket).
 */
#ifndef POSTERN_MASTER_MASTER_H
#define POSTERN_MASTER_MASTER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "conf/conf.h"
#include "conf/masterconf.h"
#include "server/master_proto.h"
#include "util/event.h"
#include "util/ipc.h"
#include "util/str.h"

struct service;

struct child {
	pid_t pid;
	struct service *service;
	int status_fd;
	struct ipc_reader reader;
	bool available; /* idle: can take a connection */
	bool retired;   /* told to stop; no longer counted */
	int64_t started_ms;
	struct child *next;
};

struct service {
	struct service_def def;
	char *label;       /* "name/type" for logs */
	char *socket_path; /* unix/pass */
	char *program;     /* absolute path of the command */
	int listen_fds[MASTER_MAX_LISTEN_FDS];
	int listen_count;
	bool listening; /* listeners watched for a waiting client */
	uid_t uid;
	gid_t gid;
	bool allow_root;
	char *chroot_dir; /* "" for none */
	int max_proc;     /* 0: no limit */
	int total;        /* live, non-retired children */
	int available;    /* of those, idle */
	struct child *children;
	unsigned long spawned;  /* processes started in all */
	unsigned long crashes;  /* abnormal exits in all */
	unsigned long restarts; /* processes started after a crash */
	int consecutive_crashes;
	bool crashed_since_spawn;
	int64_t throttle_until_ms; /* no spawning before this */
	struct event_timer *throttle_timer;
	struct event_timer *wakeup_timer;
	int64_t created_ms;
	bool removed; /* gone from master.conf: dies with its last child */
	struct service *next;
};

struct master {
	char *config_dir;
	struct conf *conf;
	struct event_loop *loop;
	struct service *services;
	bool privileged; /* running as root: services change user */
	bool stopping;
	int control_fd;
	char *control_path;
	int64_t started_ms;
	char **child_env;
};

extern struct master master;

/* service.c */
/* Read both files and apply them; on error log every diagnostic, append them
 * to errors_out (may be NULL) and return -1, changing nothing. */
int service_configure(bool initial, struct str *errors_out);
void service_close_listeners(struct service *svc);
void service_update_listening(struct service *svc);
void service_free(struct service *svc);
struct service *service_find(const struct service_def *def);

/* child.c */
void child_spawn(struct service *svc);
void child_on_sigchld(void);
void child_retire_all(struct service *svc);
void child_signal_all(int sig);
int child_count(void);
void child_wakeup_send(struct service *svc);

/* control.c */
int control_open(const char **error_r);
void control_close(void);

/* tickets.c */
/* (Re)read smtpd_tls_session_cache_timeout: make, keep or drop the TLS
 * session ticket keys and their replacement timer. */
void tickets_configure(void);
/* The keys, for a process of svc (network services only). */
void tickets_add_to_service_record(const struct service *svc, struct ipc_rec *rec);

/* main.c */
void master_request_stop(void);
/* Reload both files; 0, or -1 with diagnostics in errors (may be NULL). */
int master_reload(struct str *errors);

#endif

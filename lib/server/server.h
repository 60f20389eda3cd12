/*
 * The skeleton every long-lived service process runs on (Postfix's
 * single_server/multi_server in one): option parsing (-c DIR, -o
 * name=value, -v), config loading, logging set-up, the hand-shake with
 * master, privilege drop, accepting connections on the inherited listeners,
 * busy/idle reports, max_use and max_idle recycling, retirement on reload,
 * and exit when master goes away. A program holds only its protocol logic.
 *
 * SERVER_SINGLE: one connection at a time; ops->serve runs to completion
 *   and the skeleton closes the descriptor after it.
 * SERVER_MULTI: the service registers the descriptor with server_loop()
 *   in ops->accept and calls server_conn_done() when it closes it.
 * A pass-type service receives each client descriptor through the
 * accepted connection; the skeleton unwraps it, so ops see the client.
 */
#ifndef POSTERN_SERVER_SERVER_H
#define POSTERN_SERVER_SERVER_H

#include <stdbool.h>

#include "conf/conf.h"
#include "util/event.h"

enum server_mode { SERVER_SINGLE, SERVER_MULTI };

struct server;

struct server_ops {
	enum server_mode mode;
	/* Daemons such as qmgr: never exit for max_use or max_idle. */
	bool persistent;
	/* MULTI: connections at which the process reports itself busy (0: never). */
	int max_connections;
	/* Before the privilege drop (open keys and privileged files); may be NULL. */
	void (*pre_drop)(struct server *srv);
	/* After the privilege drop, before the first connection; may be NULL. */
	void (*init)(struct server *srv);
	/* SINGLE: serve one connection. */
	void (*serve)(struct server *srv, int fd);
	/* MULTI: take ownership of a connection. */
	void (*accept)(struct server *srv, int fd);
	/* Before exit (retire, max_use, master gone, SIGTERM in MULTI); may be NULL. */
	void (*shutdown)(struct server *srv);
};

/* Run the service; returns the process exit status. */
int server_main(int argc, char **argv, const struct server_ops *ops, void *ctx);

void *server_context(const struct server *srv);
const struct conf *server_conf(const struct server *srv);
struct event_loop *server_loop(struct server *srv);
/* For a delivery agent: the next request on a connection from qmgr, if
 * it is a record named name (anything else is logged): the first within
 * ipc_timeout (which *timeout_ms_r gets for the replies), a later one (qmgr
 * keeps a connection for its next delivery) within two seconds. NULL when
 * there is none, or when the process has served max_use requests or
 * master has a word for it (retirement): the agent then returns. */
struct ipc_rec *server_read_request(struct server *srv, int fd, const char *name,
                                    int *timeout_ms_r);
const char *server_service_name(const struct server *srv);
/* Arguments left after the skeleton's options. */
char **server_args(const struct server *srv, int *argc_r);
/* MULTI: a connection handed to ops->accept has been closed. */
void server_conn_done(struct server *srv);
/* True once master asked this process to stop taking work. */
bool server_retiring(const struct server *srv);

#endif

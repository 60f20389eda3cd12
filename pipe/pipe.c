/*
 * pipe: the delivery agent that runs a command for the mail, as Postfix's
 * pipe(8); a master.conf line such as
 *   dovecot unix - n n - - pipe flags=DRhu user=vmail:vmail
 *     argv=/usr/lib/dovecot/dovecot-lda -f ${sender} -d ${user}@${nexthop}
 * is a transport qmgr delivers through (qmgr/transports.c), and local's
 * mailbox_transport and fallback_transport can name it (local/pass.c).
 * The arguments after the program name are pipe's (lib/mail/pipe_args.h);
 * bad ones are logged at start and defer every request with a reason that
 * names the problem (mailctl check reports them too).
 *
 * qmgr connects to private/SERVICE and sends one "deliver" request:
 * queue_id, queue_name ("active"), sender, nexthop (the recipient domain
 * or the transport table's next hop: ${nexthop}), then per recipient
 * rcpt (s) and index (i), and optionally verify (i). pipe answers one
 * "result" per recipient (index, state, status, reason, relay: the
 * service name, and dsn "relayed" or, with flag X, "delivered" for a
 * delivery), then "done". The recipients of a request go to one command
 * (deliver.c): SERVICE_destination_recipient_limit = 1 gives one command
 * per recipient. A verify request runs nothing: every recipient is
 * "delivered" ("delivers to command: ..."). The queue file is only read.
 * The command may run up to SERVICE_time_limit (default
 * $command_time_limit).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"
#include "pipe/pipe.h"
#include "server/server.h"
#include "util/alloc.h"
#include "util/ipc.h"
#include "util/log.h"

static struct pipe_service service;

static void init(struct server *srv)
{
	const struct conf *conf = server_conf(srv);
	service.name = server_service_name(srv);
	service.delimiter = conf_get(conf, "recipient_delimiter");
	service.mail_owner = conf_get(conf, "mail_owner");
	service.queue_dir = conf_get(conf, "queue_directory");
	char *limit = xasprintf("%s_time_limit", service.name);
	service.time_limit_ms = conf_get_time(conf, limit) * 1000;
	if (service.time_limit_ms <= 0)
		service.time_limit_ms = 1000 * 1000;
	free(limit);
	int argc = 0;
	char **args = server_args(srv, &argc);
	struct str error = STR_INIT;
	if (pipe_args_parse(args, argc > 0 ? (size_t)argc : 0, &service.args, &error) != 0) {
		service.problem = str_steal(&error);
		log_error("master.conf service %s: %s: its mail is deferred", service.name,
		          service.problem);
	}
	str_free(&error);
}

/* Open and check the queue file; NULL on success, else the reason. */
static char *open_message(const char *queue_id, struct queue_envelope *env,
                          struct pipe_message *msg)
{
	const char *error = "";
	size_t offset = 0;
	char *path = xasprintf("%s/active/%s", service.queue_dir, queue_id);
	char *problem = NULL;
	msg->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (msg->fd < 0)
		problem = xasprintf("cannot open queue file: %s", strerror(errno));
	else if (queue_file_read_fd(msg->fd, env, &offset, &error) != 0)
		problem = xasprintf("cannot read queue file: %s", error);
	free(path);
	for (const char *c = env->sender; problem == NULL && c && *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			problem = xstrdup("invalid envelope sender");
	msg->offset = (int64_t)offset;
	msg->env = env;
	return problem;
}

static int send_result(int fd, int64_t index, const struct pipe_result *r, bool verify,
                       int timeout_ms)
{
	struct ipc_rec *rec = ipc_rec_new("result");
	ipc_rec_add_int(rec, "index", index);
	ipc_rec_add_str(rec, "state", r->state);
	ipc_rec_add_str(rec, "status", r->status);
	ipc_rec_add_str(rec, "reason", r->reason ? r->reason : "");
	ipc_rec_add_str(rec, "relay", service.name);
	if (strcmp(r->state, "delivered") == 0 && !verify && r->dsn)
		ipc_rec_add_str(rec, "dsn", r->dsn);
	int rc = ipc_write(fd, rec, timeout_ms);
	ipc_rec_free(rec);
	return rc;
}

static void verify_all(struct pipe_result *results, size_t count)
{
	char *text =
	    service.problem ? NULL : xasprintf("delivers to command: %s", service.args.argv[0]);
	for (size_t i = 0; i < count; i++) {
		if (results[i].state != NULL)
			continue;
		if (text == NULL)
			pipe_result_set(&results[i], "deferred", "4.3.5",
			                "mail system configuration error");
		else
			pipe_result_set(&results[i], "delivered", "2.0.0", text);
	}
	free(text);
}

static void serve_request(int fd, const struct ipc_rec *req, int timeout_ms)
{
	const char *queue_id = ipc_rec_get_str(req, "queue_id");
	const char *queue_name = ipc_rec_get_str(req, "queue_name");
	const char *nexthop = ipc_rec_get_str(req, "nexthop");
	if (!queue_id || !queue_id_valid(queue_id) || !queue_name ||
	    strcmp(queue_name, "active") != 0) {
		log_warn("malformed deliver request: bad queue_id or queue_name");
		return;
	}
	const struct ipc_attr *a_verify = ipc_rec_find(req, "verify");
	if (a_verify != NULL &&
	    (a_verify->type != IPC_INT || (a_verify->num != 0 && a_verify->num != 1))) {
		log_warn("%s: malformed deliver request: bad verify", queue_id);
		struct ipc_rec *done = ipc_rec_new("done");
		(void)ipc_write(fd, done, timeout_ms);
		ipc_rec_free(done);
		return;
	}
	struct queue_envelope env;
	queue_envelope_init(&env);
	struct pipe_message msg = {.fd = -1, .nexthop = nexthop ? nexthop : ""};
	char *problem = open_message(queue_id, &env, &msg);
	bool verify = a_verify != NULL && a_verify->num == 1;
	if (problem)
		log_warn("%s: %s", queue_id, problem);
	else if (!verify && queue_envelope_is_verify(&env))
		verify = true; /* a verify message is delivered to nobody */
	size_t count = 0;
	while (ipc_rec_get_nth(req, "rcpt", count) || ipc_rec_get_nth(req, "index", count))
		count++;
	struct pipe_result *results = xcalloc(count ? count : 1, sizeof(*results));
	const char **addrs = xcalloc(count ? count : 1, sizeof(*addrs));
	int64_t *indexes = xcalloc(count ? count : 1, sizeof(*indexes));
	int64_t *wire = xcalloc(count ? count : 1, sizeof(*wire));
	size_t n = 0, good = 0;
	/* The good recipients first in addrs/indexes (for the command), their
	 * results by position; wire has the index each result answers. */
	size_t *order = xcalloc(count ? count : 1, sizeof(*order));
	for (size_t i = 0; i < count; i++) {
		const struct ipc_attr *a_rcpt = ipc_rec_get_nth(req, "rcpt", i);
		const struct ipc_attr *a_index = ipc_rec_get_nth(req, "index", i);
		if (!a_rcpt || !a_index || a_rcpt->type != IPC_STR || a_index->type != IPC_INT) {
			log_warn("%s: malformed deliver request: recipient %zu", queue_id, i);
			break;
		}
		wire[n] = a_index->num;
		if (problem) {
			pipe_result_set(&results[n], "deferred", "4.3.0", problem);
		} else if (a_index->num < 0 || (uint64_t)a_index->num >= env.rcpt_count ||
		           strcmp(env.rcpts[a_index->num].address, a_rcpt->value) != 0) {
			pipe_result_set(&results[n], "deferred", "4.3.0",
			                "recipient does not match the queue file");
		} else {
			addrs[good] = a_rcpt->value;
			indexes[good] = a_index->num;
			order[good++] = n;
		}
		n++;
	}
	if (good > 0 && verify) {
		verify_all(results, n);
	} else if (good > 0) {
		struct pipe_result *sub = xcalloc(good, sizeof(*sub));
		pipe_deliver(&service, &msg, addrs, indexes, good, sub);
		for (size_t k = 0; k < good; k++)
			results[order[k]] = sub[k];
		free(sub);
	}
	for (size_t i = 0; i < n; i++) {
		if (results[i].state == NULL)
			pipe_result_set(&results[i], "deferred", "4.3.0", "not delivered");
		if (send_result(fd, wire[i], &results[i], verify, timeout_ms) != 0) {
			log_warn("%s: lost connection to qmgr: %m", queue_id);
			break;
		}
	}
	struct ipc_rec *done = ipc_rec_new("done");
	(void)ipc_write(fd, done, timeout_ms);
	ipc_rec_free(done);
	for (size_t i = 0; i < n; i++)
		free(results[i].reason);
	free(results);
	free(addrs);
	free(indexes);
	free(wire);
	free(order);
	free(problem);
	if (msg.fd >= 0)
		close(msg.fd);
	queue_envelope_free(&env);
}

static void serve(struct server *srv, int fd)
{
	int timeout_ms;
	struct ipc_rec *req;
	while ((req = server_read_request(srv, fd, "deliver", &timeout_ms)) != NULL) {
		serve_request(fd, req, timeout_ms);
		ipc_rec_free(req);
	}
}

static void shutdown_service(struct server *srv)
{
	(void)srv;
	if (service.problem == NULL)
		pipe_args_free(&service.args);
	free(service.problem);
	service.problem = NULL;
}

int main(int argc, char **argv)
{
	static const struct server_ops ops = {
	    .mode = SERVER_SINGLE,
	    .init = init,
	    .serve = serve,
	    .shutdown = shutdown_service,
	};
	return server_main(argc, argv, &ops, NULL);
}

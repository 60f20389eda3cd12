/*
 * Passing a recipient to another delivery agent, as Postfix's local does
 * with deliver_pass(): mailbox_transport_maps (looked up by user name,
 * each table in turn; an empty value is none) and mailbox_transport in
 * place of a system user's mailbox, fallback_transport in place of the
 * bounce of an unknown user (expand.c decides when). The value is
 * "transport[:nexthop]": transport is a unix service in master.conf whose
 * program is smtp, lmtp or pipe (a local one would be handed its own mail back,
 * anything else does not take these requests), nexthop defaults to the
 * recipient domain, as qmgr's does for an smtp transport.
 *
 * local connects to $queue_directory/private/TRANSPORT, as qmgr does
 * (qmgr/deliver.c), and sends one "deliver" request for the same queue
 * file: queue_id, queue_name "active", sender, nexthop, the recipient as
 * the queue file has it and its index there (delivery agents check both
 * against the queue file), and verify = 1 for a verify request. The
 * agent's "result" becomes the recipient's result: state, status and
 * reason, with relay, tls, remote_mta, diagnostic and dsn passed on to qmgr
 * for its log line and for a DSN. An agent that cannot be reached, or
 * that answers nothing usable, defers the recipient with 4.3.0 and a
 * reason that names the transport. Nothing is passed once qmgr has gone
 * away (the agent would deliver what qmgr never hears of).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/masterconf.h"
#include "local/local.h"
#include "mail/route.h"
#include "mail/status_log.h"
#include "table/table.h"
#include "util/alloc.h"
#include "util/log.h"
#include "util/sock.h"

#define PASS_CONNECT_TIMEOUT_MS 10000
#define PASS_RESULT_MAX (64 * 1024)

/* A service name that can be a file name in private/. */
static bool transport_name_ok(const char *name)
{
	if (name[0] == '\0' || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	for (const char *p = name; *p; p++)
		if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') &&
		    !(*p >= '0' && *p <= '9') && !strchr("-_.", *p))
			return false;
	return true;
}

/* Why the master.conf service transport cannot take the request (a fresh
 * string), or NULL. As qmgr (qmgr/transports.c): the name smtp, or a
 * program smtp, lmtp or pipe. */
static char *service_check(const struct conf *conf, const char *transport)
{
	char *path = xasprintf("%s/master.conf", conf_get(conf, "config_directory"));
	struct service_list services;
	struct diag_list diags;
	service_list_init(&services);
	diag_list_init(&diags);
	(void)masterconf_load_file(path, &services, &diags); /* good lines still count */
	char *problem = xasprintf("no unix service %s in master.conf", transport);
	for (size_t i = 0; i < services.count; i++) {
		const struct service_def *def = &services.items[i];
		if (def->type != SERVICE_UNIX || strcmp(def->name, transport) != 0)
			continue;
		const char *slash = strrchr(def->argv[0], '/');
		const char *program = slash ? slash + 1 : def->argv[0];
		free(problem);
		problem = NULL;
		if (strcmp(transport, "smtp") != 0 && strcmp(program, "smtp") != 0 &&
		    strcmp(program, "lmtp") != 0 && strcmp(program, "pipe") != 0)
			problem = xasprintf(
			    "its master.conf service runs %s, not smtp, lmtp or pipe", program);
		break;
	}
	diag_list_free(&diags);
	service_list_free(&services);
	free(path);
	return problem;
}

int local_mailbox_transport(struct local_service *svc, const struct conf *conf, const char *user,
                            char **value_r, const char **param_r, char **error_r)
{
	char *const *specs = conf_get_list(conf, "mailbox_transport_maps");
	if (!svc->mailbox_transport_maps_opened) {
		size_t n = 0;
		while (specs && specs[n])
			n++;
		svc->mailbox_transport_maps = xcalloc(n + 1, sizeof(struct table *));
		svc->mailbox_transport_map_count = n;
		svc->mailbox_transport_maps_opened = true;
	}
	struct str value = STR_INIT;
	for (size_t i = 0; i < svc->mailbox_transport_map_count; i++) {
		const char *error = "";
		struct table **t = &svc->mailbox_transport_maps[i];
		if (*t == NULL && (*t = table_open(specs[i], &error)) == NULL) {
			*error_r = xasprintf("mailbox_transport_maps %s: %s", specs[i], error);
			str_free(&value);
			return -1;
		}
		int rc = table_lookup(*t, user, &value, &error);
		if (rc < 0) {
			*error_r =
			    xasprintf("mailbox_transport_maps lookup of %s: %s", user, error);
			str_free(&value);
			return -1;
		}
		if (rc == 1 && value.len > 0) {
			*value_r = str_steal(&value);
			*param_r = "mailbox_transport_maps";
			return 1;
		}
	}
	str_free(&value);
	const char *transport = conf_get(conf, "mailbox_transport");
	if (transport[0] == '\0')
		return 0;
	*value_r = xstrdup(transport);
	*param_r = "mailbox_transport";
	return 1;
}

/* service_check, remembered for the last transport: master.conf does not
 * change under a running local (master retires it on a reload). */
static char *service_problem(const struct conf *conf, const char *transport)
{
	static char *checked, *problem;
	if (checked == NULL || strcmp(checked, transport) != 0) {
		free(checked);
		free(problem);
		checked = xstrdup(transport);
		problem = service_check(conf, transport);
	}
	return problem ? xstrdup(problem) : NULL;
}

static int send_request(int fd, const struct local_message *msg, const char *nexthop,
                        const struct local_pass_rcpt *rcpt, int timeout_ms)
{
	struct ipc_rec *rec = ipc_rec_new("deliver");
	ipc_rec_add_str(rec, "queue_id", msg->queue_id);
	ipc_rec_add_str(rec, "queue_name", "active");
	ipc_rec_add_str(rec, "sender", msg->sender);
	ipc_rec_add_str(rec, "nexthop", nexthop);
	ipc_rec_add_str(rec, "rcpt", rcpt->address);
	ipc_rec_add_int(rec, "index", rcpt->index);
	if (rcpt->deliver_to != NULL)
		ipc_rec_add_str(rec, "deliver_to", rcpt->deliver_to);
	if (msg->verify)
		ipc_rec_add_int(rec, "verify", 1);
	int rc = ipc_write(fd, rec, timeout_ms);
	ipc_rec_free(rec);
	return rc;
}

/* Take one "result" for our index into result. */
static bool take_result(const struct ipc_rec *rec, const struct local_pass_rcpt *rcpt,
                        struct local_result *result)
{
	int64_t index;
	const char *state = ipc_rec_get_str(rec, "state");
	if (!ipc_rec_get_int(rec, "index", &index) || index != rcpt->index || state == NULL)
		return false;
	local_child_result(rec, "", result);
	if (strcmp(result->state, state) != 0)
		return false; /* a malformed status: local_child_result deferred it */
	const char *relay = ipc_rec_get_str(rec, "relay");
	const char *tls = ipc_rec_get_str(rec, "tls");
	const char *remote_mta = ipc_rec_get_str(rec, "remote_mta");
	const char *diagnostic = ipc_rec_get_str(rec, "diagnostic");
	const char *dsn = ipc_rec_get_str(rec, "dsn");
	result->relay = relay ? xstrdup(relay) : NULL;
	result->tls = tls ? xstrdup(tls) : NULL;
	result->remote_mta = remote_mta ? xstrdup(remote_mta) : NULL;
	result->diagnostic = diagnostic ? xstrdup(diagnostic) : NULL;
	result->dsn = dsn ? rcpt_dsn_name(rcpt_dsn_parse(dsn)) : NULL;
	return true;
}

void local_pass(const struct conf *conf, const struct local_message *msg, const char *param,
                const char *value, const struct local_pass_rcpt *rcpt, struct local_result *result)
{
	struct str transport = STR_INIT, nexthop = STR_INIT;
	mail_route_split(value, &transport, &nexthop);
	if (nexthop.len == 0)
		str_set(&nexthop, rcpt->domain);
	const char *name = str_cstr(&transport);
	char *path = NULL, *problem = NULL;
	int fd = -1;
	int timeout_ms = (int)(conf_get_time(conf, "ipc_timeout") * 1000);
	if (timeout_ms <= 0)
		timeout_ms = 3600 * 1000;
	if (!transport_name_ok(name)) {
		problem = xasprintf("%s = %s: bad transport name", param, value);
		local_result_set(result, "deferred", "4.3.5", problem);
		goto out;
	}
	char *why = service_problem(conf, name);
	if (why != NULL) {
		problem = xasprintf("transport \"%s\" in %s: %s", name, param, why);
		free(why);
		local_result_set(result, "deferred", "4.3.5", problem);
		goto out;
	}
	if (local_qmgr_gone()) {
		local_result_set(result, "deferred", "4.3.0",
		                 "queue manager went away: delivery abandoned");
		goto out;
	}
	path = xasprintf("%s/private/%s", conf_get(conf, "queue_directory"), name);
	const char *error = "";
	fd = sock_connect_unix_nonblock(path, PASS_CONNECT_TIMEOUT_MS, &error);
	if (fd < 0) {
		log_warn("%s: %s: cannot connect to %s: %s", msg->queue_id, param, path, error);
		problem = xasprintf("%s %s: delivery agent not available", param, name);
		local_result_set(result, "deferred", "4.3.0", problem);
		goto out;
	}
	if (send_request(fd, msg, str_cstr(&nexthop), rcpt, timeout_ms) != 0) {
		log_warn("%s: %s: cannot send the request to %s: %m", msg->queue_id, param, path);
		problem = xasprintf("%s %s: delivery agent failed", param, name);
		local_result_set(result, "deferred", "4.3.0", problem);
		goto out;
	}
	bool have = false;
	for (;;) {
		struct ipc_rec *rec = NULL;
		error = "connection closed";
		if (ipc_read(fd, &rec, PASS_RESULT_MAX, timeout_ms, &error) != 1) {
			log_warn("%s: %s delivery agent: %s", msg->queue_id, name, error);
			break;
		}
		bool done = ipc_rec_is(rec, "done");
		if (!done && !have) {
			struct local_result r = {0};
			if (ipc_rec_is(rec, "result") && take_result(rec, rcpt, &r)) {
				local_result_free(result);
				*result = r;
				have = true;
			} else {
				log_warn("%s: %s delivery agent sent a bad \"%s\" record",
				         msg->queue_id, name, rec->name);
				local_result_free(&r);
			}
		}
		ipc_rec_free(rec);
		if (done)
			break;
	}
	if (!have) {
		problem = xasprintf("%s %s: delivery agent failed", param, name);
		local_result_set(result, "deferred", "4.3.0", problem);
	}
out:
	if (fd >= 0)
		close(fd);
	free(problem);
	free(path);
	str_free(&transport);
	str_free(&nexthop);
}

/*
 * local: the delivery agent for this host's own domains. qmgr connects to
 * private/local, sends one "deliver" request (queue id and the recipients
 * of one batch), and local answers one "result" per recipient and "done"
 * (see the protocol in helper-notes/deliver-protocol.md and qmgr/deliver.c):
 *   "deliver": queue_id, queue_name ("active"), sender, per recipient rcpt
 *              (s) and index (i: its index in the queue file), and
 *              optionally verify (i): 1 asks for address verification
 *              (reject_unverified_recipient, sendmail -bv), 0 or absent a
 *              delivery (any other value: a malformed request, not
 *              answered); a queue file marked as a verify message is only
 *              ever verified, whatever the request says;
 *   "result":  index, state ("delivered" | "deferred" | "bounced"), status,
 *              reason, and dsn ("expanded") for a delivered alias or
 *              .forward with several destinations; for a recipient passed
 *              to another agent (pass.c) that agent's relay, tls,
 *              remote_mta, diagnostic and dsn;
 *   "done":    after the last result.
 * A verify request is resolved as a delivery is, up to the last step, and
 * nothing is delivered, run, written or queued (verify.c): "delivered"
 * then means it would be, with a reason such as "delivers to mailbox",
 * "delivers to command: CMD" or "forwards to ADDRESS"; a bounce or a
 * deferral is the one a delivery would get. Recipients are handled as
 * follows:
 *   - virtual mailbox domains: the address must be in virtual_mailbox_maps;
 *     the mail goes to $virtual_mailbox_base/DOMAIN/LOCAL/Maildir/, written
 *     as virtual_mailbox_owner, within the user's quota;
 *   - mydestination (or no domain): aliases, ~/.forward, then the system
 *     user's mailbox (expand.c) or mailbox_transport (pass.c); postmaster
 *     falls back to root; an unknown user goes to fallback_transport
 *     (pass.c) or luser_relay (luser.c), else is bounced;
 *   - anything else is bounced (qmgr should never send it).
 * Every write happens in a child with the privileges of the owner of what
 * is written (child.c; Maildir deliveries in long-lived children per
 * owner, worker.c); local itself only reads the queue file.
 * When qmgr closes the connection, local stops: a delivery not yet visible
 * is abandoned and no further recipient is tried (child.c).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"
#include "local/local.h"
#include "mail/mailbox.h"
#include "mail/queue.h"
#include "mail/status_log.h"
#include "server/server.h"
#include "table/table.h"
#include "util/alloc.h"
#include "util/ipc.h"
#include "util/log.h"
#include "util/privs.h"

/* One recipient of the current request, resolved. */
struct recipient {
	const char *address; /* as qmgr sent it */
	char *lower;         /* lower-cased address */
	char *local;         /* lower-cased local part */
	char *domain;        /* lower-cased domain, NULL if none */
};

static void result_set(struct local_result *r, const char *state, const char *status,
                       const char *reason)
{
	local_result_set(r, state, status, reason);
}

bool local_has_control_chars(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

static void recipient_parse(struct recipient *rc, const char *address)
{
	rc->address = address;
	rc->lower = xstrdup(address);
	for (char *p = rc->lower; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	char *at = strrchr(rc->lower, '@');
	rc->local = at ? xstrndup(rc->lower, (size_t)(at - rc->lower)) : xstrdup(rc->lower);
	rc->domain = at ? xstrdup(at + 1) : NULL;
}

static void recipient_free(struct recipient *rc)
{
	free(rc->lower);
	free(rc->local);
	free(rc->domain);
}

/* The quota of a vmailbox.lmdb value ("quota=BYTES" or ""), -1 for none. */
static long long value_quota(const char *value)
{
	const char *q = strstr(value, "quota=");
	if (q == NULL || (q != value && q[-1] != ':' && q[-1] != ' '))
		return -1;
	char *end;
	long long bytes = strtoll(q + 6, &end, 10);
	return end != q + 6 && bytes >= 0 ? bytes : -1;
}

void local_deliver_virtual(struct local_service *svc, const struct conf *conf,
                           const struct local_message *msg, const char *address,
                           struct local_result *result)
{
	const char *error = "";
	struct str value = STR_INIT;
	struct recipient rc;
	char *mailbox_local = NULL;
	struct mailbox_location loc = {0};
	recipient_parse(&rc, address);
	if (svc->virtual_maps == NULL) {
		svc->virtual_maps = table_open(conf_get(conf, "virtual_mailbox_maps"), &error);
		if (svc->virtual_maps == NULL) {
			char *text = xasprintf("virtual_mailbox_maps unavailable: %s", error);
			result_set(result, "deferred", "4.3.0", text);
			free(text);
			goto out;
		}
	}
	/* user+ext@domain is user@domain's, unless it has a mailbox of its own */
	int found = mailbox_virtual_lookup(svc->virtual_maps, conf_get(conf, "recipient_delimiter"),
	                                   rc.lower, &value, &mailbox_local, &error);
	if (found < 0) {
		char *text = xasprintf("virtual_mailbox_maps lookup failed: %s", error);
		result_set(result, "deferred", "4.3.0", text);
		free(text);
		goto out;
	}
	if (found == 0) {
		result_set(result, "bounced", "5.1.1", "user unknown");
		goto out;
	}
	if (!rc.domain || !mailbox_safe_component(mailbox_local) ||
	    !mailbox_safe_component(rc.domain)) {
		result_set(result, "deferred", "4.3.0", "unsafe mailbox name");
		goto out;
	}
	bool root = privs_are_root();
	if (mailbox_virtual(conf, mailbox_local, rc.domain, root, &loc, &error) != 0) {
		char *text = xasprintf("virtual mailbox owner: %s", error);
		result_set(result, "deferred", "4.3.0", text);
		free(text);
		goto out;
	}
	if (root && loc.uid == 0) {
		result_set(result, "deferred", "4.3.0", "virtual mailbox owner must not be root");
		goto out;
	}
	struct local_creds creds = {loc.uid, loc.gid, NULL, (gid_t)-1, false};
	const char *action = conf_get(conf, "virtual_mailbox_quota_action");
	if (strcmp(action, "bounce") != 0 && strcmp(action, "defer") != 0)
		log_warn("virtual_mailbox_quota_action = %s: neither defer nor bounce; deferring",
		         action);
	struct local_maildir where = {
	    .base = loc.base,
	    .subdirs = loc.subdirs,
	    .path = loc.path,
	    .quota = value_quota(str_cstr(&value)),
	    .quota_bounce = strcmp(action, "bounce") == 0,
	};
	struct local_headers h = {msg->sender, rc.lower};
	local_deliver_maildir(msg, &creds, &where, &h, true, result);
out:
	mailbox_location_free(&loc);
	free(mailbox_local);
	str_free(&value);
	recipient_free(&rc);
}

/* Route one recipient and deliver it; fills result. */
static void deliver_one(struct local_service *svc, const struct conf *conf,
                        const struct local_message *msg, const struct recipient *rc, int64_t index,
                        struct local_result *result)
{
	enum mailbox_domain kind = mailbox_domain_kind(conf, rc->domain);
	if (kind == MAILBOX_DOMAIN_OTHER) {
		result_set(result, "bounced", "5.1.2", "not a local destination");
		return;
	}
	if (rc->local[0] == '\0' || local_has_control_chars(rc->lower)) {
		result_set(result, "bounced", "5.1.3", "bad address syntax");
		return;
	}
	if (local_has_delivered_to(&msg->headers, rc->lower)) {
		result_set(result, "bounced", "5.4.6", "mail forwarding loop");
		return;
	}
	if (kind == MAILBOX_DOMAIN_VIRTUAL)
		local_deliver_virtual(svc, conf, msg, rc->lower, result);
	else {
		struct local_pass_rcpt pass = {
		    .address = rc->address,
		    .index = index,
		    .domain = rc->domain ? rc->domain : conf_get(conf, "myhostname"),
		};
		local_deliver_local(svc, conf, msg, rc->local, rc->lower, &pass, result);
	}
}

/* Open and check the queue file; NULL on success, else the reason. */
static char *open_message(const struct conf *conf, const char *queue_id, struct queue_envelope *env,
                          struct local_message *msg)
{
	const char *error = "";
	size_t offset = 0;
	char *path = xasprintf("%s/active/%s", conf_get(conf, "queue_directory"), queue_id);
	char *problem = NULL;
	/* One descriptor for the envelope and the content (the children get
	 * it too); as queue_file_read opens it: no symlink, no FIFO wait. */
	msg->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (msg->fd < 0)
		problem = xasprintf("cannot open queue file: %s", strerror(errno));
	else if (queue_file_read_fd(msg->fd, env, &offset, &error) != 0)
		problem = xasprintf("cannot read queue file: %s", error);
	else if (local_has_control_chars(env->sender))
		problem = xstrdup("invalid envelope sender");
	free(path);
	if (problem)
		return problem;
	msg->offset = (int64_t)offset;
	msg->size = env->size;
	msg->sender = env->sender;
	msg->env = env;
	if (local_read_headers(msg, &error) != 0)
		return xasprintf("cannot read queue file: %s", error);
	return NULL;
}

/* qmgr's recipient must be the queue file's recipient at that index. */
static bool rcpt_matches(const struct queue_envelope *env, int64_t index, const char *address)
{
	return index >= 0 && (uint64_t)index < env->rcpt_count &&
	       strcmp(env->rcpts[index].address, address) == 0;
}

static int send_result(int fd, int64_t index, const struct local_result *r, int timeout_ms)
{
	struct ipc_rec *rec = ipc_rec_new("result");
	ipc_rec_add_int(rec, "index", index);
	ipc_rec_add_str(rec, "state", r->state);
	ipc_rec_add_str(rec, "status", r->status);
	ipc_rec_add_str(rec, "reason", r->reason);
	if (r->expanded && strcmp(r->state, "delivered") == 0)
		ipc_rec_add_str(rec, "dsn", rcpt_dsn_name(RCPT_DSN_EXPANDED));
	else if (r->dsn && strcmp(r->state, "delivered") == 0)
		ipc_rec_add_str(rec, "dsn", r->dsn);
	/* from the agent a recipient was passed to (pass.c) */
	if (r->relay)
		ipc_rec_add_str(rec, "relay", r->relay);
	if (r->tls)
		ipc_rec_add_str(rec, "tls", r->tls);
	if (r->remote_mta)
		ipc_rec_add_str(rec, "remote_mta", r->remote_mta);
	if (r->diagnostic)
		ipc_rec_add_str(rec, "diagnostic", r->diagnostic);
	int rc = ipc_write(fd, rec, timeout_ms);
	ipc_rec_free(rec);
	return rc;
}

static void serve_request(struct server *srv, int fd, const struct ipc_rec *req, int timeout_ms)
{
	struct local_service *svc = server_context(srv);
	const struct conf *conf = server_conf(srv);
	const char *queue_id = ipc_rec_get_str(req, "queue_id");
	const char *queue_name = ipc_rec_get_str(req, "queue_name");
	if (!queue_id || !queue_id_valid(queue_id) || !queue_name ||
	    strcmp(queue_name, "active") != 0) {
		log_warn("malformed deliver request: bad queue_id or queue_name");
		return;
	}
	const struct ipc_attr *a_verify = ipc_rec_find(req, "verify");
	if (a_verify && (a_verify->type != IPC_INT || (a_verify->num != 0 && a_verify->num != 1))) {
		/* neither a delivery nor a verification for sure: no answer */
		log_warn("%s: malformed deliver request: bad verify", queue_id);
		return;
	}
	struct queue_envelope env;
	queue_envelope_init(&env);
	struct local_message msg = {.fd = -1,
	                            .queue_id = queue_id,
	                            .headers = STR_INIT,
	                            .verify = a_verify && a_verify->num == 1};
	char *problem = open_message(conf, queue_id, &env, &msg);
	if (problem) {
		log_warn("%s: %s", queue_id, problem);
	} else if (!msg.verify && queue_envelope_is_verify(&env)) {
		/* a verify message is delivered to nobody */
		log_warn("%s: deliver request without verify for a verify message: verifying",
		         queue_id);
		msg.verify = true;
	}
	for (size_t n = 0;; n++) {
		const struct ipc_attr *a_rcpt = ipc_rec_get_nth(req, "rcpt", n);
		const struct ipc_attr *a_index = ipc_rec_get_nth(req, "index", n);
		if (a_rcpt == NULL && a_index == NULL) {
			struct ipc_rec *done = ipc_rec_new("done");
			(void)ipc_write(fd, done, timeout_ms);
			ipc_rec_free(done);
			break;
		}
		if (!a_rcpt || !a_index || a_rcpt->type != IPC_STR || a_index->type != IPC_INT) {
			log_warn("%s: malformed deliver request: recipient %zu", queue_id, n);
			break;
		}
		if (local_qmgr_gone()) {
			log_warn("%s: queue manager went away; delivery stopped", queue_id);
			break;
		}
		struct local_result result = {0};
		struct recipient rc;
		recipient_parse(&rc, a_rcpt->value);
		if (problem)
			result_set(&result, "deferred", "4.3.0", problem);
		else if (!rcpt_matches(&env, a_index->num, a_rcpt->value))
			result_set(&result, "deferred", "4.3.0",
			           "recipient does not match the queue file");
		else
			deliver_one(svc, conf, &msg, &rc, a_index->num, &result);
		int wrc = send_result(fd, a_index->num, &result, timeout_ms);
		/* qmgr logs every result it records (with delay and dsn, one line
		 * per recipient as for every transport); the line is ours only
		 * when qmgr will not hear of this result. */
		const char *word = strcmp(result.state, "delivered") == 0 ? "sent" : result.state;
		if (msg.verify) /* as Postfix logs a verification */
			word = strcmp(result.state, "delivered") == 0 ? "deliverable"
			       : strcmp(result.state, "bounced") == 0 ? "undeliverable"
			                                              : result.state;
		const char *relay = result.relay ? result.relay : "local";
		if (wrc == 0)
			log_debug("%s: to=<%s>, relay=%s, status=%s (%s)", queue_id, a_rcpt->value,
			          relay, word, result.reason);
		else {
			int saved = errno;
			log_info("%s: to=<%s>, relay=%s, status=%s (%s)", queue_id, a_rcpt->value,
			         relay, word, result.reason);
			errno = saved;
			log_warn("%s: lost connection to qmgr: %m", queue_id);
		}
		recipient_free(&rc);
		local_result_free(&result);
		if (wrc != 0)
			break;
	}
	free(problem);
	str_free(&msg.headers);
	if (msg.fd >= 0)
		close(msg.fd);
	queue_envelope_free(&env);
}

static void serve(struct server *srv, int fd)
{
	int timeout_ms;
	struct ipc_rec *req;
	/* qmgr may send more requests on the same connection. */
	while ((req = server_read_request(srv, fd, "deliver", &timeout_ms)) != NULL) {
		local_qmgr_set(fd);
		serve_request(srv, fd, req, timeout_ms);
		local_qmgr_set(-1);
		ipc_rec_free(req);
	}
}

static void shutdown_service(struct server *srv)
{
	struct local_service *svc = server_context(srv);
	if (svc->virtual_maps)
		table_close(svc->virtual_maps);
	svc->virtual_maps = NULL;
	for (size_t i = 0; i < svc->alias_map_count; i++)
		table_close(svc->alias_maps[i]);
	free(svc->alias_maps);
	svc->alias_maps = NULL;
	svc->alias_map_count = 0;
	svc->alias_maps_opened = false;
	for (size_t i = 0; i < svc->mailbox_transport_map_count; i++)
		if (svc->mailbox_transport_maps[i])
			table_close(svc->mailbox_transport_maps[i]);
	free(svc->mailbox_transport_maps);
	svc->mailbox_transport_maps = NULL;
	svc->mailbox_transport_map_count = 0;
	svc->mailbox_transport_maps_opened = false;
	local_workers_stop();
}

int main(int argc, char **argv)
{
	static struct local_service service;
	static const struct server_ops ops = {
	    .mode = SERVER_SINGLE,
	    .serve = serve,
	    .shutdown = shutdown_service,
	};
	return server_main(argc, argv, &ops, &service);
}

/*
 * The client side of the delivery protocol, the same for every agent
 * (local, smtp). A recipient whose domain is in mydestination or
 * virtual_mailbox_domains (or that has no domain) is local; transport.c
 * routes the others.
 *
 * Requests on a connection to $queue_directory/private/SERVICE (kept
 * for the next delivery to that service: agent_pool.c):
 *   "deliver": queue_id, queue_name ("active"), sender, nexthop (s, for
 *              smtp), then per recipient rcpt (s) and index (i: its index
 *              in the queue file; qmgr's own indexes count from
 *              env->rcpt_first, the start of the slice it holds), and
 *              verify (i: 1) for an address verification message: the
 *              agent delivers nothing and answers what would happen
 *              (delivered: deliverable, bounced: undeliverable)
 * and back, one "result" per recipient (index, state, status, reason, and
 * from smtp relay and tls for the log), then "done". Recipients without a
 * valid result are deferred.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "qmgr/qmgr.h"
#include "util/alloc.h"
#include "util/ipc.h"
#include "util/log.h"
#include "util/sock.h"
#include "util/str.h"

#define CONNECT_TIMEOUT_MS 10000
#define RESULT_MAX_RECORD (64 * 1024)

bool qmgr_address_is_local(const char *address)
{
	const char *at = strrchr(address, '@');
	if (at == NULL)
		return true;
	const char *domain = at + 1;
	return str_list_contains_nocase(qmgr.mydestination, domain) ||
	       str_list_contains_nocase(qmgr.virtual_domains, domain);
}

/* "X.Y.Z" with X matching the state (2 delivered, 4 deferred, 5 bounced). */
static bool status_valid(const char *status, enum rcpt_state state)
{
	static const char class_of[] = {
	    [RCPT_DELIVERED] = '2', [RCPT_DEFERRED] = '4', [RCPT_BOUNCED] = '5'};
	if (status == NULL || state == RCPT_PENDING || status[0] != class_of[state] ||
	    status[1] != '.')
		return false;
	const char *p = status + 2;
	for (int part = 0; part < 2; part++) {
		size_t digits = 0;
		while (isdigit((unsigned char)p[digits]))
			digits++;
		if (digits == 0 || digits > 3)
			return false;
		p += digits;
		if (part == 0 && *p++ != '.')
			return false;
	}
	return *p == '\0';
}

/* Apply one "result" record; false if it is malformed. */
static bool take_result(const struct ipc_rec *rec, const struct queue_envelope *env,
                        const size_t *indexes, size_t count, struct rcpt_result *results,
                        bool *seen, struct agent_info *info)
{
	int64_t index;
	if (!ipc_rec_get_int(rec, "index", &index))
		return false;
	enum rcpt_state state = rcpt_state_parse(ipc_rec_get_str(rec, "state"));
	const char *status = ipc_rec_get_str(rec, "status");
	const char *reason = ipc_rec_get_str(rec, "reason");
	if (!status_valid(status, state))
		return false;
	for (size_t i = 0; i < count; i++) {
		if ((int64_t)(env->rcpt_first + indexes[i]) == index && !seen[i]) {
			seen[i] = true;
			rcpt_result_set(&results[i], state, status, reason ? reason : "",
			                (int64_t)time(NULL));
			rcpt_result_set_remote(&results[i], ipc_rec_get_str(rec, "remote_mta"),
			                       ipc_rec_get_str(rec, "diagnostic"),
			                       rcpt_dsn_parse(ipc_rec_get_str(rec, "dsn")));
			const char *relay = ipc_rec_get_str(rec, "relay");
			const char *tls = ipc_rec_get_str(rec, "tls");
			if (info && relay) {
				free(info[i].relay);
				info[i].relay = xstrdup(relay);
			}
			if (info && tls) {
				free(info[i].tls);
				info[i].tls = xstrdup(tls);
			}
			return true;
		}
	}
	return false;
}

static int send_request(int fd, const struct queue_envelope *env, const char *nexthop,
                        const size_t *indexes, size_t count)
{
	struct ipc_rec *rec = ipc_rec_new("deliver");
	ipc_rec_add_str(rec, "queue_id", env->id);
	ipc_rec_add_str(rec, "queue_name", "active");
	ipc_rec_add_str(rec, "sender", env->sender);
	if (nexthop)
		ipc_rec_add_str(rec, "nexthop", nexthop);
	if (queue_envelope_is_verify(env))
		ipc_rec_add_int(rec, "verify", 1);
	for (size_t i = 0; i < count; i++) {
		ipc_rec_add_str(rec, "rcpt", env->rcpts[indexes[i]].address);
		ipc_rec_add_int(rec, "index", (int64_t)(env->rcpt_first + indexes[i]));
	}
	int rc = ipc_write(fd, rec, (int)qmgr.ipc_timeout_ms);
	ipc_rec_free(rec);
	return rc;
}

/* Read results until "done" (true), or until the connection fails (false,
 * with *error_r); *any_r tells whether any record came. */
static bool read_results(int fd, const char *service, const struct queue_envelope *env,
                         const size_t *indexes, size_t count, struct rcpt_result *results,
                         bool *seen, struct agent_info *info, bool *any_r, const char **error_r)
{
	*any_r = false;
	for (;;) {
		struct ipc_rec *rec = NULL;
		*error_r = "connection closed";
		int rc = ipc_read(fd, &rec, RESULT_MAX_RECORD, (int)qmgr.ipc_timeout_ms, error_r);
		if (rc != 1)
			return false;
		*any_r = true;
		bool done = ipc_rec_is(rec, "done");
		if (!done && !(ipc_rec_is(rec, "result") &&
		               take_result(rec, env, indexes, count, results, seen, info)))
			log_warn("%s: %s delivery agent sent a bad \"%s\" record", env->id, service,
			         rec->name);
		ipc_rec_free(rec);
		if (done)
			return true;
	}
}

void deliver_agent(const char *service, const char *nexthop, const struct queue_envelope *env,
                   const size_t *indexes, size_t count, struct rcpt_result *results,
                   struct agent_info *info)
{
	bool *seen = xcalloc(count, sizeof(*seen));
	char *path = xasprintf("%s/private/%s", qmgr.queue_dir, service);
	const char *error;
	const char *why = "delivery agent not available";
	/* A kept connection first. If its agent has ended it meanwhile (the
	 * request unsent, or not a word back), once more on a new one. */
	int fd = agent_pool_take(service);
	bool kept = fd >= 0, done = false;
	for (;;) {
		if (fd < 0 &&
		    (fd = sock_connect_unix_nonblock(path, CONNECT_TIMEOUT_MS, &error)) < 0) {
			log_warn("%s: cannot connect to %s: %s", env->id, path, error);
			break;
		}
		bool any = false;
		if (send_request(fd, env, nexthop, indexes, count) != 0) {
			error = "cannot send the request";
		} else {
			done = read_results(fd, service, env, indexes, count, results, seen, info,
			                    &any, &error);
		}
		if (!done && !any && kept) {
			close(fd);
			fd = -1;
			kept = false;
			continue;
		}
		if (!done) {
			log_warn("%s: %s delivery agent: %s", env->id, service, error);
			why = "delivery agent failed";
		}
		break;
	}
	if (fd >= 0 && done)
		agent_pool_put(service, fd);
	else if (fd >= 0)
		close(fd);
	if (done)
		why = "delivery agent failed"; /* "done" with recipients left out */
	for (size_t i = 0; i < count; i++)
		if (!seen[i])
			rcpt_result_set(&results[i], RCPT_DEFERRED, "4.3.0", why,
			                (int64_t)time(NULL));
	free(path);
	free(seen);
}

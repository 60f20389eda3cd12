/*
 * qmgr: the one queue manager. Internal interface between its files:
 * main.c (skeleton glue, queue scans, timers), message.c (one message from
 * active/ to done or deferred/), status.c (the per-message status log),
 * deliver.c (recipient routing and the client of the local agent) and
 * bounce.c (failure notifications). The wire protocol with local and the
 * status log format are described in deliver.c and status.c.
 */
#ifndef POSTERN_QMGR_QMGR_H
#define POSTERN_QMGR_QMGR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/conf.h"
#include "mail/queue.h"

struct qmgr_settings {
	const char *queue_dir;
	const char *hostname;
	char *const *mydestination;
	char *const *virtual_domains;
	int64_t minimal_backoff;
	int64_t maximal_backoff;
	int64_t maximal_lifetime;
	int64_t ipc_timeout_ms;
	const char *relayhost;      /* "" for MX routing */
	const char *transport_maps; /* "" for none */
};

extern struct qmgr_settings qmgr;

/* Recipient states as written in the status log. */
enum rcpt_state { RCPT_PENDING, RCPT_DELIVERED, RCPT_DEFERRED, RCPT_BOUNCED };

const char *rcpt_state_name(enum rcpt_state state);
/* RCPT_PENDING for an unknown name. */
enum rcpt_state rcpt_state_parse(const char *name);

/* The latest known outcome of one recipient. */
struct rcpt_result {
	enum rcpt_state state;
	char *status; /* "2.0.0" ... */
	char *reason;
	int64_t time;
};

void rcpt_result_set(struct rcpt_result *r, enum rcpt_state state, const char *status,
                     const char *reason, int64_t when);
void rcpt_result_free(struct rcpt_result *r);

/* status.c: the status log of one message. */
struct status_log {
	struct rcpt_result *rcpts; /* one per queue file recipient */
	size_t rcpt_count;
	int64_t attempts;
	int64_t next_attempt;
};

/* Read status/ID (a missing file is an empty log). Records for indexes at or
 * past rcpt_count are ignored; a torn tail left by a crash is cut off.
 * 0, or -1 with *error_r if the file cannot be read. */
int status_log_load(const char *id, size_t rcpt_count, struct status_log *log,
                    const char **error_r);
void status_log_free(struct status_log *log);
/* Append records for the recipients listed in indexes (their current
 * values in log), then fsync. 0 or -1 with *error_r. */
int status_log_append_rcpts(const char *id, const struct status_log *log, const size_t *indexes,
                            size_t count, const char **error_r);
int status_log_append_message(const char *id, int64_t attempts, int64_t next_attempt,
                              const char **error_r);
void status_log_remove(const char *id);

/* deliver.c */
bool qmgr_address_is_local(const char *address);
/* What an agent says about where it delivered (smtp), for the log. */
struct agent_info {
	char *relay; /* "host[address]:port", "local", "none" */
	char *tls;   /* TLS summary, or NULL when the agent gives none */
};
/* Hand the listed recipients to private/SERVICE (nexthop NULL for
 * local); fill their results and, when info is not NULL, what the agent
 * said about relay and TLS. */
void deliver_agent(const char *service, const char *nexthop, const struct queue_envelope *env,
                   const size_t *indexes, size_t count, struct rcpt_result *results,
                   struct agent_info *info);
/* Hand the listed recipients to the local agent; fill their results. */
void deliver_local(const struct queue_envelope *env, const size_t *indexes, size_t count,
                   struct rcpt_result *results);

/* transport.c: route the listed recipients (transport_maps, local
 * domains, relayhost, else the recipient domain through smtp) and
 * deliver them, a batch per transport and next hop. info[k] is filled
 * for each (free with agent_info_free). */
void deliver_routed(const struct queue_envelope *env, const size_t *indexes, size_t count,
                    struct rcpt_result *results, struct agent_info *info);
void agent_info_free(struct agent_info *info);

/* bounce.c: queue a failure notice for the bounced recipients to the
 * sender (no-op for the null sender or when no recipient asked for one).
 * 0, or -1 (logged) if it could not be queued now (a notice that cannot
 * be built at all is logged and dropped). */
int bounce_queue(const struct queue_envelope *env, const char *path, size_t content_offset,
                 const struct status_log *log);

/* message.c: work on active/ID. */
void message_process(const char *id);
/* Move queue_dir/from/name into corrupt/ (as name.N if taken) and log why. */
void qmgr_move_corrupt(const char *from, const char *name, const char *reason);

#endif

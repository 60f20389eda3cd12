/*
 * qmgr: the one queue manager. Internal interface between its files:
 * main.c (skeleton glue, queue scans, timers), workers.c (the delivery
 * threads), transports.c (the transports: master.conf's delivery
 * services and their limits), limits.c (concurrency limits),
 * recipients.c (the bound on
 * recipients in memory), valias.c (virtual aliases still to be expanded),
 * message.c (one message from active/ to done or
 * deferred/), status.c (the per-message status log),
 * deliver.c (recipient routing and the client of the local agent),
 * agent_pool.c (agent connections kept for the next delivery),
 * verify.c (address verification probes and their cache),
 * notify.c (which DSNs are due) and bounce.c (building and queueing one). The wire protocol with
 * local and the status log format are described in deliver.c and status.c.
 */
#ifndef POSTERN_QMGR_QMGR_H
#define POSTERN_QMGR_QMGR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/bounce_template.h"
#include "conf/conf.h"
#include "mail/dsn.h"
#include "mail/queue.h"
#include "mail/status_log.h"

struct limit_claim;

/* The parameters that route a message (transport.c): relayhost,
 * transport_maps, local_transport, virtual_transport, relay_transport and
 * default_transport, or their address_verify_ counterparts for probes. */
struct qmgr_routing {
	const char *relayhost;      /* "" for MX routing */
	const char *transport_maps; /* "" for none */
	/* "transport[:nexthop]" */
	const char *local_transport;
	const char *virtual_transport;
	const char *relay_transport;
	const char *default_transport;
};

struct qmgr_settings {
	const char *queue_dir;
	const char *hostname;
	char *const *mydestination;
	char *const *virtual_domains;
	char *const *relay_domains;
	int64_t minimal_backoff;
	int64_t maximal_backoff;
	int64_t maximal_lifetime;
	int64_t bounce_lifetime;        /* bounce_queue_lifetime: mail from <> */
	bool soft_bounce;               /* what would bounce is deferred instead */
	int64_t delay_warning;          /* 0: no delay warnings */
	const char *double_bounce_rcpt; /* 2bounce_notice_recipient */
	const char *bounce_notice_rcpt; /* bounce_notice_recipient */
	const char *delay_notice_rcpt;  /* delay_notice_recipient */
	unsigned notify_classes;        /* mail/notify_classes.h */
	int64_t ipc_timeout_ms;
	/* sender_dependent_relayhost_maps, "" for none */
	const char *sender_relay_maps;
	const char *sender_transport_maps; /* sender_dependent_default_transport_maps */
	/* The routing of mail, and that of address verification probes
	 * (the address_verify_* parameters, by default the same values). */
	struct qmgr_routing mail_routing;
	struct qmgr_routing probe_routing;
	/* bounce_template_file, expanded; NULL: the built-in texts */
	const struct bounce_templates *templates;
};

extern struct qmgr_settings qmgr;

/* status.c: the status log of one message (lib/mail/status_log.h). */
/* Read status/ID (a missing file is an empty log) for the recipients
 * [first, first + count) of the queue file; records for other indexes are
 * ignored; a torn tail left by a crash is cut off. 0, or -1 with *error_r
 * if the file cannot be read. */
int status_log_load(const char *id, size_t first, size_t count, struct status_log *log,
                    const char **error_r);
/* Append records for the recipients listed in indexes (their current
 * values in log; indexes count from log->rcpt_first), then fsync. 0 or
 * -1 with *error_r. */
int status_log_append_rcpts(const char *id, const struct status_log *log, const size_t *indexes,
                            size_t count, const char **error_r);
int status_log_append_message(const char *id, int64_t attempts, int64_t next_attempt,
                              const char **error_r);
int status_log_append_delay_warning(const char *id, int64_t when, const char **error_r);
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
/* agent_pool.c: a connection to private/SERVICE kept from an earlier
 * delivery (-1 if none), and one to keep after a complete answer. */
int agent_pool_take(const char *service);
void agent_pool_put(const char *service, int fd);

/* transport.c: route the listed recipients (transport_maps, then the
 * transport of their address class: local_transport, virtual_transport,
 * relay_transport or default_transport; for an address verification
 * probe their address_verify_ counterparts) and deliver them, a batch per
 * transport and next hop. info[k] is filled for each (free with
 * agent_info_free). A batch whose destination has no room now is put
 * off: its results stay RCPT_PENDING (limits_thread_postponed). */
void deliver_routed(const struct queue_envelope *env, const size_t *indexes, size_t count,
                    struct rcpt_result *results, struct agent_info *info);
void agent_info_free(struct agent_info *info);

/* bounce.c: build one delivery status notification about the listed
 * recipients of env (each reported with action, its status and reason
 * from log) and queue it from the null sender to `to` (NULL: env's
 * sender) with the given origin ("bounce", or "double-bounce" for one to
 * the postmaster). 0 if queued (or if it cannot be built at all: logged
 * and dropped), -1 (logged) if it could not be queued now. */
int notice_queue(const struct queue_envelope *env, const char *path, size_t content_offset,
                 const struct status_log *log, const size_t *indexes, size_t count,
                 enum dsn_action action, const char *to, const char *origin);

/* bounce.c: the report the sender asked for, to env's sender, about the
 * recipients of log tried in this attempt: with what_if (sendmail -bv)
 * what would happen to each (deliverable, undeliverable, or delayed when
 * that could not be told now), else (sendmail -v) what happened
 * (delivered, failed, delayed). 0 if queued (or if it cannot be built at
 * all: logged and dropped), -1 (logged) if it could not be queued now. */
int requested_report_queue(const struct queue_envelope *env, const char *path,
                           size_t content_offset, const struct status_log *log, bool what_if);

/* notify.c: after a delivery attempt whose results are in log (and on
 * disk), queue the notifications due: failures (NOTIFY default or
 * FAILURE; a failed notification goes to the postmaster once), successes
 * (NOTIFY=SUCCESS) and the delay warning (delay_warning_time, NOTIFY
 * default or DELAY). Null-sender mail never gets one back. Records what
 * was sent in the status log. 0, or -1 if a notification is still due
 * (the message must stay queued to try again). */
int notify_after_attempt(const struct queue_envelope *env, const char *path, size_t content_offset,
                         struct status_log *log);
/* Every recipient delivered and no delivery report asked for. */
bool notify_delivered_quietly(const struct queue_envelope *env, const struct status_log *log);

/* verify.c: address verification probes. verify_record writes the
 * results of the listed recipients (indexes into log) of a probe into
 * the verify cache. */
void verify_init(const struct conf *conf);
void verify_record(const struct queue_envelope *env, const struct status_log *log,
                   const size_t *indexes, size_t count);
/* Remove expired entries from the cache (housekeeping). */
void verify_housekeeping(void);

/* workers.c: the delivery threads. */
int workers_start(size_t count, const char **error_r);
/* Hand active/ID to a thread (main thread only); retry_now: see
 * message_process. */
void workers_submit(const char *id, bool retry_now);
/* A thread's message is being parked (limits.c): it stays in flight. */
void workers_count_parked(void);
/* Hand back a parked message with the claim reserved for it and the time
 * its round of attempts began (limits.c; any thread). */
void workers_submit_reserved(const char *id, struct limit_claim *reserved, int64_t since);
/* Messages submitted and not finished (parked ones too). */
size_t workers_in_flight(void);
/* Readable when a thread finished a message. */
int workers_wake_fd(void);
/* Drain the wake-ups; the earliest retry time reported since, or 0, and
 * whether a thread queued new mail. */
int64_t workers_take_wakeups(bool *new_mail_r);
/* From a thread: a message was deferred until when. */
void qmgr_deferred_until(int64_t when);
/* From a thread: it queued a notification into incoming/. */
void qmgr_queued_mail(void);

/* transports.c: what qmgr can deliver through. */
enum transport_kind {
	TRANSPORT_SMTP,    /* smtp, lmtp or pipe: requests with a next hop */
	TRANSPORT_LOCAL,   /* the local agent: no next hop */
	TRANSPORT_ERROR,   /* no agent: the next hop is the bounce text */
	TRANSPORT_DISCARD, /* no agent: recipients "delivered", the next hop as the reason */
	TRANSPORT_OTHER,   /* a service whose program is no delivery agent */
};
struct transport {
	char *name;    /* the service: requests go to private/NAME */
	char *program; /* its command's file name */
	enum transport_kind kind;
	int64_t process_limit;     /* 0: none */
	int64_t destination_limit; /* deliveries at once per destination; < 1: none */
	int64_t recipient_limit;   /* recipients per request; 0: none */
	int64_t rate_delay;        /* seconds between deliveries per destination; 0: none */
};
/* Read master.conf's unix services and their limits in main.conf (once,
 * before the delivery threads start). */
void transports_init(const struct conf *conf);
/* The transport of that name, or NULL if master.conf has no unix service
 * so named (and it is not smtp, local or error). */
const struct transport *transport_find(const char *name);

/* limits.c: per-transport and per-destination concurrency. */
/* Room for a delivery of these recipients through transport, or NULL
 * when there is none now: the recipients are put off (the delivery
 * thread goes on with the others) and the message is parked with
 * limits_park at the end of its attempt. nexthop (smtp: the domain,
 * relayhost or transport_maps next hop) is the destination whose
 * concurrency is limited; NULL (local): each recipient's domain. */
struct limit_claim *limits_claim(const struct transport *transport, const char *nexthop,
                                 const struct queue_envelope *env, const size_t *indexes,
                                 size_t count);
/* Give the room back (NULL: nothing); parked messages it lets through go
 * back to the delivery threads. */
void limits_release(struct limit_claim *claim);
/* Let go the parked messages whose destinations' rate delay is over, and
 * when the next one will be (unix seconds; 0: none waits). main.c's timer. */
void limits_tick(void);
int64_t limits_next_due(void);
/* Around the work on one message in a delivery thread: begin with the
 * claim reserved for it and when its round of attempts began (when it
 * comes off the parked list; else NULL and 0), end after. */
void limits_thread_begin(struct limit_claim *reserved, int64_t since);
/* For a message off the parked list, when its round of attempts began
 * (recipients deferred since are not tried again in it); else 0. */
int64_t limits_thread_resumed_since(void);
void limits_thread_end(void);
/* Did a claim of this thread's message find no room? */
bool limits_thread_postponed(void);
/* Park the message in active/ until the claim that found no room fits:
 * it then goes back to the delivery threads (workers_submit_reserved).
 * The thread's last step with the message. */
void limits_park(const char *id);

/* valias.c: recipients queued with valias_pending. Expand the listed ones
 * again and fill their results (the expanded ones go out in one new
 * message and are done). */
void valias_init(const struct conf *conf);
void valias_deliver(const struct queue_envelope *env, const char *path, size_t content_offset,
                    const size_t *indexes, size_t count, struct rcpt_result *results);

/* recipients.c: qmgr_message_recipient_limit, the recipients held in
 * memory by all delivery threads together. */
void recipients_init(int64_t limit, size_t threads);
/* Wait for room and take it for up to want recipients (at least
 * min(want, 10), at most what is free): how many were granted. */
size_t recipients_claim(size_t want);
void recipients_release(size_t count);
/* Without waiting, take the room free now, up to one thread's share of
 * the limit (at least the minimum of recipients_claim), for a message
 * whose recipients are not counted yet: how much was taken (SIZE_MAX when
 * there is no limit), 0 when none is free or a thread waits for room. Then
 * recipients_keep(taken, kept) gives back all but kept (kept <= taken),
 * which recipients_release gives back later. */
size_t recipients_claim_free(void);
void recipients_keep(size_t taken, size_t kept);
/* Recipients held now, and the limit (0: none), for the log. */
size_t recipients_in_memory(void);
int64_t recipients_limit(void);

/* message.c: work on active/ID (in a delivery thread). retry_now: an
 * admin asked for this attempt (flush, requeue, release), so the back-off
 * starts again from minimal_backoff_time. */
void message_process(const char *id, bool retry_now);
/* Where a message can be: the queue directories, NULL-terminated. */
#define QMGR_QUEUE_COUNT 5
extern const char *const qmgr_queues[QMGR_QUEUE_COUNT + 1];
/* Is there a file ID in one of them (or cannot we tell)? */
bool qmgr_queued_anywhere(const char *id);
/* Move queue_dir/from/name into corrupt/ (as name.N if taken) and log why. */
void qmgr_move_corrupt(const char *from, const char *name, const char *reason);

#endif

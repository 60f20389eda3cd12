/*
 * The per-message status log, queue_directory/status/ID: what qmgr knows
 * about each recipient of a queued message (delivered, deferred or bounced,
 * with status code and reason) and about the message (attempts, next
 * attempt, delay warning). qmgr is its only writer (qmgr/status.c appends
 * and fsyncs); this module reads it, for qmgr and for mailctl.
 *
 * Format: an append-only sequence of IPC records (util/ipc.h):
 *   "rcpt_status"    index (i), state (s), status (s), reason (s), time (i),
 *                    notified (i, optional: 1 once its DSN is queued),
 *                    remote_mta (s, optional: the server that answered),
 *                    diagnostic (s, optional: "smtp; 550 5.1.1 ..."),
 *                    dsn (s, optional: "relayed" or "passed", see below)
 *   "message_status" attempts (i), next_attempt (i)
 *   "delay_warning"  time (i): the sender was warned about the delay
 * The last record for an index wins; indexes outside the queue file's
 * recipients are ignored. A torn record at the end (a crash in the middle
 * of a write) ends the log.
 */
#ifndef POSTERN_MAIL_STATUS_LOG_H
#define POSTERN_MAIL_STATUS_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Recipient states as written in the log. */
enum rcpt_state { RCPT_PENDING, RCPT_DELIVERED, RCPT_DEFERRED, RCPT_BOUNCED };

const char *rcpt_state_name(enum rcpt_state state);
/* RCPT_PENDING for an unknown name or NULL. */
enum rcpt_state rcpt_state_parse(const char *name);

/* What a delivered recipient's success notification says (RFC 3461):
 * delivered here, relayed to a server that takes no DSN request, passed
 * on with its NOTIFY to one that does (and then reports itself), or
 * expanded by an alias or .forward into several destinations (whose
 * copies carry no SUCCESS request of their own). */
enum rcpt_dsn { RCPT_DSN_DELIVERED, RCPT_DSN_RELAYED, RCPT_DSN_PASSED, RCPT_DSN_EXPANDED };

/* The latest known outcome of one recipient. */
struct rcpt_result {
	enum rcpt_state state;
	char *status; /* "2.0.0" ... */
	char *reason;
	int64_t time;
	bool notified;    /* its failure or success notification is queued */
	char *remote_mta; /* the remote server's name, or NULL */
	char *diagnostic; /* "smtp; <reply>" from that server, or NULL */
	enum rcpt_dsn dsn;
};

/* Set the outcome (copies the strings; notified becomes false, the
 * remote fields are cleared). */
void rcpt_result_set(struct rcpt_result *r, enum rcpt_state state, const char *status,
                     const char *reason, int64_t when);
/* Set the remote fields (NULL or "" for none). */
void rcpt_result_set_remote(struct rcpt_result *r, const char *remote_mta, const char *diagnostic,
                            enum rcpt_dsn dsn);
/* dst becomes a copy of src, every field. */
void rcpt_result_copy(struct rcpt_result *dst, const struct rcpt_result *src);
void rcpt_result_free(struct rcpt_result *r);

const char *rcpt_dsn_name(enum rcpt_dsn dsn);
/* RCPT_DSN_DELIVERED for an unknown name or NULL. */
enum rcpt_dsn rcpt_dsn_parse(const char *name);

struct status_log {
	struct rcpt_result *rcpts; /* one per queue file recipient of the window */
	size_t rcpt_count;
	size_t rcpt_first; /* the queue file index of rcpts[0] */
	int64_t attempts;
	int64_t next_attempt;
	int64_t delay_warned; /* when the delay warning was queued; 0 if not */
	bool on_disk;         /* read from a file (false: there was none) */
};

/* An empty log for rcpt_count recipients (from index 0). */
void status_log_init(struct status_log *log, size_t rcpt_count);
void status_log_free(struct status_log *log);
/* Apply the records in data to log; returns how many bytes were whole
 * records (the rest is a torn tail). */
size_t status_log_parse(const void *data, size_t len, struct status_log *log);
/* Read queue_dir/status/ID into a fresh log (a missing file is an empty
 * log). With repair (qmgr only: it is the writer), a torn tail is cut off
 * the file so later appends follow good records. 0, or -1 with *error_r. */
int status_log_read(const char *queue_dir, const char *id, size_t rcpt_count, bool repair,
                    struct status_log *log, const char **error_r);
/* The same for the window of recipients [first, first + count) only
 * (rcpts[i] is the recipient first + i; the message fields are whole). */
int status_log_read_window(const char *queue_dir, const char *id, size_t first, size_t count,
                           bool repair, struct status_log *log, const char **error_r);

#endif

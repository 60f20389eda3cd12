/*
 * Reading the live mail queues for a listing (mailctl queue, the showq
 * service): every file in incoming/, active/, deferred/ and hold/, each
 * validated and with the state of each recipient from its status log.
 * qmgr moves files while they are read; a scan still lists each message
 * once (see queue_scan_load). A file that fails validation is kept, with
 * its error, never skipped: the caller decides how to show it.
 */
#ifndef POSTERN_MAIL_QUEUE_SCAN_H
#define POSTERN_MAIL_QUEUE_SCAN_H

#include <stdbool.h>
#include <stddef.h>

#include "mail/queue.h"
#include "mail/status_log.h"
#include "util/str.h"

/* The queues that hold mail waiting for delivery, in the order listed. */
extern const char *const queue_scan_mail_queues[];

/* One file found in a queue directory, validated. */
struct queue_scan_entry {
	char *name;        /* the file name: the queue id if the file is good */
	const char *queue; /* static: "incoming", "hold", ... */
	char *path;
	char *error; /* NULL if the file is a valid queue file */
	struct queue_envelope env;
	size_t content_offset;
	/* Per recipient, when valid: "queued" until qmgr has a result, then
	 * "delivered", "deferred" or "bounced"; and that result. */
	char **states;
	struct rcpt_result *results;
	bool has_status_log;
};

struct queue_scan {
	struct queue_scan_entry *items;
	size_t count;
	size_t cap;
};

/* Load every file in the mail queues into list (zeroed), sorted by name.
 * 0, or -1 with *error_r if a queue directory cannot be read (a missing
 * one is empty); list holds what was read so far, for queue_scan_free. */
int queue_scan_load(const char *queue_dir, struct queue_scan *list, const char **error_r);
void queue_scan_free(struct queue_scan *list);

/* Whether this process may read every mail queue directory (root and
 * mail_owner may; a missing one counts as readable: it is empty). */
bool queue_scan_readable(const char *queue_dir);

/* Read and validate queue_dir/queue/name into e (not initialised). */
void queue_scan_entry_load(struct queue_scan_entry *e, const char *queue_dir, const char *queue,
                           const char *name);
void queue_scan_entry_free(struct queue_scan_entry *e);

/* The names in queue_dir/queue other than directories, sorted and
 * NULL-terminated; a missing directory is empty. NULL with *error_r if
 * the directory cannot be read. */
char **queue_scan_names(const char *queue_dir, const char *queue, const char **error_r);
void queue_scan_names_free(char **names);

/* Text output of envelope fields, which come from the network: control
 * characters (terminal escapes) become '?'. */
void queue_scan_append_text(struct str *out, const char *text);

#endif

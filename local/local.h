/*
 * Internal interface of the local delivery agent: the delivery of one
 * message to one Maildir, done in a forked child with the mailbox owner's
 * privileges, and the check for a mail forwarding loop.
 */
#ifndef POSTERN_LOCAL_LOCAL_H
#define POSTERN_LOCAL_LOCAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/str.h"

/* The message as local reads it from the queue file. */
struct local_message {
	int fd;             /* the queue file, open for reading */
	int64_t offset;     /* where the content starts */
	int64_t size;       /* content bytes */
	const char *sender; /* envelope sender, "" for <> */
	struct str headers; /* the header section (for the loop check) */
};

/* Who writes the mailbox and where. */
struct local_target {
	uid_t uid;
	gid_t gid;
	const char *user;    /* for initgroups (NULL: no supplementary groups) */
	const char *base;    /* directory that must already exist */
	const char *subdirs; /* created below base if missing ("dom/user"), or "" */
	const char *maildir; /* the Maildir, below base/subdirs */
};

/* The outcome of one delivery, as sent to qmgr. */
struct local_result {
	const char *state;  /* "delivered" | "deferred" | "bounced" */
	const char *status; /* "2.0.0", "4.2.0", ... */
	char *reason;       /* malloc'd */
};

/* Read the header section of msg (up to the first empty line) into
 * msg->headers. 0 or -1 with *error_r. */
int local_read_headers(struct local_message *msg, const char **error_r);

/* True if the header section has a Delivered-To: header for address
 * (compared without case, ignoring surrounding space and angle brackets). */
bool local_has_delivered_to(const struct str *headers, const char *address);

/* Fork, become target's owner (when root), create the Maildir if needed and
 * write Return-Path and Delivered-To headers followed by the message.
 * Fills result. */
void local_deliver_maildir(const struct local_message *msg, const struct local_target *target,
                           const char *delivered_to, struct local_result *result);

#endif

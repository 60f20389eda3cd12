/*
 * pickup's non-delivery notifications: mail from sendmail that pickup
 * cannot queue as it is (a milter, header_checks or body_checks rejected
 * it, a recipient's virtual alias expansion failed) goes back to its
 * sender, who is long gone, as an RFC 3464 report queued like any other
 * message.
 */
#ifndef POSTERN_PICKUP_BOUNCE_H
#define POSTERN_PICKUP_BOUNCE_H

#include <stddef.h>

#include "mail/dsn.h"
#include "mail/queue.h"
#include "mail/virtual_alias.h"
#include "util/str.h"

/* Queue a report to env's sender about rcpts (content: the message with
 * its Received header), its recipient passed through va (NULL: as it
 * is). Logs what happened; mail from the null sender is never returned. */
void pickup_bounce(const char *queue_dir, const char *hostname, struct virtual_alias *va,
                   const struct queue_envelope *env, const struct dsn_rcpt *rcpts, size_t count,
                   const struct str *content);

/* A recipient the message is returned for. */
struct pickup_failed_rcpt {
	const char *address;
	const char *orcpt;  /* "" if none */
	const char *notify; /* as submitted: "" (the default), "NEVER", ... */
	const char *status; /* "5.X.Y" */
	const char *reason; /* for the log and the report ("x-postern; reason") */
};

/* Log each recipient as bounced and return the message (content, as for
 * pickup_bounce) for those whose NOTIFY asks for failures. */
void pickup_bounce_failed(const char *queue_dir, const char *hostname, struct virtual_alias *va,
                          const struct queue_envelope *env, const struct pickup_failed_rcpt *failed,
                          size_t count, const struct str *content);

#endif

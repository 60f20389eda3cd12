/*
 * pickup's non-delivery notifications: mail from sendmail that pickup
 * cannot queue as it is (a milter rejected it, a recipient's virtual
 * alias expansion failed) goes back to its sender, who is long gone, as
 * an RFC 3464 report queued like any other message.
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

#endif

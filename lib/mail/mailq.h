/*
 * The mail queue listing in Postfix's mailq (showq) format, which scripts
 * and monitoring checks parse; `mailctl queue list --mailq`, mailq and
 * sendmail -bp print it, and the showq service sends it to users who may
 * not read the queue themselves.
 */
#ifndef POSTERN_MAIL_MAILQ_H
#define POSTERN_MAIL_MAILQ_H

#include "mail/queue_scan.h"
#include "util/str.h"

/* Append the listing of the valid messages in list to out (files that
 * failed validation are left out): a header line, then per message its id
 * with '*' after it for active mail and '!' for held mail, size, arrival
 * (local time) and sender, the recipients still to be delivered under
 * their deferral reason, and "-- N Kbytes in M Requests." at the end; or
 * "Mail queue is empty". Envelope fields have control characters
 * replaced with '?'. */
void mailq_format(const struct queue_scan *list, struct str *out);

#endif

/*
 * The showq service and its client: the mail queue listing for users who
 * may not read the queue directories (Postfix's showq and postqueue -p).
 *
 * showq (showq/showq.c) listens on queue_directory/public/showq, takes no
 * input, and on each connection sends the listing in Postfix's mailq
 * format (mail/mailq.h) as IPC records (util/ipc.h), then closes:
 *   "text"   data (d): the next part of the listing, at most SHOWQ_CHUNK
 *            bytes; as many as it takes
 *   "end"    (no attributes): the listing is complete
 *   "error"  reason (s): the queue could not be read (instead of "end")
 * Anything else, or a connection that ends before "end", is a failure.
 */
#ifndef POSTERN_MAIL_SHOWQ_CLIENT_H
#define POSTERN_MAIL_SHOWQ_CLIENT_H

#include "util/str.h"

#define SHOWQ_SERVICE "showq"
#define SHOWQ_TEXT "text"
#define SHOWQ_END "end"
#define SHOWQ_ERROR "error"
#define SHOWQ_CHUNK 65536

/* Ask the showq service of queue_dir for the listing and append it to out.
 * 0 once the whole listing is there; else -1 with *error_r and *status_r,
 * a sysexits(3) status as Postfix's postqueue -p gives it: EX_UNAVAILABLE
 * when no showq answers ("Queue report unavailable - mail system is
 * down"), EX_SOFTWARE when the socket may not be reached (a permission:
 * the mail system may well be up) or the service fails. out may hold part
 * of the listing then. */
int showq_client_fetch(const char *queue_dir, struct str *out, int *status_r, const char **error_r);

#endif

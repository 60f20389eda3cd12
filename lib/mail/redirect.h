/*
 * REDIRECT and BCC, as Postfix's access(5) and header_checks(5) actions
 * give them: the envelope a message is queued with when one said so.
 * Used by smtpd (access tables, policy servers, content checks) and
 * pickup (content checks).
 */
#ifndef POSTERN_MAIL_REDIRECT_H
#define POSTERN_MAIL_REDIRECT_H

#include "mail/queue.h"

/* dst (not initialised) becomes a copy of src with, if redirect is not
 * NULL, that address in place of all its recipients and no content filter
 * (REDIRECT overrides FILTER, as in Postfix), and, if bcc is not NULL and
 * not a recipient already, bcc added with NOTIFY=NEVER. */
void envelope_redirect_copy(struct queue_envelope *dst, const struct queue_envelope *src,
                            const char *redirect, const char *bcc);

#endif

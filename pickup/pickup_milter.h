/*
 * pickup and non_smtpd_milters: a locally submitted message goes through
 * the filters in one go (connect as localhost, HELO, MAIL, RCPT, DATA,
 * the message), and their edits are written to its queue file. A rejected
 * message is returned to its sender with a non-delivery notification (the
 * sender has already gone: sendmail returned long ago).
 */
#ifndef POSTERN_PICKUP_PICKUP_MILTER_H
#define POSTERN_PICKUP_PICKUP_MILTER_H

#include <stdint.h>

#include "conf/conf.h"
#include "mail/queue.h"
#include "mail/virtual_alias.h"
#include "util/str.h"

/* Read the settings at start-up (log_fatal on a bad list); va expands the
 * recipient of the notifications of rejected mail. Not enabled: no
 * milters (receive_override_options no_milters). */
void pickup_milter_init(const struct conf *conf, struct virtual_alias *va, bool enabled);
/* True if non_smtpd_milters is not empty. */
bool pickup_milter_enabled(void);

enum pickup_milter_result {
	PICKUP_MILTER_QUEUE, /* queue env and *out into *subdir_r ("incoming" or "hold") */
	PICKUP_MILTER_DONE,  /* nothing to commit: discarded or returned to sender */
	PICKUP_MILTER_RETRY, /* a filter said try later: keep the drop file */
};

/* Filter content (the Received header included) for env, which the
 * edits change; on QUEUE the final content is appended to out, and a
 * quarantine sets *subdir_r to "hold" (else it is left as it is). */
enum pickup_milter_result pickup_milter_run(struct queue_envelope *env, int64_t uid,
                                            const struct str *content, struct str *out,
                                            const char **subdir_r, const char **why_r);

#endif

/*
 * pickup and header_checks, body_checks (lib/mail/content_check.h), as
 * Postfix's cleanup applies them to mail from sendmail: the message held
 * in memory, pickup's Received header included, is checked before the
 * milters see it. Edits change what is queued; HOLD queues on hold;
 * DISCARD drops the message; REJECT and DEFER return it to the sender
 * (who is long gone: there is nobody to try again later) for every
 * recipient; a table that cannot be read leaves the drop file for a later
 * try. Each decision is logged in Postfix's form, e.g.
 *   ID: reject: header Subject: x from local; from=<a@x> to=<b@y>: 5.7.1 text
 */
#ifndef POSTERN_PICKUP_CONTENT_H
#define POSTERN_PICKUP_CONTENT_H

#include "conf/conf.h"
#include "mail/queue.h"
#include "mail/virtual_alias.h"
#include "util/str.h"

/* Read the settings at start-up; va expands the recipient of the
 * notifications of rejected mail. Not enabled: no checks
 * (receive_override_options no_header_body_checks). */
void pickup_content_init(const struct conf *conf, struct virtual_alias *va, bool enabled);
/* A table look-up for pickup's tables (content checks, BCC maps), a
 * failure logged; as content_check_config's lookup. */
int pickup_table_lookup(void *ctx, const char *spec, const char *key, struct str *value);
/* True if header_checks or body_checks is set. */
bool pickup_content_enabled(void);

enum pickup_content_result {
	PICKUP_CONTENT_QUEUE, /* queue env and content into *subdir_r */
	PICKUP_CONTENT_DONE,  /* nothing to commit: discarded or returned to sender */
	PICKUP_CONTENT_RETRY, /* a table cannot be read: keep the drop file */
};

/* Check content for env. On QUEUE content holds what is to be queued,
 * and after a HOLD env->hold_reason is set and *subdir_r is "hold". */
enum pickup_content_result pickup_content_run(struct queue_envelope *env, struct str *content,
                                              const char **subdir_r, const char **why_r);

#endif

/*
 * Applying one end-of-message modification from a filter to the message
 * and its queue envelope: header changes, body replacement (collected by
 * the caller), sender change and recipient additions and deletions with
 * their ESMTP parameters.
 */
#ifndef POSTERN_MILTER_MILTER_EDIT_H
#define POSTERN_MILTER_MILTER_EDIT_H

#include <stdbool.h>

#include "mail/queue.h"
#include "milter/milter_message.h"
#include "milter/milter_proto.h"

/* The negotiated action bit that permits reply command cmd (0 if cmd is
 * not a modification). */
uint32_t milter_edit_action(char cmd);

/* Apply r (ADDHEADER, INSHEADER, CHGHEADER, CHGFROM, ADDRCPT,
 * ADDRCPT_PAR, DELRCPT). 0, or -1 with *error_r if the edit is invalid
 * (an address that cannot be used). */
int milter_edit_apply(const struct milter_reply *r, bool leadspc, struct milter_message *m,
                      struct queue_envelope *env, const char **error_r);

/* "<a@b>" or "a@b" without the brackets (malloc'd). */
char *milter_edit_strip_brackets(const char *address);

#endif

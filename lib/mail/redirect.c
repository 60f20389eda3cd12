/*
 * The envelope after REDIRECT and BCC (see redirect.h).
 */
#include "mail/redirect.h"

#include <stdlib.h>

void envelope_redirect_copy(struct queue_envelope *dst, const struct queue_envelope *src,
                            const char *redirect, const char *bcc)
{
	if (redirect != NULL) {
		queue_envelope_copy_fields(dst, src);
		queue_envelope_add_rcpt(dst, redirect, "", "");
		free(dst->filter);
		dst->filter = NULL;
	} else {
		queue_envelope_copy(dst, src);
	}
	if (bcc != NULL && !queue_envelope_has_rcpt(dst, bcc))
		queue_envelope_add_rcpt(dst, bcc, "", "NEVER");
}

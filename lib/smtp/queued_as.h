/*
 * The queue id in a server's reply to the end of a message: Postfix's
 * and Postern's "250 2.0.0 Ok: queued as 4F9D3C1A2B", and the same words
 * in other servers' replies. A pure function over the reply's text (as
 * smtp_resp keeps it), which comes from a peer and is not trusted.
 */
#ifndef POSTERN_SMTP_QUEUED_AS_H
#define POSTERN_SMTP_QUEUED_AS_H

#include <stddef.h>

/* The longest id taken; a longer one is not an id. */
#define QUEUED_AS_MAX 64

/* The id after the first "queued as " (any case) in text[0..len): 1 to
 * QUEUED_AS_MAX letters, digits, '-', '_' or '.' (a trailing '.' is the
 * sentence's, not the id's), ended by the end of the text or any other
 * byte. Copied into out (out_size bytes, NUL-terminated; at least
 * QUEUED_AS_MAX + 1 to hold any id); returns its length, or 0 (out "")
 * when the text names none. */
size_t smtp_reply_queued_as(const char *text, size_t len, char *out, size_t out_size);

#endif

/*
 * Address extensions (recipient_delimiter): "user+ext@domain" is user's
 * address with the extension "ext". Every program that decides whether a
 * recipient exists, or where it goes, asks this module where the base of a
 * local part ends, so that smtpd, local and the virtual alias expansion
 * agree.
 *
 * recipient_delimiter is a set of characters (Postfix: "+", or "+-"): the
 * local part is split at the first of them that is not its first
 * character. With the delimiter "-", "owner-NAME" and "NAME-request" (the
 * mailing-list conventions) are not split.
 */
#ifndef POSTERN_MAIL_EXTENSION_H
#define POSTERN_MAIL_EXTENSION_H

#include <stddef.h>

/* Length of the base of local (its first len bytes), or len when it has
 * no extension (or delimiters is NULL or empty). local[result] is then
 * the delimiter character. */
size_t extension_base_len(const char *local, size_t len, const char *delimiters);

/* address ("local@domain" or "local") without its extension, as a fresh
 * string, or NULL when it has none. */
char *extension_strip(const char *address, const char *delimiters);

#endif

/*
 * IMAP's modified UTF-7 (RFC 3501 5.1.3), the form mailbox names take on
 * the wire without UTF8=ACCEPT and in Dovecot's Maildir++ directory names.
 *
 * Printable US-ASCII (0x20-0x7e) stands for itself, except "&", written
 * "&-". Everything else is a shift: "&", the UTF-16BE code units in base64
 * with ',' for '/' and no padding, then "-".
 *
 * Both directions are strict, so that a name has exactly one encoded form
 * and decode(encode(x)) == x, encode(decode(y)) == y: encoding takes
 * well-formed UTF-8 only (RFC 3629: no overlong forms, surrogates or code
 * points past U+10FFFF); decoding takes only what the canonical encoder
 * writes (no bytes outside 0x20-0x7e, "&" followed by "-" or a base64
 * character, no printable ASCII inside a shift, no shift right after
 * another, padding bits zero and fewer than six, every shift closed by
 * "-", surrogates only in pairs).
 */
#ifndef POSTERN_UTIL_MUTF7_H
#define POSTERN_UTIL_MUTF7_H

#include <stddef.h>

#include "util/str.h"

/* Append the modified UTF-7 form of len bytes of UTF-8 text (NUL bytes
 * are characters like others) to out. 0, or -1 with *error_r (a static
 * string) when text is not well-formed UTF-8; out is then as it was. */
int mutf7_encode(const char *text, size_t len, struct str *out, const char **error_r);

/* Append the UTF-8 form of len bytes of modified UTF-7 to out. 0, or -1
 * with *error_r (a static string) when text is not canonical modified
 * UTF-7 (see above); out is then as it was. */
int mutf7_decode(const char *text, size_t len, struct str *out, const char **error_r);

#endif

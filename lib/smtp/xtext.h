/*
 * xtext (RFC 3461 section 4): the encoding of the DSN parameters ENVID and
 * ORCPT and of the AUTH= MAIL parameter (RFC 4954). xchar is any of
 * '!'..'~' except '+' and '='; anything else is "+XX" with two hex digits.
 *
 * unitext (RFC 6533 section 3): the "utf-8" ORCPT address type, where
 * characters are either literal (printable ASCII other than '+', '=' and
 * '\', or UTF-8) or "\x{HEX}" escapes of a Unicode code point.
 */
#ifndef POSTERN_SMTP_XTEXT_H
#define POSTERN_SMTP_XTEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "util/str.h"

/* Decode xtext, appending the bytes to out. Lower-case hex digits are
 * accepted (as Postfix does); an escape that decodes to NUL is refused,
 * since every use of the result is a C string. 0, or -1 with *error_r
 * (out may then hold part of the result). Empty text decodes to "". */
int xtext_decode(const char *text, size_t len, struct str *out, const char **error_r);

/* Append the xtext form of data (upper-case hex escapes). */
void xtext_encode(const void *data, size_t len, struct str *out);

/* Decode unitext (utf-8-addr-unitext, which includes the 7-bit
 * utf-8-addr-xtext form), appending UTF-8 to out. The "\x{HEX}" escapes
 * must follow RFC 6533's HEXPOINT (no leading zeros, no escapes of
 * printable ASCII but the xtext specials, no NUL, surrogates or code
 * points past U+10FFFF); literal bytes must be well-formed UTF-8 and
 * not '+', '=', '\' (outside an escape), space or control characters.
 * 0, or -1 with *error_r. */
int unitext_decode(const char *text, size_t len, struct str *out, const char **error_r);

/* Append the unitext form of UTF-8 text; with ascii_only, non-ASCII
 * characters are escaped too (utf-8-addr-xtext, for a peer without
 * SMTPUTF8). -1 if text is not well-formed UTF-8 or contains NUL. */
int unitext_encode(const char *text, size_t len, bool ascii_only, struct str *out);

#endif

/*
 * UTF-8 well-formedness (RFC 3629): no overlong forms, no surrogates, no
 * code points past U+10FFFF. Used by the SMTP address and xtext parsers
 * (which accept UTF-8 only where SMTPUTF8, RFC 6531, allows it) and by
 * the modified UTF-7 mailbox name codec.
 */
#ifndef POSTERN_UTIL_UTF8_H
#define POSTERN_UTIL_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/str.h"

/* Length (1..4) of the well-formed character at the start of s, or 0 if
 * s does not start with one (len == 0 also gives 0). If cp_r is not NULL
 * it receives the code point. */
size_t utf8_char_len(const char *s, size_t len, uint32_t *cp_r);

/* True if all len bytes are well-formed UTF-8 (NUL bytes included). */
bool utf8_valid(const char *s, size_t len);

/* True if s has a byte with the high bit set. */
bool utf8_has_non_ascii(const char *s, size_t len);

/* Append the UTF-8 form of a Unicode scalar value (not a surrogate,
 * at most U+10FFFF; anything else is ignored and false is returned). */
bool utf8_encode(uint32_t cp, struct str *out);

#endif

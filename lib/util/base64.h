/*
 * Base64 (RFC 4648) encoding and strict decoding, for SASL exchanges.
 */
#ifndef POSTERN_UTIL_BASE64_H
#define POSTERN_UTIL_BASE64_H

#include <stddef.h>

#include "util/str.h"

void base64_encode(const void *data, size_t len, struct str *out);
/* Decode text (no white space; padding required) appending to out; 0 or -1. */
int base64_decode(const char *text, size_t len, struct str *out);

#endif

/*
 * Minimal JSON writing for machine-readable output (mailctl --json):
 * string escaping and small helpers; no parser.
 */
#ifndef POSTERN_UTIL_JSON_H
#define POSTERN_UTIL_JSON_H

#include <stddef.h>

#include "util/str.h"

/* Append text as a quoted JSON string (quotes, backslashes and control
 * characters escaped; other bytes, UTF-8 included, pass through). */
void json_append_string(struct str *out, const char *text, size_t len);
void json_append_cstr(struct str *out, const char *text);

#endif

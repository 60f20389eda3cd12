/*
 * Header fields removed from mail on its way in, as Postfix's cleanup
 * removes them (message_drop_headers): Return-Path, which only local
 * delivery adds, and Content-Length. Used by smtpd and pickup on the
 * primary header section they hold.
 */
#ifndef POSTERN_MAIL_DROP_HEADERS_H
#define POSTERN_MAIL_DROP_HEADERS_H

#include <stdbool.h>
#include <stddef.h>

#include "util/str.h"

/* Whether the header line (len bytes, from the start of a field) starts
 * a field that is removed: "Name:" or "Name :", any case. */
bool drop_headers_field(const char *line, size_t len);

/* Append the header lines head[0..len) to out without the removed fields
 * and their continuation lines; returns how many bytes were appended. */
size_t drop_headers_filter(const char *head, size_t len, struct str *out);

#endif

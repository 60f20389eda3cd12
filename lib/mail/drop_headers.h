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

/* Remove those fields (and their continuation lines) from the header
 * lines s[0..header_len), in place, closing up what follows them; returns
 * the new length of the header lines. Nothing is copied when none is
 * there. */
size_t drop_headers_remove(struct str *s, size_t header_len);

#endif

/*
 * The socket map protocol's messages (Sendmail's socket map, Postfix's
 * socketmap_table(5)), without I/O: netstrings ("LEN:DATA,") and the
 * server's reply inside one ("OK value", "NOTFOUND ", "TEMP reason",
 * "TIMEOUT reason", "PERM reason"). Pure functions, fuzzed.
 */
#ifndef POSTERN_TABLE_SOCKETMAP_REPLY_H
#define POSTERN_TABLE_SOCKETMAP_REPLY_H

#include <stddef.h>

#include "util/str.h"

/* The longest reply taken (Postfix's socketmap_max_reply_size). */
#define SOCKETMAP_MAX_REPLY 100000

/* Append the netstring of data to out. */
void socketmap_netstring(struct str *out, const char *data, size_t len);

/* The length a netstring announces, from the bytes before its ':'
 * (digits only, no leading zeros but "0", at most SOCKETMAP_MAX_REPLY):
 * the length, or -1 when they are not a valid length. */
long socketmap_netstring_length(const char *digits, size_t len);

enum socketmap_status {
	SOCKETMAP_FOUND,    /* "OK value" */
	SOCKETMAP_NOTFOUND, /* "NOTFOUND" */
	SOCKETMAP_TEMP,     /* "TEMP" or "TIMEOUT": try again later */
	SOCKETMAP_PERM,     /* "PERM" */
	SOCKETMAP_INVALID,  /* none of those */
};

/* Classify a reply (the netstring's data): the status, and in *text_r and
 * *text_len_r the value (found) or the reason (errors), pointing into
 * reply. */
enum socketmap_status socketmap_reply_parse(const char *reply, size_t len, const char **text_r,
                                            size_t *text_len_r);

#endif

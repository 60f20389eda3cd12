/*
 * The user database of virtual mail users: who may log in (smtpd AUTH,
 * POP3, IMAP) with which password, and which mailboxes exist.
 *
 * Source: $config_directory/users, kept by `mailctl user` (or by hand),
 * one user per line:
 *     address:hash[:quota=SIZE]
 * address is lower-cased; hash is a crypt(3) hash (see password.h; one
 * starting with '!' or '*' is a locked account); SIZE is a byte count with
 * an optional k, m or g suffix. '#' starts a comment line; blank lines are
 * ignored. Comments and blank lines survive edits by mailctl.
 *
 * Compiled forms (LMDB, see table/table.h), rebuilt after every change:
 *   users.lmdb     address → "hash" or "hash:quota=BYTES"; secret: mode
 *                  0640, group postern-auth when built by root. Only the
 *                  auth service reads it.
 *   vmailbox.lmdb  address → "quota=BYTES" or ""; not secret (0644): smtpd
 *                  and local read it to know that a mailbox exists.
 */
#ifndef POSTERN_AUTH_USERDB_H
#define POSTERN_AUTH_USERDB_H

#include <stdbool.h>
#include <stddef.h>

#include "conf/diag.h"
#include "table/table.h"
#include "util/str.h"

#define USERDB_SOURCE "users"
#define USERDB_TABLE "users.lmdb"
#define USERDB_VMAILBOX_TABLE "vmailbox.lmdb"
/* The group that may read the hashes (the auth service's). */
#define USERDB_GROUP "postern-auth"
#define USERDB_MAX_ADDRESS 320

struct userdb_user {
	char *address;    /* lower-cased */
	char *hash;       /* crypt(3) form; may be locked */
	char *quota_text; /* as written ("1G"), or NULL for none */
	long long quota;  /* bytes; -1 for none */
	int line;         /* in the source it was read from; 0 if added since */
};

struct userdb;

struct userdb *userdb_new(void);
void userdb_free(struct userdb *db);

/* Parse source text (filename is used in diagnostics) into an empty db.
 * Returns 0, or -1 if any error (each naming file:line) was added to diags:
 * a malformed line, an invalid address, an empty hash, an unknown option,
 * a bad quota, a user listed twice. Pure: no I/O. */
int userdb_parse(struct userdb *db, const char *filename, const char *text, size_t len,
                 struct diag_list *diags);
/* Read and parse path; a missing file is an empty database. */
int userdb_load(struct userdb *db, const char *path, struct diag_list *diags);

/* Iterate: start with *pos = 0; NULL after the last user. */
const struct userdb_user *userdb_next(const struct userdb *db, size_t *pos);
size_t userdb_count(const struct userdb *db);
/* The user with this address (normalized first), or NULL. */
const struct userdb_user *userdb_find(const struct userdb *db, const char *address);

/* Edits. Each validates and normalizes address; 0 or -1 with *error_r. */
int userdb_add(struct userdb *db, const char *address, const char *hash, const char *quota_text,
               const char **error_r);
int userdb_set_hash(struct userdb *db, const char *address, const char *hash, const char **error_r);
int userdb_remove(struct userdb *db, const char *address, const char **error_r);

/* The source text: comments and blank lines as read, users in order. */
void userdb_format(const struct userdb *db, struct str *out);
/* Write the source to path atomically (temporary file, fsync, rename).
 * 0 or -1 with *error_r (static). */
int userdb_save(const struct userdb *db, const char *path, const char **error_r);
/* Build users.lmdb at users_path and vmailbox.lmdb at vmailbox_path. */
int userdb_compile(const struct userdb *db, const char *users_path, const char *vmailbox_path,
                   const char **error_r);

/* Check an address ("local@domain": no white space, control characters,
 * ':' or '/', dot-atom dots) and lower-case it into a malloc'd copy.
 * 0 or -1 with *error_r (static). */
int userdb_normalize_address(const char *address, char **normalized_r, const char **error_r);

/* Look up the hash of a (normalized) address in an open users.lmdb table:
 * 1 found (hash set), 0 unknown user, -1 error with *error_r. */
int userdb_lookup_hash(struct table *users, const char *address, struct str *hash,
                       const char **error_r);

#endif

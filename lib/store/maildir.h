/*
 * Maildir on disk: the mailbox format shared with other mail tools.
 *
 * A Maildir is a directory with tmp/, new/ and cur/ (mode 0700). A message
 * is one file. Delivery writes tmp/NAME, fsyncs it, renames it to new/NAME
 * (never replacing an existing file: RENAME_NOREPLACE, or link and unlink
 * where the file system lacks it) and fsyncs new/. On ext4 it writes an
 * unnamed file in tmp/ (O_TMPFILE) instead, links it as new/NAME once
 * complete and then fsyncs it and new/: one journal commit, not two, and
 * never a partial file under a name (see maildir_delivery.c).
 * NAME is "SECONDS.MusecPpidQseq.HOST,S=SIZE,W=CRLFSIZE" (HOST with '/'
 * and ':' escaped as \057 and \072; CRLFSIZE, Maildir++'s "W", is the
 * size with every line ending in CRLF, which POP3 and IMAP report). A file in cur/ is named
 * "BASE:2,FLAGS" where FLAGS are letters in ASCII order (standard: D draft, F flagged, P passed, R
 * replied, S seen, T trashed; lower-case letters are keywords of other tools and are kept).
 *
 * A message is identified by its base name: the file name up to the first
 * ':' (so it stays the same when flags change or the file moves from new/
 * to cur/). Other processes may rename or delete files at any time: the
 * functions that act on one message look it up by base name and retry
 * when it moved under them.
 *
 * Functions acting on one message return 1 when done, 0 when no such
 * message exists (any more), -1 on error with *error_r.
 */
#ifndef POSTERN_STORE_MAILDIR_H
#define POSTERN_STORE_MAILDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/str.h"

/* Longest flag string kept (letters A-Z, a-z, each at most once). */
#define MAILDIR_MAX_FLAGS 52

struct maildir_entry {
	char *base;                        /* the message's name up to the first ':' */
	char *name;                        /* the file name as it is in new/ or cur/ */
	char flags[MAILDIR_MAX_FLAGS + 1]; /* from ":2,", normalised; "" if none */
	bool in_cur;                       /* in cur/ (else new/) */
	int64_t size; /* from ",S=" in the name, else -1 (maildir_list may stat) */
};

struct maildir_list {
	struct maildir_entry *items;
	size_t count, cap;
};

/* Create path (its parent must exist) and cur/ new/ tmp/ if missing,
 * mode 0700, tmp/ last. 0 or -1 with *error_r and errno (ENOENT: the
 * parent is missing; ENOTDIR: something there is not a directory). */
int maildir_create(const char *path, const char **error_r);

/* Check that flags are letters only and return them sorted, without
 * duplicates, into out (MAILDIR_MAX_FLAGS + 1 bytes). 0, or -1 if invalid. */
int maildir_flags_normalize(const char *flags, char *out);

/* The size with CRLF line ends from ",W=" in a base name, or -1 if absent. */
int64_t maildir_crlf_size_from_name(const char *base);

/* Split a file name into entry (base, flags, size from ",S="); entry->name
 * is a copy of name, in_cur false. Free with maildir_entry_free. */
void maildir_entry_parse(const char *name, struct maildir_entry *entry);
void maildir_entry_free(struct maildir_entry *entry);

/* ---- Delivery ---- */

struct maildir_delivery;

/* Start writing a new message into tmp/. The Maildir's directories are
 * created (maildir_create) when the file cannot be for want of them; its
 * parent must exist. NULL with *error_r and errno on failure (ENOENT: the
 * parent is missing). */
struct maildir_delivery *maildir_delivery_begin(const char *path, const char **error_r);
int maildir_delivery_write(struct maildir_delivery *d, const void *data, size_t len,
                           const char **error_r);
/* fsync and close the file in tmp/ (done by commit if not yet): a caller
 * can look at the last moment whether it still wants the message before
 * it commits. An unnamed file is left for commit, which fsyncs it once
 * linked. 0, or -1 with *error_r (then abort). */
int maildir_delivery_sync(struct maildir_delivery *d, const char **error_r);
/* fsync, move into new/ (made again if it went missing), fsync new/; an
 * unnamed file: link into new/, fsync, fsync new/.
 * Never replaces a message already in new/. On success *name_r is the new file
 * name (caller frees) and the delivery is freed; on failure the temporary
 * file is removed and the delivery freed too. 0 or -1 with *error_r. */
int maildir_delivery_commit(struct maildir_delivery *d, char **name_r, const char **error_r);
/* Give the file this modification time (IMAP APPEND's internal date);
 * before commit. 0 or -1 with *error_r. */
int maildir_delivery_set_mtime(struct maildir_delivery *d, int64_t seconds, const char **error_r);
/* The unique part of the name the commit will try first (before ",S="). */
const char *maildir_delivery_unique(const struct maildir_delivery *d);
/* Drop an uncommitted delivery and its temporary file. NULL is allowed. */
void maildir_delivery_abort(struct maildir_delivery *d);

/* Deliver one message held in memory; as begin + write + commit. */
int maildir_deliver(const char *path, const void *data, size_t len, char **name_r,
                    const char **error_r);

/* ---- Listing and acting on messages ---- */

/* All messages in new/ and cur/ (names starting with '.' are skipped), in
 * directory order. Sizes missing from the name are filled in by stat (a
 * file that vanished meanwhile is left out). Appends to list; 0 or -1. */
int maildir_list(const char *path, struct maildir_list *list, const char **error_r);
void maildir_list_free(struct maildir_list *list);

/* Find a message by base name (cur/ first, then new/). 1, 0 or -1;
 * on 1 fill *entry (free with maildir_entry_free). */
int maildir_find(const char *path, const char *base, struct maildir_entry *entry,
                 const char **error_r);

/* Give a message exactly these flags (normalised; "" clears them) and
 * move it to cur/ if it is in new/. 1, 0 or -1 (invalid flags are -1). */
int maildir_set_flags(const char *path, const char *base, const char *flags, const char **error_r);

/* Remove a message. 1, 0 or -1. */
int maildir_delete(const char *path, const char *base, const char **error_r);

/* Open a message for reading (O_RDONLY|O_CLOEXEC) into *fd_r. 1, 0 or -1. */
int maildir_open_message(const char *path, const char *base, int *fd_r, const char **error_r);

/* Read a whole message into out (replacing its contents). 1, 0 or -1. */
int maildir_read_message(const char *path, const char *base, struct str *out, const char **error_r);

/* ---- Between Maildirs ---- */

/* Copy (keep: a hard link, or a copy where the two are on different file
 * systems) or move (keep false: a rename) message base of Maildir from
 * into Maildir to's cur/ (to is created if missing), with exactly these
 * flags, under a fresh base name that keeps the ",S=" and ",W=" sizes.
 * The file keeps its modification time (IMAP's internal date). to/cur/
 * is fsync'd before success. 1 with *base_r (the new base name, caller
 * frees), 0 no such message, -1 with *error_r. */
int maildir_transfer(const char *from, const char *base, const char *to, const char *flags,
                     bool keep, char **base_r, const char **error_r);

#endif

/*
 * A mailbox: a Maildir (maildir.h) plus an LMDB index of what IMAP needs,
 * shared by local, pop3d and imapd.
 *
 * The index is MAILDIR/postern-index.lmdb (one file, MDB_NOSUBDIR, with
 * the lock file postern-index.lmdb-lock beside it). A new index takes its
 * UIDVALIDITY from the clock, kept above the last one given in the same
 * root Maildir (ROOT/postern-uidvalidity), so that a folder made again
 * does not get its old one. It holds UIDVALIDITY,
 * UIDNEXT, the highest MODSEQ and, per message, its UID, base name (the
 * Maildir name before ":2,"), size and flags and the MODSEQ of its last
 * change. The files on disk are the truth: store_sync() gives a UID to
 * every file it has not seen (in increasing order, never reusing one),
 * drops the messages whose files are gone, and takes over flags changed
 * by other tools.
 *
 * Several processes may use one mailbox at once. Every index change runs
 * in LMDB's write transaction, which serialises writers across processes;
 * store_sync() scans the directories inside that transaction, so two
 * processes syncing together give each message exactly one UID. Delivery
 * needs no index: maildir_deliver() puts the file in new/, and the next
 * store_sync() of any process indexes it.
 *
 * A handle keeps the list of messages as of its last store_sync(), sorted
 * by UID: messages delivered or expunged by others appear or vanish only
 * at the next sync, so sequence numbers stay stable in between. A handle
 * must not be used across fork().
 *
 * Functions acting on one message return 1 when done, 0 when no such UID
 * (any more), -1 on error with *error_r.
 */
#ifndef POSTERN_STORE_STORE_H
#define POSTERN_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "store/maildir.h"
#include "util/str.h"

#define STORE_INDEX_NAME "postern-index.lmdb"
#define STORE_SESSION_LOCK_NAME "postern-pop3.lock"
/* In a root Maildir: the last UIDVALIDITY given to one of its mailboxes. */
#define STORE_UIDVALIDITY_NAME "postern-uidvalidity"

struct store;

struct store_message {
	uint32_t uid;
	char *base;                        /* Maildir base name */
	int64_t size;                      /* bytes of the file */
	char flags[MAILDIR_MAX_FLAGS + 1]; /* Maildir flag letters, sorted */
	uint64_t modseq;                   /* MODSEQ of the last change to this message */
	int64_t internal_date;             /* IMAP's internal date: the file's mtime when indexed */
};

/* Open the mailbox at path, creating the Maildir and the index if
 * missing (a new index gets UIDVALIDITY from the clock, UIDNEXT 1).
 * The message list is empty until store_sync(). NULL with *error_r. */
struct store *store_open(const char *path, const char **error_r);
void store_close(struct store *s);

/* Bring the index up to date with the Maildir (see above) and reload the
 * message list. Idempotent. 0 or -1 with *error_r. */
int store_sync(struct store *s, const char **error_r);

/* The messages as of the last sync, sorted by UID. */
const struct store_message *store_messages(const struct store *s, size_t *count_r);
/* The message with this UID, or NULL. */
const struct store_message *store_lookup_uid(const struct store *s, uint32_t uid);

const char *store_path(const struct store *s);
uint32_t store_uidvalidity(const struct store *s);
/* As of the last sync (or store_open). */
uint32_t store_uidnext(const struct store *s);
uint64_t store_highest_modseq(const struct store *s);

/* Give a message exactly these Maildir flags (renaming its file into
 * cur/), bumping MODSEQ when they change. 1, 0 or -1. */
int store_set_flags(struct store *s, uint32_t uid, const char *flags, const char **error_r);

/* Delete a message's file and index entry; it leaves this handle's list
 * at once (other handles: at their next sync). 1, 0 or -1. */
int store_expunge(struct store *s, uint32_t uid, const char **error_r);

/* Open a message's file for reading (O_RDONLY|O_CLOEXEC) into *fd_r, so
 * that it can be sent without holding it whole in memory. 1, 0 or -1. */
int store_open_message(struct store *s, uint32_t uid, int *fd_r, const char **error_r);

/* The size of a message with every line ending in CRLF, as POP3 and IMAP
 * report it: from the ",W=" in its name (maildir.h), else counted by
 * reading the file (written by a tool that does not record it). 1, 0 or
 * -1. */
int store_crlf_size(struct store *s, uint32_t uid, int64_t *size_r, const char **error_r);

/* The lock a POP3 session holds on a mailbox for its duration (RFC 1939's
 * maildrop lock): an exclusive flock(2) on MAILDIR/STORE_SESSION_LOCK_NAME,
 * released by store_close() or when the process ends, however it ends.
 * It keeps out a second POP3 session, not delivery nor IMAP. 1 locked,
 * 0 held by another process, -1 error. */
int store_lock_session(struct store *s, const char **error_r);

/* Expunge the messages with these UIDs in one index transaction (as
 * store_expunge, one MODSEQ step for all): what POP3's UPDATE state does
 * with thousands of messages. *removed_r counts those whose file is gone
 * now (UIDs already gone count too); a file that cannot be removed stays
 * indexed and is not counted. 0, or -1 with *error_r when the index
 * cannot be written (files removed before that are dropped from the index
 * by the next sync). */
int store_expunge_uids(struct store *s, const uint32_t *uids, size_t count, size_t *removed_r,
                       const char **error_r);

/* Read a message into out (replacing it). 1, 0 or -1. */
int store_read_message(struct store *s, uint32_t uid, struct str *out, const char **error_r);

/* ---- Adding messages (IMAP APPEND, COPY, MOVE) ----
 * Each puts a file into the Maildir (fsync'd with its name, as delivery)
 * and indexes it at once under a new UID, which *uid_r returns (UIDPLUS's
 * APPENDUID and COPYUID). The message joins a handle's list at its next
 * sync, like a delivered one. A crash in between leaves the file, which
 * the next sync indexes: nothing is lost. */

/* Add a message with these flags and internal date (seconds; 0 or less:
 * now). 1 or -1. */
int store_append(struct store *s, const void *data, size_t len, const char *flags,
                 int64_t internal_date, uint32_t *uid_r, const char **error_r);

/* Copy message uid of src (as of src's last sync) into dst, keeping its
 * flags, size and internal date (a hard link where both are on one file
 * system). 1, 0 (no such UID) or -1. */
int store_copy(struct store *src, uint32_t uid, struct store *dst, uint32_t *uid_r,
               const char **error_r);

/* Move it instead (RFC 6851): the file is renamed into dst, so there is
 * never a moment with no copy or, once done, two; it then leaves src's
 * index and src's list at once (as store_expunge). 1, 0 or -1. */
int store_move(struct store *src, uint32_t uid, struct store *dst, uint32_t *uid_r,
               const char **error_r);

/* ---- Watching for changes (IMAP IDLE; store_watch.c) ---- */

struct store_watch;

/* Start watching the mailbox (new/, cur/ and the index) for changes by
 * any process. NULL with *error_r. */
struct store_watch *store_watch_open(const struct store *s, const char **error_r);
/* A descriptor that polls readable when something changed. */
int store_watch_fd(const struct store_watch *w);
/* Read what is pending without waiting: 1 the mailbox may have changed
 * since the last call (run store_sync), 0 not, -1 with *error_r. */
int store_watch_changed(struct store_watch *w, const char **error_r);
void store_watch_close(struct store_watch *w);

#endif

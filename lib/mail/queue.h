/*
 * The mail queue on disk: queue ids, directory layout, and the queue file.
 *
 * Layout under queue_directory:
 *   maildrop/  files dropped by the local sendmail (untrusted; pickup reads)
 *   incoming/  new, complete queue files (smtpd and pickup write here)
 *   active/    files qmgr is working on
 *   deferred/  files waiting for a retry
 *   hold/      held by the admin or a milter
 *   corrupt/   files that failed validation
 *   status/    per-message recipient status logs (qmgr is the only writer)
 *   tmp/       files being written (never read as queue entries)
 *
 * A queue id is 16 upper-case hex digits: 13 of the arrival time in
 * microseconds (so ids sort by arrival; 52 bits last until 2112) and 3 of
 * the pid, e.g. "0006412F3A1B2C4D". Queue file names are the id.
 *
 * Queue file format, version 1: the line "POSTERN-QUEUE 1\n", then IPC
 * records (util/ipc.h):
 *   "envelope"  id, arrival (i: unix seconds), sender (s, "" for <>),
 *               envid, ret ("FULL"|"HDRS"|""), body ("7BIT"|"8BITMIME"|
 *               "BINARYMIME"|""), smtputf8 (i), client_name, client_addr,
 *               client_port, helo, protocol, tls, auth_user (s, "" if none),
 *               origin ("smtp"|"pickup"), and optionally hold_reason (s:
 *               why the message was put on hold, e.g. a milter's quarantine),
 *               filter (s: content_filter "transport:nexthop") and verify
 *               (s: an address verification message that is delivered to
 *               nobody: "probe" from smtpd's reject_unverified_* checks,
 *               its results go to the verify cache; "report" from sendmail
 *               -bv, its results go back to the sender in one report) and
 *               trace (i: 1 from sendmail -v: delivered as usual, and the
 *               sender gets a report of the first attempt)
 *   "rcpt"      one per recipient, in order: address, orcpt (s), notify (s:
 *               "" default, or a comma list of SUCCESS,FAILURE,DELAY or NEVER),
 *               and optionally valias_pending (i: 1 when its virtual alias
 *               expansion hit a loop or a limit as it was queued; qmgr
 *               expands it again at each attempt, see qmgr/valias.c)
 *   "content"   size (i); then exactly size raw bytes of the message (CRLF
 *               line ends as received, no dot-stuffing)
 *   "end"       crc32 (i: zlib crc32 of the content bytes)
 * A file without a valid "end" record matching its content is corrupt.
 */
#ifndef POSTERN_MAIL_QUEUE_H
#define POSTERN_MAIL_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/str.h"

#define QUEUE_ID_LEN 16
#define QUEUE_VERIFY_PROBE "probe"
#define QUEUE_VERIFY_REPORT "report"
#define QUEUE_MAGIC "POSTERN-QUEUE 1\n"

/* The subdirectories above, in order; queue_make_dirs creates them. */
extern const char *const queue_dir_names[];

/* Create missing queue subdirectories (mode 0700, owned by owner:group
 * when running as root and owner != (uid_t)-1). 0 or -1 with *error_r. */
int queue_make_dirs(const char *queue_dir, uid_t owner, gid_t group, const char **error_r);

/* A fresh, unique, time-sortable id into buf (QUEUE_ID_LEN + 1 bytes). */
void queue_id_new(char *buf);
bool queue_id_valid(const char *id);

struct queue_rcpt {
	char *address;
	char *orcpt;
	char *notify;
	bool valias_pending; /* virtual alias expansion still to be done */
};

struct queue_envelope {
	char id[QUEUE_ID_LEN + 1];
	int64_t arrival;
	char *sender;
	char *envid;
	char *ret;
	char *body;
	bool smtputf8;
	char *client_name;
	char *client_addr;
	char *client_port;
	char *helo;
	char *protocol;
	char *tls;
	char *auth_user;
	char *origin;
	char *hold_reason; /* "" or NULL unless held with a reason */
	char *filter;      /* content_filter "transport:nexthop", "" or NULL for none */
	char *verify;      /* QUEUE_VERIFY_PROBE, QUEUE_VERIFY_REPORT, "" or NULL: a message */
	bool trace;        /* a report of the first attempt to the sender */
	int64_t size;      /* content bytes (from the content record when read) */
	struct queue_rcpt *rcpts;
	size_t rcpt_count;
	size_t rcpt_cap;
	size_t rcpt_first; /* queue file index of rcpts[0] (read with a window) */
	size_t rcpt_total; /* recipients in the file (when read from one) */
};

void queue_envelope_init(struct queue_envelope *env);
/* Whether value is one of the verify modes above. */
bool queue_verify_mode_valid(const char *value);
/* Whether env is an address verification message (no one gets it). */
bool queue_envelope_is_verify(const struct queue_envelope *env);
void queue_envelope_free(struct queue_envelope *env);
void queue_envelope_add_rcpt(struct queue_envelope *env, const char *address, const char *orcpt,
                             const char *notify);
/* Whether address is one of env's recipients (in any case). */
bool queue_envelope_has_rcpt(const struct queue_envelope *env, const char *address);
/* dst (not initialised) becomes a copy of src without its recipients. */
void queue_envelope_copy_fields(struct queue_envelope *dst, const struct queue_envelope *src);
/* dst (not initialised) becomes a copy of src with its recipients. */
void queue_envelope_copy(struct queue_envelope *dst, const struct queue_envelope *src);

/* Writing a queue file: open under tmp/, stream the content, then commit:
 * fsync, rename into incoming/ (or another subdirectory), fsync the
 * directory. Only after queue_writer_commit returns 0 may the mail be
 * acknowledged. Any failure leaves no file behind. Open refuses an envelope
 * the reader would reject (no recipients, larger than 1 MiB). Commit never
 * replaces an existing file. */
struct queue_writer;

struct queue_writer *queue_writer_open(const char *queue_dir, struct queue_envelope *env,
                                       const char **error_r);
/* Make the file the next queue_writer_open in this process will use, while
 * there is time (a server calls it before it waits for its client). */
void queue_writer_prepare(const char *queue_dir);
/* Done with the queue file at path (a finished message): keep its inode
 * for a later writer (emptied, under tmp/) or, when enough wait, remove it.
 * 0 once path is gone (or was already), -1 with errno as unlink's. */
int queue_file_recycle(const char *queue_dir, const char *path);
/* Make a free file (empty) the file at path, which must not exist, on the
 * same file system, and open it with flags (O_CREAT is not needed): its
 * descriptor, or -1 when no file is free (then create one). */
int queue_take_free_file(const char *queue_dir, const char *path, int flags);
/* Remove files under tmp/ older than max_age seconds: left by killed
 * writers (only at start-up, when no writer can still own them). Returns
 * how many were removed. */
int queue_sweep_tmp(const char *queue_dir, int max_age);
/* Write env instead of the envelope given to open (a milter changed the
 * sender or the recipients); the id stays. Only before the first content
 * byte. 0 or -1 with *error_r (e.g. no recipients left). */
int queue_writer_replace_envelope(struct queue_writer *w, struct queue_envelope *env,
                                  const char **error_r);
/* The same, trying id first (one made earlier with queue_id_new, e.g. to
 * show milters at MAIL FROM); a new id if that one is taken. */
struct queue_writer *queue_writer_open_id(const char *queue_dir, struct queue_envelope *env,
                                          const char *id, const char **error_r);
/* Append the content of another queue file (size bytes at offset of
 * path, as queue_file_read located them). 0 or -1 with *error_r. */
int queue_writer_copy_content(struct queue_writer *w, const char *path, size_t offset, int64_t size,
                              const char **error_r);
/* Append content bytes (the message as it will be delivered). */
int queue_writer_write(struct queue_writer *w, const void *data, size_t len, const char **error_r);
/* Finish and make durable in subdir ("incoming", "hold"...). 0 or -1; after
 * either, call queue_writer_abort to free (it removes nothing once committed). */
int queue_writer_commit(struct queue_writer *w, const char *subdir, const char **error_r);
/* Remove the temporary file and free. Safe after a failed write or commit. */
void queue_writer_abort(struct queue_writer *w);
/* Where the content written so far is (its buffered bytes are written
 * out first): for a second writer to copy it with queue_writer_copy_content
 * (a new envelope for the same message) before this one is aborted. 0, or
 * -1 with *error_r. */
int queue_writer_content(struct queue_writer *w, const char **path_r, size_t *offset_r,
                         int64_t *size_r, const char **error_r);
int64_t queue_writer_size(const struct queue_writer *w);
const char *queue_writer_id(const struct queue_writer *w);
/* The recipients of the envelope written (after any replacement). */
size_t queue_writer_rcpt_count(const struct queue_writer *w);

/* Move queue file id from one subdirectory to another ("deferred" to
 * "hold" ...), never replacing a file, and fsync both directories. 0; -1
 * with errno (ENOENT: it is no longer in from/, EEXIST: to/ has one) and
 * *error_r if it did not move; 1 with *error_r if it moved but could not
 * be made durable. */
int queue_move(const char *queue_dir, const char *id, const char *from, const char *to,
               const char **error_r);

/* Reading: parse the envelope and locate the content. Pure over the bytes
 * given (the first up to 1 MiB of a file is enough for the envelope).
 * Returns 1 with env filled and *content_offset_r set, 0 if more bytes are
 * needed, -1 with *error_r if the data is not a valid queue file. */
int queue_file_parse_envelope(const void *data, size_t len, struct queue_envelope *env,
                              size_t *content_offset_r, const char **error_r);
/* Open and fully validate a queue file (envelope, content size, end record,
 * crc). 0 with env and *content_offset_r, or -1 with *error_r. */
int queue_file_read(const char *path, struct queue_envelope *env, size_t *content_offset_r,
                    const char **error_r);
/* The same on a descriptor open for reading (pread: its offset is not
 * used), for a reader that keeps the file open for the content: open it
 * with O_NOFOLLOW and O_NONBLOCK as queue_file_read does; a file that is
 * not regular is refused here. */
int queue_file_read_fd(int fd, struct queue_envelope *env, size_t *content_offset_r,
                       const char **error_r);
/* The same, keeping only the recipients with file indexes in [first,
 * first + max) in env->rcpts (env->rcpt_first is first; all of them are
 * still validated and counted in env->rcpt_total): a reader that must
 * bound the recipients it holds takes them a window at a time. */
int queue_file_read_window(const char *path, size_t first, size_t max, struct queue_envelope *env,
                           size_t *content_offset_r, const char **error_r);

#endif

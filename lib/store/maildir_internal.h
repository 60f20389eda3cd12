/*
 * What the files of the Maildir module (maildir.c, maildir_names.c,
 * maildir_delivery.c, maildir_transfer.c) share with each other and
 * nothing else: programs include store/maildir.h.
 */
#ifndef POSTERN_STORE_MAILDIR_INTERNAL_H
#define POSTERN_STORE_MAILDIR_INTERNAL_H

#include "store/maildir.h"

/* How often an operation looks the file up again after it moved. */
#define MAILDIR_RETRIES 20

/* Format an error message into the module's buffer (maildir.c) and return
 * it, for *error_r. */
const char *maildir_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A fresh unique part for a message name (maildir_names.c):
 * "SECONDS.MusecPpidQseq.HOST" (caller frees). */
char *maildir_unique_name(void);

/* fsync the directory dir (maildir_delivery.c). 0 or -1 with *error_r. */
int maildir_fsync_dir(const char *dir, const char **error_r);

/* Find the message base and act on its file: act returns 0, or -1 with
 * errno. When the file moved under us (ENOENT), look again. 1 when done,
 * 0 when no such message, -1 with *error_r (what: the failed call)
 * (maildir.c). */
int maildir_act_on_message(const char *path, const char *base, const char *what,
                           int (*act)(const char *path, const char *file,
                                      const struct maildir_entry *e, void *arg),
                           void *arg, const char **error_r);

#endif

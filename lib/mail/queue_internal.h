/*
 * What the files of the queue module (queue.c, queue_envelope.c,
 * queue_writer.c, queue_read.c, queue_tmp.c) share with each other and
 * nothing else: programs include mail/queue.h.
 */
#ifndef POSTERN_MAIL_QUEUE_INTERNAL_H
#define POSTERN_MAIL_QUEUE_INTERNAL_H

#include <stddef.h>
#include <sys/types.h>

/* The envelope (everything before the content bytes) never exceeds this,
 * so a reader may always stop looking for it there (see queue.h). */
#define QUEUE_MAX_ENVELOPE (1024 * 1024)

/* Format an error message into this thread's buffer (queue.c) and return
 * it, for *error_r. */
const char *queue_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* fsync the directory dir: 0, or -1 with *error_r. */
int queue_fsync_dir(const char *dir, const char **error_r);
/* pread exactly len bytes at off: 0, or -1 on error or end of file. */
int queue_read_exactly(int fd, void *buf, size_t len, off_t off);

#endif

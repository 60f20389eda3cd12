/*
 * Replacing a whole file atomically: the new content goes into a
 * temporary file beside it, is fsync'd and renamed over the old one, and
 * the directory is fsync'd. A reader sees the old content or the new,
 * never a mix, and a crash leaves one of the two. For files admins and
 * programs both edit (main.conf by mailctl config -e, the user source).
 */
#ifndef POSTERN_UTIL_FILE_REPLACE_H
#define POSTERN_UTIL_FILE_REPLACE_H

#include <stddef.h>
#include <sys/types.h>

/* Replace path with len bytes of data; the file gets mode, and the group
 * gid unless it is (gid_t)-1. 0, or -1 with *error_r (valid until the
 * thread's next call): then the old file is untouched, except when only
 * the directory's fsync failed (the new content is in place, but may not
 * survive a crash). */
int file_replace(const char *path, const void *data, size_t len, mode_t mode, gid_t gid,
                 const char **error_r);

#endif

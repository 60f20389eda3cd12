/*
 * Making directory entries durable: after a file is created, renamed or
 * removed, the directory that holds it is fsync'd before anyone is told.
 */
#ifndef POSTERN_UTIL_DIR_SYNC_H
#define POSTERN_UTIL_DIR_SYNC_H

/* fsync the directory at path: 0, or -1 with errno set. */
int dir_sync(const char *path);
/* fsync the directory that holds path: 0, or -1 with errno set. */
int dir_sync_parent(const char *path);

#endif

/*
 * Making directory entries durable: after a file is created, renamed or
 * removed, the directory that holds it is fsync'd before anyone is told,
 * unless the file system is known to have made the entry durable with
 * the file's own fsync (fs_journal_ordered).
 */
#ifndef POSTERN_UTIL_DIR_SYNC_H
#define POSTERN_UTIL_DIR_SYNC_H

#include <stdbool.h>

/* fsync the directory at path: 0, or -1 with errno set. */
int dir_sync(const char *path);
/* fsync the directory that holds path: 0, or -1 with errno set. */
int dir_sync_parent(const char *path);

/*
 * Whether the file system holding the open file fd is ext4 with a journal
 * in data=ordered or data=journal mode. There, a link or rename of a file
 * changes the file's inode in the same journal transaction as the
 * directory entry, and the file's fsync waits for that transaction's
 * commit: the fsync of the file, made after its link or rename, has made
 * the name durable too, and a directory fsync adds nothing. The journal
 * also writes a file's data before the commit that holds a new name of
 * it. False elsewhere (no journal, data=writeback, other file systems)
 * and when it cannot be told (no /proc or /sys): then the directory is
 * fsync'd. Read from /proc/fs/ext4/DEVICE/options once per file system
 * and thread.
 */
bool fs_journal_ordered(int fd);
/* The test behind it, on the text of an ext4 options file (for tests). */
bool fs_journal_options_ordered(const char *options);

#endif

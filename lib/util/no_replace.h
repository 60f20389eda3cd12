/*
 * Moving a file to a new name without ever replacing a file there:
 * renameat2(RENAME_NOREPLACE), or where the file system lacks it (EINVAL,
 * ENOSYS) link() and unlink() of the old name. Used wherever a finished
 * file goes into place (queue files, Maildir messages).
 */
#ifndef POSTERN_UTIL_NO_REPLACE_H
#define POSTERN_UTIL_NO_REPLACE_H

/* Move from to to: 0, or -1 with errno (EEXIST: to exists, and from is
 * then still there). */
int rename_no_replace(const char *from, const char *to);
/* The same with names relative to directory descriptors (AT_FDCWD: the
 * current directory), as renameat2. */
int rename_no_replace_at(int from_dir, const char *from, int to_dir, const char *to);

#endif

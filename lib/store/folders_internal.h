/*
 * What the files of the folders module (folders.c, folders_names.c,
 * folders_change.c, folders_subscriptions.c) share with each other and
 * nothing else: programs include store/folders.h.
 */
#ifndef POSTERN_STORE_FOLDERS_INTERNAL_H
#define POSTERN_STORE_FOLDERS_INTERNAL_H

#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>

#include "store/folders.h"
#include "util/str.h"

/* A folder being deleted is first renamed to ROOT/..postern-deleted.*:
 * no folder maps there (its name would start with an empty component),
 * and listings skip it. */
#define FOLDERS_TRASH_PREFIX "..postern-deleted."

/* ---- Errors and names (folders_names.c) ---- */

/* Set *error_r and errno = err; return -1. The arguments may point into
 * the module's error buffer (an error passed on). */
int folders_fail(int err, const char **error_r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A folder name fit to quote in a message: control characters as \xHH,
 * at most about 200 bytes. Valid until the thread's next call. */
const char *folders_quoted(const char *name);
/* The on-disk form of a folder name (its directory name without the
 * leading '.'; "INBOX" for INBOX, with *inbox_r set) into storage. 0, or
 * -1 (EINVAL) with *error_r. */
int folders_name_to_storage(const char *name, struct str *storage, bool *inbox_r,
                            const char **error_r);
/* The folder name that the on-disk form storage (len bytes) stands for,
 * into name; only a canonical form is taken. 0, or -1 (EINVAL) with
 * *error_r. */
int folders_storage_to_name(const char *storage, size_t len, struct str *name,
                            const char **error_r);

/* ---- Lists and directories (folders.c) ---- */

/* Append a copy of name to list->names. */
void folders_add_name(struct folders_list *list, const char *name);
/* Append a formatted message to list->skipped. */
void folders_add_skipped(struct folders_list *list, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* qsort comparison of two char * (strcmp). */
int folders_compare_names(const void *a, const void *b);
/* Whether name at dir_fd is a directory (not following symlinks). */
bool folders_is_dir_at(int dir_fd, const char *name);
/* Whether a directory entry is a directory (not following symlinks). */
bool folders_entry_is_dir(DIR *dir, const struct dirent *de);

#endif

/*
 * Postfix-style table sources: the text files admins keep (aliases maps,
 * access maps, transport maps ...) that are compiled into LMDB tables.
 *
 * Format: one "key value" entry per logical line, key and value separated
 * by white space (the value is the rest of the line, trailing white space
 * removed). Lines whose first non-blank character is '#' are comments;
 * blank lines are ignored. A line that starts with white space continues
 * the previous logical line (joined with one space). Keys are stored as
 * given (no case folding).
 *
 * Errors (each names file:line): a key without a value, a continuation
 * line with nothing to continue, a NUL byte, a key longer than
 * TABLE_MAX_KEY. Warnings: a duplicate key (the first entry wins, as with
 * Postfix's postmap).
 */
#ifndef POSTERN_TABLE_TABLE_SOURCE_H
#define POSTERN_TABLE_TABLE_SOURCE_H

#include <stddef.h>
#include <sys/types.h>

#include "conf/diag.h"

struct table_source_entry {
	char *key;
	char *value;
	int line; /* where the logical line starts */
};

struct table_source {
	struct table_source_entry *items; /* duplicates already dropped */
	size_t count, cap;
};

void table_source_init(struct table_source *src);
void table_source_free(struct table_source *src);

/* Parse text (filename is used in diagnostics) and append its entries.
 * Returns 0, or -1 if any error was added to diags. Pure: no I/O. */
int table_source_parse(struct table_source *src, const char *filename, const char *text, size_t len,
                       struct diag_list *diags);
/* Read and parse a file; an unreadable file is an error naming the path. */
int table_source_read(struct table_source *src, const char *path, struct diag_list *diags);

/* Read source_path and, only if it has no errors, build dest_path from it
 * (mode and group as for table_builder_write_lmdb(); when run as root the
 * table gets the source file's owner, and its group unless group is given).
 * Returns 0, or -1 with the reasons in diags; on -1 the old dest_path is
 * untouched. */
int table_source_compile(const char *source_path, const char *dest_path, mode_t mode, gid_t group,
                         struct diag_list *diags);

#endif

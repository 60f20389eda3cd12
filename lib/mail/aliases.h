/*
 * aliases(5) source files, the Postfix/sendmail format, and the compact
 * form in which one alias's targets are stored as a table value.
 *
 * Source format: "name: target, target, ..." per logical line. A line that
 * starts with white space continues the previous logical line (joined with
 * one space); lines whose first non-blank character is '#' and blank lines
 * are skipped (also inside a continued entry). The name may be quoted
 * ("john doe": ...); it is stored lower-cased. Targets are separated by
 * commas outside double quotes and are one of:
 *   |command args      a command (also written "|command args")
 *   /path/file         a file to append to (also quoted)
 *   :include:/path     a file with more targets (path must be absolute)
 *   address            anything else; surrounding <> are removed, quotes
 *                      inside an address ("a b"@example.com) are kept
 * Empty list items (a,,b) are skipped. Errors name file:line and drop the
 * entry: no ':' after the name, an empty or over-long (TABLE_MAX_KEY)
 * name, an unterminated quote, no targets, an empty command or include
 * path, white space in an unquoted address, a NUL byte, a continuation line
 * with nothing to continue. A duplicate name is a warning; the first wins.
 */
#ifndef POSTERN_MAIL_ALIASES_H
#define POSTERN_MAIL_ALIASES_H

#include <stddef.h>

#include "conf/diag.h"

enum alias_target_type {
	ALIAS_ADDRESS, /* value: the address */
	ALIAS_COMMAND, /* value: the command line, without the '|' */
	ALIAS_FILE,    /* value: the absolute path */
	ALIAS_INCLUDE, /* value: the absolute path, without ":include:" */
};

struct alias_target {
	enum alias_target_type type;
	char *value; /* never empty; never contains NUL or a newline */
};

struct alias_entry {
	char *name; /* lower-cased */
	struct alias_target *targets;
	size_t target_count, target_cap;
	int line; /* where the logical line starts */
};

struct alias_list {
	struct alias_entry *items; /* duplicates already dropped */
	size_t count, cap;
};

void alias_list_init(struct alias_list *list);
void alias_list_free(struct alias_list *list);

/* Parse aliases source text (filename is used in diagnostics) and append
 * its entries to list. Returns 0, or -1 if any error was added. Pure. */
int aliases_parse(struct alias_list *list, const char *filename, const char *text, size_t len,
                  struct diag_list *diags);

/* Parse a target list as found in a ~/.forward or :include: file: the
 * same targets as an alias value, separated by commas or newlines; blank
 * lines and lines starting with '#' are skipped; a quoted item must end on
 * its line. Targets are appended to entry (its name is left alone); an
 * empty list is no error. Returns 0, or -1 if any error (naming file:line)
 * was added; the targets of good lines are kept even then. Pure. */
int aliases_parse_list(struct alias_entry *entry, const char *filename, const char *text,
                       size_t len, struct diag_list *diags);
void alias_entry_clear(struct alias_entry *entry);

/* ---- The stored form of one entry's targets ----
 * One target per line: a type letter ('a' address, 'c' command, 'f' file,
 * 'i' include), ':', the value, '\n'; '\\' and newline in a value are
 * written as "\\\\" and "\\n". Example: "a:joe@example.com\nc:/bin/x y\n". */

/* The stored form of targets[0..count-1] (a fresh string). */
char *alias_targets_serialize(const struct alias_target *targets, size_t count);
/* Parse a stored value back. 0 with a fresh array in *targets_r (free with
 * alias_targets_free) and *count_r >= 1, or -1 with *error_r (static). */
int alias_targets_parse(const char *value, size_t len, struct alias_target **targets_r,
                        size_t *count_r, const char **error_r);
void alias_targets_free(struct alias_target *targets, size_t count);

const char *alias_target_type_name(enum alias_target_type type);

#endif

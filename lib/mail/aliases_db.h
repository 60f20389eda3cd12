/*
 * The compiled aliases table: an aliases(5) source turned into an LMDB
 * table (name -> stored target list, see aliases.h), and the look-up local
 * does in it. Compiling is all-or-nothing: a source with any error leaves
 * the previous table in place and in use.
 */
#ifndef POSTERN_MAIL_ALIASES_DB_H
#define POSTERN_MAIL_ALIASES_DB_H

#include <stddef.h>

#include "conf/diag.h"
#include "mail/aliases.h"
#include "table/table.h"

/* The compiled table's name for a source: SOURCE.lmdb (a fresh string). */
char *aliases_db_path(const char *source_path);

/* Read and parse source_path and, only if it has no errors, write the
 * table dest_path atomically (mode 0644; when run as root, owned by the
 * source file's owner and group, whose privileges local then uses for the
 * table's commands and files). Returns 0 with *count_r aliases written, or
 * -1 with the reasons (file:line) in diags and dest_path untouched. */
int aliases_db_compile(const char *source_path, const char *dest_path, size_t *count_r,
                       struct diag_list *diags);

/* Look up name (already lower-cased) in an open aliases table: 1 with a
 * fresh target array (free with alias_targets_free), 0 when there is no
 * such alias, -1 with *error_r on a failed look-up or a corrupt value. */
int aliases_db_lookup(struct table *t, const char *name, struct alias_target **targets_r,
                      size_t *count_r, const char **error_r);

#endif

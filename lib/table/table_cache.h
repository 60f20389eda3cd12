/*
 * A process's open tables, found by their spec: a daemon that looks keys
 * up in tables named by its settings opens each table at its first
 * look-up and keeps it open (lib/table notices a rebuilt LMDB file; a
 * regexp: table is read again only when it is opened again). At most
 * TABLE_CACHE_SLOTS tables are open at once; one more closes the table in
 * the first slot, which is opened again when next wanted. A table that
 * cannot be opened is not remembered: the next look-up tries again.
 *
 * One cache per process, for single-threaded programs.
 */
#ifndef POSTERN_TABLE_TABLE_CACHE_H
#define POSTERN_TABLE_TABLE_CACHE_H

#include <stdbool.h>

#include "util/str.h"

#define TABLE_CACHE_SLOTS 8

/* Look key up in the table spec names. 1 found (value set), 0 not found,
 * -1 when the table cannot be opened or read, with *error_r ("table SPEC:
 * what went wrong", or "table SPEC: lookup KEY: what went wrong"; valid
 * until the next call). With missing_is_empty, a table whose file does not
 * exist finds nothing. */
int table_cache_lookup(const char *spec, const char *key, bool missing_is_empty, struct str *value,
                       const char **error_r);

/* Close every open table. */
void table_cache_close_all(void);

#endif

/*
 * mailctl map and mailctl alias: compile lookup-table and aliases sources
 * into LMDB and query the compiled tables (see map.c).
 */
#ifndef POSTERN_MAILCTL_MAP_H
#define POSTERN_MAILCTL_MAP_H

#include "mailctl/mailctl.h"

/* mailctl map build FILE... | query FILE KEY... . Returns the exit status. */
int cmd_map(struct mailctl *m, int argc, char **argv);
/* mailctl alias rebuild | query NAME... . Returns the exit status. */
int cmd_alias(struct mailctl *m, int argc, char **argv);

#endif

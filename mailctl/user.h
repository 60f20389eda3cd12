/*
 * mailctl user: keep the virtual user database (see user.c).
 */
#ifndef POSTERN_MAILCTL_USER_H
#define POSTERN_MAILCTL_USER_H

#include "mailctl/mailctl.h"

/* mailctl user add ADDRESS [--quota SIZE] | passwd ADDRESS | del ADDRESS |
 * list [--json] | rebuild. argv[0] is "user". Returns the exit status. */
int cmd_user(struct mailctl *m, int argc, char **argv);

#endif

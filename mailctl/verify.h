/*
 * mailctl verify: list and edit the address verification cache (see
 * verify.c).
 */
#ifndef POSTERN_MAILCTL_VERIFY_H
#define POSTERN_MAILCTL_VERIFY_H

#include "mailctl/mailctl.h"

/* mailctl verify list | delete ADDRESS... . Returns the exit status. */
int cmd_verify(struct mailctl *m, int argc, char **argv);

#endif

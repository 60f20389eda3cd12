/*
 * mailctl queue: list, show and delete queued mail (see queue.c).
 */
#ifndef POSTERN_MAILCTL_QUEUE_H
#define POSTERN_MAILCTL_QUEUE_H

#include "mailctl/mailctl.h"

/* mailctl queue [list] | show ID | delete ID|ALL. argv[0] is "queue".
 * Returns the exit status. */
int cmd_queue(struct mailctl *m, int argc, char **argv);

#endif

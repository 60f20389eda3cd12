/*
 * mailctl queue: list, show and delete queued mail (queue.c); hold,
 * release, requeue and flush it (queue_control.c); its shape by domain
 * and age (queue_shape.c).
 */
#ifndef POSTERN_MAILCTL_QUEUE_H
#define POSTERN_MAILCTL_QUEUE_H

#include "mailctl/mailctl.h"

/* mailctl queue [list] | show ID | delete ID|ALL. argv[0] is "queue".
 * Returns the exit status. */
int cmd_queue(struct mailctl *m, int argc, char **argv);

/* queue_control.c: mailctl queue hold|release|requeue|flush SELECTION.
 * Returns the exit status, or -1 if argv[1] is none of those. */
int cmd_queue_control(struct mailctl *m, int argc, char **argv);

/* queue_shape.c: mailctl queue shape [OPTIONS] [QUEUE...], qshape(1)'s
 * table of waiting recipients by domain and age. argv[1] is "shape". */
int cmd_queue_shape(struct mailctl *m, int argc, char **argv);

#endif

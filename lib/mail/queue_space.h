/*
 * Free space on the queue's file system, as Postfix's queue_minfree asks
 * smtpd (and here pickup too) to keep: mail is not taken while less than
 * the reserve is free, so that the queue, the logs and the tables never
 * fill their disk.
 */
#ifndef POSTERN_MAIL_QUEUE_SPACE_H
#define POSTERN_MAIL_QUEUE_SPACE_H

#include <stdbool.h>

/* Bytes free to unprivileged writers on queue_dir's file system into
 * *free_r: true; false (logged) if that cannot be told (the write itself
 * will tell then). */
bool queue_free_bytes(const char *queue_dir, long long *free_r);

#endif

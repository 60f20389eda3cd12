/*
 * This process's id without a system call each time: asked once, and
 * forgotten in a child made by fork() (pthread_atfork), which then asks
 * for its own. For code that names files or log lines per message.
 * A child made without fork() (raw clone) must not use it.
 */
#ifndef POSTERN_UTIL_SELF_PID_H
#define POSTERN_UTIL_SELF_PID_H

#include <sys/types.h>

pid_t self_pid(void);

#endif

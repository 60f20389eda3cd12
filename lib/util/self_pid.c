/*
 * This process's id, cached (self_pid.h).
 */
#include "util/self_pid.h"

#include <pthread.h>
#include <stdbool.h>
#include <unistd.h>

static pid_t cached_pid;

static void forget_pid(void)
{
	cached_pid = 0;
}

pid_t self_pid(void)
{
	static bool registered;
	if (!registered) {
		/* Without the handler a child would keep its parent's id. */
		if (pthread_atfork(NULL, NULL, forget_pid) != 0)
			return getpid();
		registered = true;
	}
	if (cached_pid == 0)
		cached_pid = getpid();
	return cached_pid;
}

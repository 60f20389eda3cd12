/*
 * This process's id, cached (self_pid.h).
 */
#include "util/self_pid.h"

#include <pthread.h>
#include <unistd.h>

static pid_t cached_pid;
static pthread_once_t registered = PTHREAD_ONCE_INIT;

/* At start and in every child fork() makes (it runs single-threaded). */
static void look_up_pid(void)
{
	__atomic_store_n(&cached_pid, getpid(), __ATOMIC_RELAXED);
}

static void register_child_handler(void)
{
	look_up_pid();
	/* Without the handler a child would keep its parent's id; if it cannot
	 * be registered, every call asks the kernel. */
	if (pthread_atfork(NULL, NULL, look_up_pid) != 0)
		__atomic_store_n(&cached_pid, 0, __ATOMIC_RELAXED);
}

pid_t self_pid(void)
{
	pthread_once(&registered, register_child_handler);
	pid_t pid = __atomic_load_n(&cached_pid, __ATOMIC_RELAXED);
	return pid != 0 ? pid : getpid();
}

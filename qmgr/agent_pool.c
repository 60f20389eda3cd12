/*
 * Connections to the delivery agents kept for the next delivery: once an
 * agent has answered a request in full ("done"), its connection waits
 * here for the next request to the same service, so that a busy queue
 * does not connect, have master wake twice to track the agent, and close
 * for every delivery. An agent waits two seconds for a next request
 * (lib/server); a connection idle here longer than POOL_IDLE_MS, or that
 * the agent has closed (max_use, retirement), is closed instead of used.
 * The delivery threads share the pool under a mutex.
 */
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qmgr/qmgr.h"
#include "util/alloc.h"
#include "util/event.h"

#define POOL_IDLE_MS 1000
#define POOL_MAX 64

struct pooled {
	char *service;
	int fd;
	int64_t since_ms;
};

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pooled pool[POOL_MAX];
static size_t pool_count;

static void drop(size_t i)
{
	close(pool[i].fd);
	free(pool[i].service);
	pool[i] = pool[--pool_count];
}

/* An agent never writes unasked: anything readable is its end of file. */
static bool still_open(int fd)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	return poll(&pfd, 1, 0) == 0;
}

int agent_pool_take(const char *service)
{
	int64_t now = event_now_ms();
	int fd = -1;
	pthread_mutex_lock(&pool_lock);
	/* The newest first, so that the others go idle and end. */
	for (size_t i = pool_count; i-- > 0;) {
		if (now - pool[i].since_ms > POOL_IDLE_MS) {
			drop(i);
			continue;
		}
		if (fd < 0 && strcmp(pool[i].service, service) == 0) {
			if (!still_open(pool[i].fd)) {
				drop(i);
				continue;
			}
			fd = pool[i].fd;
			pool[i].fd = -1;
			free(pool[i].service);
			pool[i] = pool[--pool_count];
		}
	}
	pthread_mutex_unlock(&pool_lock);
	return fd;
}

void agent_pool_put(const char *service, int fd)
{
	pthread_mutex_lock(&pool_lock);
	if (pool_count < POOL_MAX) {
		pool[pool_count++] = (struct pooled){xstrdup(service), fd, event_now_ms()};
		fd = -1;
	}
	pthread_mutex_unlock(&pool_lock);
	if (fd >= 0)
		close(fd);
}

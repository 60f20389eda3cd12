/*
 * Delivery threads: qmgr works on several messages at once. The main
 * thread (the event loop: wake-ups, queue scans, the retry timer) moves a
 * message into active/ and submits its id; one of the worker threads runs
 * message_process() on it, start to finish, or until it parks it to wait
 * for room at a destination (limits.c), which submits it again with that
 * room reserved. Every message is in the hands of at most one thread, and
 * each thread writes only the status logs of its own messages, so qmgr
 * stays the single writer of recipient state. Parked messages count as in
 * flight.
 * When a worker finishes a message it wakes the main thread through a pipe
 * (to take more mail within qmgr_message_active_limit) and reports the
 * earliest retry time of what it deferred (for the retry timer).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qmgr/qmgr.h"
#include "util/alloc.h"
#include "util/log.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work_ready = PTHREAD_COND_INITIALIZER;
struct work {
	char id[QUEUE_ID_LEN + 1];
	bool retry_now;               /* an admin asked for it: restart the back-off */
	struct limit_claim *reserved; /* coming off the parked list */
	int64_t since;                /* then: when its round of attempts began */
};

static struct work *pending; /* ring buffer */
static size_t pending_cap, pending_head, pending_count;
static size_t busy;            /* messages being worked on */
static size_t parked;          /* waiting for room (limits.c) */
static int64_t earliest_retry; /* 0: none reported since the last take */
static bool new_mail;          /* a thread queued mail into incoming/ */
static int wake_pipe[2] = {-1, -1};

static void *worker_main(void *arg)
{
	(void)arg;
	for (;;) {
		struct work w;
		pthread_mutex_lock(&lock);
		while (pending_count == 0)
			pthread_cond_wait(&work_ready, &lock);
		w = pending[pending_head];
		pending_head = (pending_head + 1) % pending_cap;
		pending_count--;
		busy++;
		pthread_mutex_unlock(&lock);

		limits_thread_begin(w.reserved, w.since);
		message_process(w.id, w.retry_now);
		limits_thread_end();

		pthread_mutex_lock(&lock);
		busy--;
		pthread_mutex_unlock(&lock);
		char byte = 1;
		if (write(wake_pipe[1], &byte, 1) < 0 && errno != EAGAIN)
			log_warn("cannot wake the qmgr main thread: %m");
	}
	return NULL;
}

int workers_start(size_t count, const char **error_r)
{
	if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
		*error_r = strerror(errno);
		return -1;
	}
	/* Signals are for the main thread. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int rc = 0;
	for (size_t i = 0; i < count && rc == 0; i++) {
		pthread_t t;
		rc = pthread_create(&t, NULL, worker_main, NULL);
		if (rc == 0)
			pthread_detach(t);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		*error_r = strerror(rc);
		return -1;
	}
	return 0;
}

int workers_wake_fd(void)
{
	return wake_pipe[0];
}

/* Counts moved under the one lock, so that a message is never seen in
 * neither state (main.c looks for files left in active/ when nothing is
 * in flight). */
static void submit(const char *id, bool retry_now, struct limit_claim *reserved, int64_t since)
{
	pthread_mutex_lock(&lock);
	if (reserved != NULL)
		parked--;
	if (pending_count == pending_cap) {
		size_t cap = pending_cap ? pending_cap * 2 : 256;
		struct work *grown = xcalloc(cap, sizeof(*grown));
		for (size_t i = 0; i < pending_count; i++)
			grown[i] = pending[(pending_head + i) % pending_cap];
		free(pending);
		pending = grown;
		pending_cap = cap;
		pending_head = 0;
	}
	struct work *w = &pending[(pending_head + pending_count) % pending_cap];
	memcpy(w->id, id, QUEUE_ID_LEN);
	w->id[QUEUE_ID_LEN] = '\0';
	w->retry_now = retry_now;
	w->reserved = reserved;
	w->since = since;
	pending_count++;
	pthread_cond_signal(&work_ready);
	pthread_mutex_unlock(&lock);
}

void workers_submit(const char *id, bool retry_now)
{
	submit(id, retry_now, NULL, 0);
}

void workers_submit_reserved(const char *id, struct limit_claim *reserved, int64_t since)
{
	submit(id, false, reserved, since);
}

void workers_count_parked(void)
{
	pthread_mutex_lock(&lock);
	parked++;
	pthread_mutex_unlock(&lock);
}

size_t workers_in_flight(void)
{
	pthread_mutex_lock(&lock);
	size_t n = pending_count + busy + parked;
	pthread_mutex_unlock(&lock);
	return n;
}

void qmgr_deferred_until(int64_t when)
{
	pthread_mutex_lock(&lock);
	if (earliest_retry == 0 || when < earliest_retry)
		earliest_retry = when;
	pthread_mutex_unlock(&lock);
}

void qmgr_queued_mail(void)
{
	pthread_mutex_lock(&lock);
	new_mail = true;
	pthread_mutex_unlock(&lock);
}

int64_t workers_take_wakeups(bool *new_mail_r)
{
	char buf[256];
	while (read(wake_pipe[0], buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&lock);
	int64_t when = earliest_retry;
	earliest_retry = 0;
	*new_mail_r = new_mail;
	new_mail = false;
	pthread_mutex_unlock(&lock);
	return when;
}

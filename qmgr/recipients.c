/*
 * The bound on recipients qmgr holds in memory (qmgr_message_recipient_
 * limit, as in Postfix): every delivery thread claims room here for the
 * recipients it reads from a queue file and gives it back when it has
 * recorded their results. A message with more recipients than there is
 * room for is worked on in slices (message.c), each claimed in turn; a
 * thread holds no room while it waits for more, so claims never deadlock,
 * and a claim is granted as soon as QMGR_RCPT_MINIMUM recipients (or the
 * whole rest of the message, or the whole limit if smaller) are free, so
 * a big message is never stalled for good by small ones. A thread may
 * also take room before it knows how many recipients a message has (up
 * to its share of the limit, never while another waits): when the
 * message fits, one reading of the file serves it whole.
 */
#include <pthread.h>
#include <stdint.h>

#include "qmgr/qmgr.h"

/* Postfix's qmgr_message_recipient_minimum. */
#define QMGR_RCPT_MINIMUM 10

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t freed = PTHREAD_COND_INITIALIZER;
static int64_t limit; /* 0: none */
static size_t in_use;
static size_t waiting; /* threads waiting in recipients_claim */
static size_t share;   /* the most recipients_claim_free takes */

void recipients_init(int64_t value, size_t threads)
{
	limit = value > 0 ? value : 0;
	/* Each delivery thread's share, so that the threads taking room
	 * before they know how much they need do not crowd each other out. */
	share = threads > 0 ? (size_t)limit / threads : (size_t)limit;
	if (share < QMGR_RCPT_MINIMUM)
		share = QMGR_RCPT_MINIMUM;
}

size_t recipients_claim(size_t want)
{
	if (want == 0)
		return 0;
	pthread_mutex_lock(&lock);
	size_t granted = want;
	if (limit > 0) {
		size_t max = (size_t)limit;
		size_t least = want < QMGR_RCPT_MINIMUM ? want : QMGR_RCPT_MINIMUM;
		if (least > max)
			least = max;
		waiting++;
		while (in_use + least > max)
			pthread_cond_wait(&freed, &lock);
		waiting--;
		if (granted > max - in_use)
			granted = max - in_use;
	}
	in_use += granted;
	pthread_mutex_unlock(&lock);
	return granted;
}

size_t recipients_claim_free(void)
{
	if (limit == 0)
		return SIZE_MAX;
	pthread_mutex_lock(&lock);
	size_t max = (size_t)limit, granted = 0;
	/* A thread waiting for room goes first: taking it all here, even for
	 * a moment, could keep a big message waiting for good. */
	if (waiting == 0 && in_use < max)
		granted = max - in_use < share ? max - in_use : share;
	in_use += granted;
	pthread_mutex_unlock(&lock);
	return granted;
}

void recipients_keep(size_t taken, size_t kept)
{
	if (limit == 0) {
		/* Nothing was counted yet (see recipients_claim_free). */
		pthread_mutex_lock(&lock);
		in_use += kept;
		pthread_mutex_unlock(&lock);
		return;
	}
	recipients_release(taken - kept);
}

void recipients_release(size_t count)
{
	pthread_mutex_lock(&lock);
	in_use -= count < in_use ? count : in_use;
	pthread_cond_broadcast(&freed);
	pthread_mutex_unlock(&lock);
}

size_t recipients_in_memory(void)
{
	pthread_mutex_lock(&lock);
	size_t n = in_use;
	pthread_mutex_unlock(&lock);
	return n;
}

int64_t recipients_limit(void)
{
	return limit;
}

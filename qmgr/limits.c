/*
 * Concurrency limits of deliveries, as in Postfix: per transport, the
 * process limit of its service in master.conf ('-' means
 * default_process_limit, 0 no limit); per destination within a transport,
 * TRANSPORT_destination_concurrency_limit (unset:
 * default_destination_concurrency_limit); both as transports.c read them.
 * An smtp transport's destination is the next hop, so that all mail
 * through one relayhost or transport_maps host shares its limit; a local
 * one's is the recipient domain. A delivery claims its transport and
 * every destination of its recipients at once (all or nothing, so claims
 * never deadlock): the keys are "TRANSPORT" and "TRANSPORT:destination".
 *
 * A claim that does not fit never holds up its delivery thread: those
 * recipients are put off, the thread goes on with the rest of the message,
 * and then the message is parked here, in active/, waiting for the claim
 * it could not make. A release hands the room it frees to the parked
 * messages whose claim now fits, first come first served: the claim is
 * taken for the message (a reservation) and the message goes back to the
 * delivery threads, where its delivery uses the reservation. So mail for
 * one busy destination waits in line for that destination alone, while
 * every thread stays free for mail to the others (Postfix's qmgr keeps a
 * queue per destination for the same reason). Parked messages wait in one
 * line per set of keys: all claims in a line are alike, so when its first
 * does not fit none does, and a release looks at each line's first
 * message only, however many thousands wait behind it.
 *
 * TRANSPORT_destination_rate_delay (unset: default_destination_rate_delay)
 * spaces deliveries to one destination, as Postfix's: with a delay, one
 * delivery at a time goes to it, and the next only that long after the
 * last one ended. A claim that is early waits parked like one without
 * room; main.c's timer calls limits_tick at limits_next_due to let it go.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qmgr/qmgr.h"
#include "util/alloc.h"
#include "util/log.h"

struct counter {
	char *key; /* "transport" or "transport:domain" */
	int64_t count;
};

struct limit_claim {
	char **keys; /* keys[0] is the transport */
	size_t count;
	int64_t transport_limit;
	int64_t destination_limit; /* of the other keys */
	int64_t rate_delay;        /* seconds between deliveries to each of them */
};

/* When a paced destination may take its next delivery. */
struct pace {
	char *key;
	int64_t not_before; /* unix seconds */
};

/* A message waiting in active/ for room for a claim. */
struct parked {
	char id[QUEUE_ID_LEN + 1];
	struct limit_claim *claim;
	int64_t since; /* when its first attempt of this round began */
	struct parked *next;
};

/* The parked messages whose claims have the same keys, in arrival order. */
struct parked_line {
	struct parked *head, **tail;
	struct parked_line *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct parked_line *lines; /* in the order they began */
/* The delivery thread's message: the claim reserved for it when it was
 * taken off the parked list, and the first claim it could not make. */
static _Thread_local struct limit_claim *thread_reserved, *thread_postponed;
static _Thread_local int64_t thread_since; /* of the round of attempts */
static _Thread_local bool thread_resumed;  /* came off the parked list */
static struct counter *counters;
static size_t counter_count, counter_cap;
static struct pace *paces;
static size_t pace_count, pace_cap;

static struct pace *find_pace(const char *key)
{
	for (size_t i = 0; i < pace_count; i++)
		if (strcmp(paces[i].key, key) == 0)
			return &paces[i];
	return NULL;
}

/* The destination keys of c may take no delivery before now + delay. */
static void set_pace(const struct limit_claim *c, int64_t now)
{
	for (size_t i = 1; i < c->count; i++) {
		struct pace *p = find_pace(c->keys[i]);
		if (p == NULL) {
			if (pace_count == pace_cap) {
				pace_cap = pace_cap ? pace_cap * 2 : 16;
				paces = xreallocarray(paces, pace_cap, sizeof(*paces));
			}
			p = &paces[pace_count++];
			p->key = xstrdup(c->keys[i]);
		}
		p->not_before = now + c->rate_delay;
	}
}

/* Forget the paces that are over. Lock held. */
static void prune_paces(int64_t now)
{
	for (size_t i = 0; i < pace_count;) {
		if (paces[i].not_before <= now) {
			free(paces[i].key);
			paces[i] = paces[--pace_count];
		} else {
			i++;
		}
	}
}

static struct counter *find(const char *key, bool create)
{
	for (size_t i = 0; i < counter_count; i++)
		if (strcmp(counters[i].key, key) == 0)
			return &counters[i];
	if (!create)
		return NULL;
	if (counter_count == counter_cap) {
		counter_cap = counter_cap ? counter_cap * 2 : 16;
		counters = xreallocarray(counters, counter_cap, sizeof(*counters));
	}
	counters[counter_count] = (struct counter){xstrdup(key), 0};
	return &counters[counter_count++];
}

static bool fits(const struct limit_claim *c)
{
	int64_t now = c->rate_delay > 0 ? (int64_t)time(NULL) : 0;
	for (size_t i = 0; i < c->count; i++) {
		int64_t limit = i == 0 ? c->transport_limit : c->destination_limit;
		struct counter *k = find(c->keys[i], false);
		if (limit > 0 && k != NULL && k->count >= limit)
			return false;
		struct pace *p = i > 0 && c->rate_delay > 0 ? find_pace(c->keys[i]) : NULL;
		if (p != NULL && p->not_before > now)
			return false;
	}
	return true;
}

/* Count a claim in. Called with the lock held, when it fits. */
static void take(const struct limit_claim *c)
{
	for (size_t i = 0; i < c->count; i++)
		find(c->keys[i], true)->count++;
}

static void add_key(struct limit_claim *c, char *key)
{
	for (size_t i = 0; i < c->count; i++)
		if (strcmp(c->keys[i], key) == 0) {
			free(key);
			return;
		}
	c->keys[c->count++] = key;
}

/* "transport:destination", lower case. */
static char *destination_key(const char *transport, const char *destination)
{
	char *key = xasprintf("%s:%s", transport, destination);
	for (char *p = key; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return key;
}

static void claim_free(struct limit_claim *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->count; i++)
		free(c->keys[i]);
	free(c->keys);
	free(c);
}

static bool same_keys(const struct limit_claim *a, const struct limit_claim *b)
{
	if (a->count != b->count)
		return false;
	for (size_t i = 0; i < a->count; i++)
		if (strcmp(a->keys[i], b->keys[i]) != 0)
			return false;
	return true;
}

/* Parked messages whose claim fits now, taken off their lines with their
 * claim counted in, each line in the order its messages came. Called with
 * the lock held. */
static struct parked *unpark_fitting(void)
{
	struct parked *out = NULL, **out_tail = &out;
	struct parked_line **link = &lines;
	while (*link != NULL) {
		struct parked_line *line = *link;
		while (line->head != NULL && fits(line->head->claim)) {
			struct parked *p = line->head;
			take(p->claim);
			line->head = p->next;
			p->next = NULL;
			*out_tail = p;
			out_tail = &p->next;
		}
		if (line->head == NULL) {
			*link = line->next;
			free(line);
		} else {
			link = &line->next;
		}
	}
	return out;
}

/* Put p at the end of the line for its claim's keys. Lock held. */
static void park_in_line(struct parked *p)
{
	struct parked_line **link = &lines;
	while (*link != NULL && !same_keys((*link)->head->claim, p->claim))
		link = &(*link)->next;
	if (*link == NULL) {
		struct parked_line *line = xcalloc(1, sizeof(*line));
		line->tail = &line->head;
		*link = line;
	}
	*(*link)->tail = p;
	(*link)->tail = &p->next;
}

/* Back to the delivery threads, each with its reservation. */
static void resubmit(struct parked *list)
{
	while (list != NULL) {
		struct parked *p = list;
		list = p->next;
		workers_submit_reserved(p->id, p->claim, p->since);
		free(p);
	}
}

static void uncount(const struct limit_claim *c)
{
	for (size_t i = 0; i < c->count; i++) {
		struct counter *k = find(c->keys[i], false);
		if (k != NULL && --k->count <= 0) {
			free(k->key);
			*k = counters[--counter_count];
		}
	}
}

struct limit_claim *limits_claim(const struct transport *transport, const char *nexthop,
                                 const struct queue_envelope *env, const size_t *indexes,
                                 size_t count)
{
	struct limit_claim *c = xcalloc(1, sizeof(*c));
	c->keys = xcalloc(count + 1, sizeof(*c->keys));
	c->destination_limit = transport->destination_limit;
	c->transport_limit = transport->process_limit;
	c->rate_delay = transport->rate_delay;
	if (c->rate_delay > 0)
		c->destination_limit = 1; /* one at a time, then the delay */
	add_key(c, xstrdup(transport->name));
	if (nexthop != NULL && *nexthop) {
		add_key(c, destination_key(transport->name, nexthop));
	} else {
		for (size_t i = 0; i < count; i++) {
			const char *at = strrchr(env->rcpts[indexes[i]].address, '@');
			add_key(c, destination_key(transport->name, at ? at + 1 : ""));
		}
	}
	if (thread_reserved != NULL && same_keys(thread_reserved, c)) {
		/* Counted in when the message left the parked list. */
		claim_free(c);
		c = thread_reserved;
		thread_reserved = NULL;
		return c;
	}
	/* A reservation for other keys (the recipients came in another
	 * slice) gives its room back first: this claim may take it. */
	struct limit_claim *unused = thread_reserved;
	thread_reserved = NULL;
	pthread_mutex_lock(&lock);
	if (unused != NULL)
		uncount(unused);
	bool ok = fits(c);
	if (ok)
		take(c);
	struct parked *ready = unused != NULL ? unpark_fitting() : NULL;
	pthread_mutex_unlock(&lock);
	claim_free(unused);
	resubmit(ready);
	if (ok)
		return c;
	if (thread_postponed == NULL)
		thread_postponed = c;
	else
		claim_free(c);
	return NULL;
}

/* Give c's room back; delivered: a delivery used it (a paced destination
 * then waits its delay). */
static void release(struct limit_claim *c, bool delivered)
{
	if (c == NULL)
		return;
	int64_t due = 0;
	pthread_mutex_lock(&lock);
	uncount(c);
	if (delivered && c->rate_delay > 0) {
		int64_t now = (int64_t)time(NULL);
		prune_paces(now);
		set_pace(c, now);
		due = now + c->rate_delay;
	}
	struct parked *ready = unpark_fitting();
	pthread_mutex_unlock(&lock);
	claim_free(c);
	resubmit(ready);
	/* Those that wait for the delay are let go by main.c's timer. */
	if (due > 0)
		qmgr_deferred_until(due);
}

void limits_release(struct limit_claim *c)
{
	release(c, true);
}

void limits_tick(void)
{
	pthread_mutex_lock(&lock);
	prune_paces((int64_t)time(NULL));
	struct parked *ready = unpark_fitting();
	pthread_mutex_unlock(&lock);
	resubmit(ready);
}

int64_t limits_next_due(void)
{
	int64_t due = 0;
	pthread_mutex_lock(&lock);
	if (lines != NULL)
		for (size_t i = 0; i < pace_count; i++)
			if (due == 0 || paces[i].not_before < due)
				due = paces[i].not_before;
	pthread_mutex_unlock(&lock);
	return due;
}

void limits_thread_begin(struct limit_claim *reserved, int64_t since)
{
	thread_reserved = reserved;
	thread_postponed = NULL;
	thread_resumed = since > 0;
	thread_since = since > 0 ? since : (int64_t)time(NULL);
}

int64_t limits_thread_resumed_since(void)
{
	return thread_resumed ? thread_since : 0;
}

bool limits_thread_postponed(void)
{
	return thread_postponed != NULL;
}

void limits_thread_end(void)
{
	/* A reservation its delivery did not use (its recipients went
	 * elsewhere, or are done): the room goes to the next in line. */
	release(thread_reserved, false);
	thread_reserved = NULL;
	claim_free(thread_postponed);
	thread_postponed = NULL;
}

void limits_park(const char *id)
{
	struct limit_claim *c = thread_postponed;
	thread_postponed = NULL;
	if (c == NULL)
		return;
	struct parked *p = xcalloc(1, sizeof(*p));
	snprintf(p->id, sizeof(p->id), "%s", id);
	p->claim = c;
	p->since = thread_since;
	workers_count_parked();
	pthread_mutex_lock(&lock);
	park_in_line(p);
	/* Room freed since the claim failed finds it here. */
	struct parked *ready = unpark_fitting();
	pthread_mutex_unlock(&lock);
	resubmit(ready);
}

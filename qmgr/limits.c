/*
 * Concurrency limits of deliveries, as in Postfix: per transport, the
 * process limit of its service in master.conf ('-' means
 * default_process_limit, 0 no limit); per destination within a transport,
 * TRANSPORT_destination_concurrency_limit (smtp, local; unset:
 * default_destination_concurrency_limit). smtp's destination is the next
 * hop, so that all mail through one relayhost or transport_maps host
 * shares its limit; local's is the recipient domain. A
 * delivery claims its transport and every destination of its recipients
 * at once, or waits until it can (all or nothing, so claims never
 * deadlock). Used by the delivery threads (workers.c). A claim that must
 * wait queues up with a condition variable of its own, and a release grants
 * the waiting claims that now fit (in the order they came) and wakes only
 * those: with many threads waiting for one busy destination, waking them
 * all at every release cost each delivery a context switch per waiter.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "conf/masterconf.h"
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
	int64_t destination_limit; /* of the other keys */
};

/* A claim waiting for room. */
struct waiter {
	struct limit_claim *claim;
	int64_t transport_limit;
	pthread_cond_t granted_cond;
	bool granted;
	struct waiter *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct waiter *waiters, **waiters_tail = &waiters;
static struct counter *counters;
static size_t counter_count, counter_cap;
static int64_t default_destination_limit, smtp_destination_limit, local_destination_limit;
static int64_t default_process_limit;
static struct service_list services;
static bool services_loaded;

/* TRANSPORT_destination_concurrency_limit, or the default when unset. */
static int64_t transport_destination_limit(const struct conf *conf, const char *transport)
{
	char *name = xasprintf("%s_destination_concurrency_limit", transport);
	int64_t limit = conf_get_int(
	    conf, conf_is_set(conf, name) ? name : "default_destination_concurrency_limit");
	free(name);
	return limit;
}

static int64_t destination_limit(const char *transport)
{
	if (strcmp(transport, "smtp") == 0)
		return smtp_destination_limit;
	if (strcmp(transport, "local") == 0)
		return local_destination_limit;
	return default_destination_limit;
}

void limits_init(const struct conf *conf)
{
	/* conf is read here only: its values are expanded lazily, not safe
	 * to share with the delivery threads. */
	default_process_limit = conf_get_int(conf, "default_process_limit");
	default_destination_limit = conf_get_int(conf, "default_destination_concurrency_limit");
	smtp_destination_limit = transport_destination_limit(conf, "smtp");
	local_destination_limit = transport_destination_limit(conf, "local");
	char *path = xasprintf("%s/master.conf", conf_get(conf, "config_directory"));
	struct diag_list diags;
	diag_list_init(&diags);
	service_list_init(&services);
	services_loaded = masterconf_load_file(path, &services, &diags) == 0;
	if (!services_loaded)
		log_warn("cannot read %s for the transport process limits; using "
		         "default_process_limit",
		         path);
	diag_list_free(&diags);
	free(path);
}

int64_t limits_transport(const char *transport)
{
	int64_t fallback = default_process_limit;
	for (size_t i = 0; services_loaded && i < services.count; i++) {
		const struct service_def *def = &services.items[i];
		if (def->type == SERVICE_UNIX && strcmp(def->name, transport) == 0)
			return def->max_proc < 0 ? fallback : def->max_proc;
	}
	return fallback;
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

static bool fits(const struct limit_claim *c, int64_t transport_limit)
{
	for (size_t i = 0; i < c->count; i++) {
		int64_t limit = i == 0 ? transport_limit : c->destination_limit;
		struct counter *k = find(c->keys[i], false);
		if (limit > 0 && k != NULL && k->count >= limit)
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

struct limit_claim *limits_claim(const char *transport, const char *nexthop,
                                 const struct queue_envelope *env, const size_t *indexes,
                                 size_t count)
{
	struct limit_claim *c = xcalloc(1, sizeof(*c));
	c->keys = xcalloc(count + 1, sizeof(*c->keys));
	c->destination_limit = destination_limit(transport);
	add_key(c, xstrdup(transport));
	if (nexthop != NULL && *nexthop) {
		add_key(c, destination_key(transport, nexthop));
	} else {
		for (size_t i = 0; i < count; i++) {
			const char *at = strrchr(env->rcpts[indexes[i]].address, '@');
			add_key(c, destination_key(transport, at ? at + 1 : ""));
		}
	}
	int64_t transport_limit = limits_transport(transport);
	pthread_mutex_lock(&lock);
	if (fits(c, transport_limit)) {
		take(c);
	} else {
		struct waiter w = {.claim = c, .transport_limit = transport_limit};
		pthread_cond_init(&w.granted_cond, NULL);
		*waiters_tail = &w;
		waiters_tail = &w.next;
		while (!w.granted)
			pthread_cond_wait(&w.granted_cond, &lock);
		pthread_cond_destroy(&w.granted_cond);
	}
	pthread_mutex_unlock(&lock);
	return c;
}

/* Grant the waiting claims that fit now, first come first served, and
 * wake each one granted. Called with the lock held. */
static void grant_waiters(void)
{
	struct waiter **link = &waiters;
	while (*link != NULL) {
		struct waiter *w = *link;
		if (!fits(w->claim, w->transport_limit)) {
			link = &w->next;
			continue;
		}
		take(w->claim);
		*link = w->next;
		if (waiters_tail == &w->next)
			waiters_tail = link;
		w->granted = true;
		pthread_cond_signal(&w->granted_cond);
	}
}

void limits_release(struct limit_claim *c)
{
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < c->count; i++) {
		struct counter *k = find(c->keys[i], false);
		if (k != NULL && --k->count <= 0) {
			free(k->key);
			*k = counters[--counter_count];
		}
		free(c->keys[i]);
	}
	grant_waiters();
	pthread_mutex_unlock(&lock);
	free(c->keys);
	free(c);
}

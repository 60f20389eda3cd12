/*
 * qmgr: the one queue manager. A persistent process on the MULTI skeleton,
 * running as mail_owner. At start it finishes what a crash left in active/,
 * then takes new mail from incoming/ (oldest first) and retries deferred
 * mail whose time has come, keeping at most qmgr_message_active_limit
 * messages in hand. Any connection to public/qmgr is a wake-up ("wakeup"
 * record) that takes new mail from incoming/ (flush=1 also retries all
 * deferred mail now); a timer wakes it when the next deferred message is
 * due, and at least every MAX_TIMER_SECONDS. This thread moves messages into
 * active/; the delivery threads (workers.c) deliver several at once,
 * within the concurrency limits of limits.c.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "qmgr/qmgr.h"
#include "server/server.h"
#include "util/alloc.h"
#include "util/ipc.h"
#include "util/log.h"

#define QUEUE_BATCH 1000
#define MAX_INCOMING_PASSES 100
#define MAX_THREADS 100
#define WAKEUP_READ_MS 200
#define SCAN_INTERVAL_MS 2
/* The longest the deferred timer sleeps. */
#define MAX_TIMER_SECONDS 3600

struct qmgr_settings qmgr;

static struct event_loop *loop;
static struct event_timer *deferred_timer;
static int64_t timer_due;    /* when deferred_timer fires */
static int64_t active_limit; /* qmgr_message_active_limit */
static bool backlog;         /* mail was left waiting for room */

/* Room for one more message in hand? If not, remember to look again. */
static bool have_room(void)
{
	if (active_limit <= 0 || workers_in_flight() < (size_t)active_limit)
		return true;
	backlog = true;
	return false;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Up to max entry names of queue_dir/sub, sorted (ids sort by arrival). */
static char **list_queue(const char *sub, size_t max, size_t *count_r)
{
	char *path = xasprintf("%s/%s", qmgr.queue_dir, sub);
	DIR *dir = opendir(path);
	char **names = NULL;
	size_t count = 0, cap = 0;
	if (dir == NULL)
		log_error("cannot open %s: %m", path);
	struct dirent *de;
	while (dir != NULL && count < max && (de = readdir(dir)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (count == cap) {
			cap = cap ? cap * 2 : 64;
			names = xreallocarray(names, cap, sizeof(*names));
		}
		names[count++] = xstrdup(de->d_name);
	}
	if (dir != NULL)
		closedir(dir);
	if (count > 1)
		qsort(names, count, sizeof(*names), compare_names);
	free(path);
	*count_r = count;
	return names;
}

static void free_names(char **names, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(names[i]);
	free(names);
}

/* Move sub/name into active/ and work on it. retry_now: an admin asked
 * for this attempt (see message_process). */
static void activate(const char *sub, const char *name, bool retry_now)
{
	if (!queue_id_valid(name)) {
		qmgr_move_corrupt(sub, name, "not a queue id");
		return;
	}
	if (strcmp(sub, "active") != 0) {
		char *src = xasprintf("%s/%s/%s", qmgr.queue_dir, sub, name);
		char *dst = xasprintf("%s/active/%s", qmgr.queue_dir, name);
		int rc = rename(src, dst);
		if (rc != 0 && errno != ENOENT)
			log_error("%s: cannot move %s to active/: %m", name, src);
		free(src);
		free(dst);
		if (rc != 0)
			return;
	}
	workers_submit(name, retry_now);
}

/* What a crash left in active/: the status logs say what is done. */
static void recover_active(void)
{
	size_t count;
	char **names = list_queue("active", SIZE_MAX, &count);
	for (size_t i = 0; i < count; i++)
		activate("active", names[i], false);
	free_names(names, count);
}

/* New mail, and deferred mail that mailctl (requeue, flush, release) put
 * back into incoming/: qmgr itself moves deferred mail straight to
 * active/, so a message here with a status log was asked for by an admin. */
static void scan_incoming(void)
{
	for (int pass = 0; pass < MAX_INCOMING_PASSES; pass++) {
		size_t count, taken = 0;
		char **names = list_queue("incoming", QUEUE_BATCH, &count);
		for (; taken < count && have_room(); taken++)
			activate("incoming", names[taken], true);
		free_names(names, count);
		if (count == 0 || taken < count)
			break;
	}
}

static void on_deferred_timer(struct event_loop *ev, void *ctx);

/* Wake-ups come with every accepted message; under load one listing of
 * incoming/ serves those of the next SCAN_INTERVAL_MS (a wake-up after a
 * quiet spell is served at once). */
static struct event_timer *scan_timer;
static int64_t last_scan_ms = -SCAN_INTERVAL_MS;

static void scan_now(void)
{
	last_scan_ms = event_now_ms();
	scan_incoming();
}

static void on_scan_timer(struct event_loop *ev, void *ctx)
{
	(void)ev;
	(void)ctx;
	scan_timer = NULL;
	scan_now();
}

static void wanted_scan(void)
{
	if (scan_timer != NULL)
		return; /* one is coming */
	int64_t wait = last_scan_ms + SCAN_INTERVAL_MS - event_now_ms();
	if (wait <= 0)
		scan_now();
	else
		scan_timer = event_add_timer(loop, wait, on_scan_timer, NULL);
}

/* Make sure the timer fires by due (unix seconds; 0: nothing). */
static void want_timer(int64_t due)
{
	if (due == 0 || (deferred_timer != NULL && timer_due <= due))
		return;
	if (deferred_timer != NULL)
		event_cancel_timer(loop, deferred_timer);
	int64_t delay = due - (int64_t)time(NULL);
	if (delay < 1)
		delay = 1;
	if (delay > MAX_TIMER_SECONDS)
		delay = MAX_TIMER_SECONDS;
	timer_due = (int64_t)time(NULL) + delay;
	deferred_timer = event_add_timer(loop, delay * 1000, on_deferred_timer, NULL);
}

/* Deferred mail a flush asked for that is still waiting for room. */
static char **flush_names;
static size_t flush_count, flush_done;

static void take_flushed(void)
{
	while (flush_done < flush_count && have_room())
		activate("deferred", flush_names[flush_done++], true);
	if (flush_done == flush_count) {
		free_names(flush_names, flush_count);
		flush_names = NULL;
		flush_count = flush_done = 0;
	}
}

/* Retry deferred messages that are due; with flush, all of them now
 * (those beyond qmgr_message_active_limit as soon as there is room). */
static void scan_deferred(bool flush)
{
	size_t count;
	char **names = list_queue("deferred", SIZE_MAX, &count);
	if (flush) {
		free_names(flush_names, flush_count);
		flush_names = names;
		flush_count = count;
		flush_done = 0;
		take_flushed();
		return;
	}
	take_flushed();
	for (size_t i = 0; i < count; i++) {
		struct status_log log;
		const char *error;
		int64_t now = (int64_t)time(NULL);
		int64_t due = now;
		if (queue_id_valid(names[i]) &&
		    status_log_load(names[i], 0, 0, &log, &error) == 0) {
			due = log.next_attempt;
			status_log_free(&log);
		}
		if (due <= now && have_room())
			activate("deferred", names[i], false);
		else
			want_timer(due > now ? due : now + 1);
	}
	free_names(names, count);
}

static void run_queue(bool flush)
{
	scan_incoming();
	scan_deferred(flush);
	scan_incoming(); /* notifications queued while retrying */
}

static void on_deferred_timer(struct event_loop *ev, void *ctx)
{
	(void)ev;
	(void)ctx;
	deferred_timer = NULL;
	timer_due = 0;
	run_queue(false);
	/* A safety net: deferred/ is looked at again within the longest wait
	 * even when nothing there is due. */
	want_timer((int64_t)time(NULL) + MAX_TIMER_SECONDS);
}

/* A delivery thread finished a message: time the next retry, and take
 * more mail if some was left waiting for room. */
static void on_worker_done(struct event_loop *ev, int fd, int events, void *ctx)
{
	(void)ev;
	(void)fd;
	(void)events;
	(void)ctx;
	bool new_mail;
	want_timer(workers_take_wakeups(&new_mail));
	if (backlog && workers_in_flight() < (size_t)active_limit / 2 + 1) {
		backlog = false;
		run_queue(false);
	} else if (new_mail) {
		scan_incoming();
	}
}

static void on_start_timer(struct event_loop *ev, void *ctx)
{
	(void)ev;
	(void)ctx;
	run_queue(false);
	want_timer((int64_t)time(NULL) + MAX_TIMER_SECONDS);
}

static int64_t time_param(const struct conf *conf, const char *name)
{
	return (int64_t)conf_get_time(conf, name);
}

static void init(struct server *srv)
{
	const struct conf *conf = server_conf(srv);
	qmgr.queue_dir = conf_get(conf, "queue_directory");
	qmgr.hostname = conf_get(conf, "myhostname");
	qmgr.mydestination = conf_get_list(conf, "mydestination");
	qmgr.virtual_domains = conf_get_list(conf, "virtual_mailbox_domains");
	qmgr.minimal_backoff = time_param(conf, "minimal_backoff_time");
	qmgr.maximal_backoff = time_param(conf, "maximal_backoff_time");
	qmgr.maximal_lifetime = time_param(conf, "maximal_queue_lifetime");
	qmgr.soft_bounce = conf_get_bool(conf, "soft_bounce");
	qmgr.smtp_rcpt_limit =
	    conf_get_int(conf, conf_is_set(conf, "smtp_destination_recipient_limit")
	                           ? "smtp_destination_recipient_limit"
	                           : "default_destination_recipient_limit");
	if (qmgr.smtp_rcpt_limit < 0)
		log_fatal("smtp_destination_recipient_limit must be 0 (no limit) or more");
	qmgr.delay_warning = time_param(conf, "delay_warning_time");
	qmgr.double_bounce_rcpt = conf_get(conf, "2bounce_notice_recipient");
	qmgr.ipc_timeout_ms = time_param(conf, "ipc_timeout") * 1000;
	qmgr.relayhost = conf_get(conf, "relayhost");
	qmgr.transport_maps = conf_get(conf, "transport_maps");
	if (qmgr.ipc_timeout_ms <= 0 || qmgr.ipc_timeout_ms > 24 * 3600 * 1000)
		qmgr.ipc_timeout_ms = 3600 * 1000;
	active_limit = conf_get_int(conf, "qmgr_message_active_limit");
	loop = server_loop(srv);
	limits_init(conf);
	valias_init(conf);
	int64_t threads = limits_transport("local");
	if (threads <= 0 || threads > MAX_THREADS)
		threads = MAX_THREADS;
	recipients_init(conf_get_int(conf, "qmgr_message_recipient_limit"), (size_t)threads);
	const char *error;
	if (workers_start((size_t)threads, &error) != 0)
		log_fatal("cannot start the delivery threads: %s", error);
	event_add_fd(loop, workers_wake_fd(), EVENT_READ, on_worker_done, NULL);
	/* Before anything else moves mail into active/: all there is left over. */
	recover_active();
	event_add_timer(loop, 0, on_start_timer, NULL);
}

/* Any connection is a wake-up: read its record if one comes, then work. */
static void on_accept(struct server *srv, int fd)
{
	struct ipc_rec *rec = NULL;
	const char *error;
	bool flush = false;
	if (ipc_read(fd, &rec, 4096, WAKEUP_READ_MS, &error) == 1) {
		int64_t value;
		if (!ipc_rec_is(rec, "wakeup"))
			log_warn("unexpected \"%s\" record on the qmgr socket", rec->name);
		else if (ipc_rec_get_int(rec, "flush", &value) && value != 0)
			flush = true;
	}
	ipc_rec_free(rec);
	close(fd);
	server_conn_done(srv);
	/* New mail is in incoming/. Deferred mail is looked at when its time
	 * comes (the deferred timer), not at every wake-up: with a long
	 * deferred queue that would read every status log per new message. */
	if (flush)
		run_queue(true);
	else
		wanted_scan();
}

int main(int argc, char **argv)
{
	static const struct server_ops ops = {
	    .mode = SERVER_MULTI,
	    .persistent = true,
	    .max_connections = 0,
	    .init = init,
	    .accept = on_accept,
	};
	return server_main(argc, argv, &ops, NULL);
}

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
 *
 * A deferred message is due at the time in its status log or, if later,
 * at the time of its queue file (message.c sets both; the file's time
 * still says it when the log could not be written). A message that an
 * attempt could not move out of active/ is left there, its file's time
 * set to when it is due: such files are looked for whenever no message is
 * in hand (then every file in active/ is one) and submitted again when
 * due; so that a busy qmgr gets to them too, at the hourly housekeeping it
 * takes no new mail, for at most DRAIN_SECONDS, until it holds none. The
 * housekeeping (at start too) also removes status logs whose message is in
 * no queue.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mail/notify_classes.h"
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
/* The longest the deferred timer sleeps, and how often the housekeeping
 * runs. */
#define MAX_TIMER_SECONDS 3600
/* The longest qmgr takes no new mail to get at files left in active/. */
#define DRAIN_SECONDS 60

struct qmgr_settings qmgr;

static struct event_loop *loop;
static struct event_timer *deferred_timer;
static int64_t timer_due;    /* when deferred_timer fires */
static int64_t active_limit; /* qmgr_message_active_limit */
static bool backlog;         /* mail was left waiting for room */
static bool draining;        /* no new mail until none is in hand */
static int64_t drain_until;  /* ... or until then */

/* Is qmgr still taking no new mail (see housekeeping)? */
static bool still_draining(void)
{
	if (draining && (int64_t)time(NULL) >= drain_until)
		draining = false; /* the next housekeeping tries again */
	return draining;
}

/* Room for one more message in hand? If not, remember to look again. */
static bool have_room(void)
{
	if (!still_draining() && (active_limit <= 0 || workers_in_flight() < (size_t)active_limit))
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

/* The time of queue_dir/sub/name, or 0 if it cannot be read. */
static int64_t file_time(const char *sub, const char *name)
{
	char *path = xasprintf("%s/%s/%s", qmgr.queue_dir, sub, name);
	struct stat st;
	int64_t when = lstat(path, &st) == 0 ? (int64_t)st.st_mtime : 0;
	free(path);
	return when;
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
		int64_t due = 0;
		if (queue_id_valid(names[i]) &&
		    status_log_load(names[i], 0, 0, &log, &error) == 0) {
			due = log.next_attempt;
			status_log_free(&log);
		}
		if (due <= now) {
			int64_t file_due = file_time("deferred", names[i]);
			if (file_due > due)
				due = file_due;
		}
		if (due <= now && have_room())
			activate("deferred", names[i], false);
		else
			want_timer(due > now ? due : now + 1);
	}
	free_names(names, count);
}

/* The next look for files left in active/ when none is in hand. */
static int64_t next_left_over_look;

/* With no message in hand, every file in active/ was left there by an
 * attempt (message.c): submit those due (with flush, all), after setting
 * their time to when they are due again should this attempt leave them
 * without saying. One whose time cannot be set (a file system that takes
 * no changes) waits: an attempt that can record nothing is not repeated
 * over and over. At most one look a second, except while draining. */
static void retry_left_over(bool flush)
{
	int64_t now = (int64_t)time(NULL);
	if (workers_in_flight() != 0 || (!draining && !flush && now < next_left_over_look))
		return;
	next_left_over_look = now + 1;
	draining = false;
	int64_t again = qmgr.minimal_backoff > 0 ? qmgr.minimal_backoff : 1;
	if (again > MAX_TIMER_SECONDS)
		again = MAX_TIMER_SECONDS;
	size_t count;
	char **names = list_queue("active", SIZE_MAX, &count);
	for (size_t i = 0; i < count; i++) {
		int64_t due = file_time("active", names[i]);
		if (due > now && !flush) {
			want_timer(due);
			continue;
		}
		char *path = xasprintf("%s/active/%s", qmgr.queue_dir, names[i]);
		struct timespec times[2] = {{0, UTIME_OMIT}, {(time_t)(now + again), 0}};
		int rc = utimensat(AT_FDCWD, path, times, AT_SYMLINK_NOFOLLOW);
		if (rc != 0 && errno != ENOENT) {
			log_warn(
			    "%s: left in active/ by an earlier attempt, and its time cannot be "
			    "set: %m; it waits",
			    names[i]);
			next_left_over_look = now + again;
			want_timer(next_left_over_look);
		} else if (rc == 0) {
			log_info("%s: left in active/ by an earlier attempt: trying it again",
			         names[i]);
			activate("active", names[i], false);
		}
		free(path);
	}
	free_names(names, count);
}

/* Files left in active/ that are due, while messages are in hand: more
 * files there are due than messages in hand. The count is taken first:
 * a thread moves its file away before it stops counting. */
static bool left_over_due(void)
{
	size_t in_hand = workers_in_flight();
	size_t count, due = 0;
	char **names = list_queue("active", SIZE_MAX, &count);
	int64_t now = (int64_t)time(NULL);
	for (size_t i = 0; i < count; i++)
		if (file_time("active", names[i]) <= now)
			due++;
	free_names(names, count);
	return due > in_hand;
}

/* Is name in the sorted list? */
static bool listed(char **names, size_t count, const char *name)
{
	return count > 0 && bsearch(&name, names, count, sizeof(*names), compare_names) != NULL;
}

/* The names in corrupt/ as queue ids: ID.N (qmgr_move_corrupt found ID
 * taken) is message ID too. */
static char **list_corrupt(size_t *count_r)
{
	char **names = list_queue("corrupt", SIZE_MAX, count_r);
	for (size_t i = 0; i < *count_r; i++)
		if (strlen(names[i]) > QUEUE_ID_LEN && names[i][QUEUE_ID_LEN] == '.')
			names[i][QUEUE_ID_LEN] = '\0';
	if (*count_r > 1)
		qsort(names, *count_r, sizeof(*names), compare_names);
	return names;
}

/* Remove the status logs whose message is in no queue: left by a crash
 * between the removal of a message and of its log, or by a mailctl queue
 * delete during an attempt. mailctl may move a message from one queue to
 * another while they are listed, so a log is removed only if a second
 * look, file by file, finds its message nowhere either. */
static void remove_orphan_logs(void)
{
	const char *const *queues = qmgr_queues;
	enum { QUEUES = QMGR_QUEUE_COUNT };
	char **names[QUEUES];
	size_t counts[QUEUES], n_logs;
	char **logs = list_queue("status", SIZE_MAX, &n_logs);
	for (size_t q = 0; q < QUEUES; q++)
		names[q] = strcmp(queues[q], "corrupt") == 0
		               ? list_corrupt(&counts[q])
		               : list_queue(queues[q], SIZE_MAX, &counts[q]);
	for (size_t i = 0; i < n_logs; i++) {
		bool found = !queue_id_valid(logs[i]);
		for (size_t q = 0; q < QUEUES && !found; q++)
			found = listed(names[q], counts[q], logs[i]);
		if (found || qmgr_queued_anywhere(logs[i]))
			continue;
		char *path = xasprintf("%s/status/%s", qmgr.queue_dir, logs[i]);
		struct stat st;
		bool plain = lstat(path, &st) == 0 && S_ISREG(st.st_mode);
		free(path);
		if (!plain)
			continue;
		status_log_remove(logs[i]);
		log_info("%s: status log removed: the message is in no queue", logs[i]);
	}
	for (size_t q = 0; q < QUEUES; q++)
		free_names(names[q], counts[q]);
	free_names(logs, n_logs);
}

static int64_t last_housekeeping;

/* About once an hour: orphan status logs, and files left in active/ that
 * the threads never leave qmgr idle enough to get at. */
static void housekeeping(void)
{
	int64_t now = (int64_t)time(NULL);
	if (now - last_housekeeping < MAX_TIMER_SECONDS)
		return;
	last_housekeeping = now;
	remove_orphan_logs();
	verify_housekeeping();
	if (workers_in_flight() > 0 && left_over_due()) {
		log_info("messages left in active/ are due: no new mail is taken until the "
		         "delivery threads are idle (at most %d seconds)",
		         DRAIN_SECONDS);
		draining = true;
		drain_until = now + DRAIN_SECONDS;
	}
}

static void run_queue(bool flush)
{
	retry_left_over(flush);
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
	housekeeping();
	limits_tick(); /* paced destinations whose delay is over */
	want_timer(limits_next_due());
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
	retry_left_over(false);
	/* While draining, the queues are not scanned at every message done. */
	if (backlog && !still_draining() && workers_in_flight() < (size_t)active_limit / 2 + 1) {
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

/* bounce_template_file: read once; one with errors is logged (file:line)
 * and the built-in texts are used, so that notifications still go. */
static void load_templates(const struct conf *conf)
{
	static struct bounce_templates templates;
	const char *path = conf_get(conf, "bounce_template_file");
	if (*path == '\0')
		return;
	struct diag_list diags;
	diag_list_init(&diags);
	if (bounce_templates_load(path, &templates, &diags) == 0) {
		bounce_templates_expand(&templates, conf);
		qmgr.templates = &templates;
	} else {
		log_error("bounce_template_file %s has errors; the built-in notification texts are "
		          "used",
		          path);
	}
	for (size_t i = 0; i < diags.count; i++)
		log_error("%s", diags.items[i].text);
	diag_list_free(&diags);
}

/* The routing parameters whose names begin with prefix: "" for mail,
 * "address_verify_" for probes. */
static void load_routing(const struct conf *conf, const char *prefix, struct qmgr_routing *r)
{
	static const char *const names[] = {"relayhost",       "transport_maps",
	                                    "local_transport", "virtual_transport",
	                                    "relay_transport", "default_transport"};
	const char *values[sizeof(names) / sizeof(names[0])];
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char *name = xasprintf("%s%s", prefix, names[i]);
		values[i] = conf_get(conf, name);
		free(name);
	}
	*r = (struct qmgr_routing){
	    .relayhost = values[0],
	    .transport_maps = values[1],
	    .local_transport = values[2],
	    .virtual_transport = values[3],
	    .relay_transport = values[4],
	    .default_transport = values[5],
	};
}

static void init(struct server *srv)
{
	const struct conf *conf = server_conf(srv);
	qmgr.queue_dir = conf_get(conf, "queue_directory");
	qmgr.hostname = conf_get(conf, "myhostname");
	qmgr.mydestination = conf_get_list(conf, "mydestination");
	qmgr.virtual_domains = conf_get_list(conf, "virtual_mailbox_domains");
	qmgr.relay_domains = conf_get_list(conf, "relay_domains");
	qmgr.minimal_backoff = time_param(conf, "minimal_backoff_time");
	qmgr.maximal_backoff = time_param(conf, "maximal_backoff_time");
	qmgr.maximal_lifetime = time_param(conf, "maximal_queue_lifetime");
	qmgr.bounce_lifetime = time_param(conf, "bounce_queue_lifetime");
	qmgr.soft_bounce = conf_get_bool(conf, "soft_bounce");
	qmgr.delay_warning = time_param(conf, "delay_warning_time");
	qmgr.double_bounce_rcpt = conf_get(conf, "2bounce_notice_recipient");
	qmgr.bounce_notice_rcpt = conf_get(conf, "bounce_notice_recipient");
	qmgr.delay_notice_rcpt = conf_get(conf, "delay_notice_recipient");
	const char *bad_class;
	if (notify_classes_parse(conf_get_list(conf, "notify_classes"), &qmgr.notify_classes,
	                         &bad_class) != 0)
		log_fatal("notify_classes: unknown class \"%s\"", bad_class);
	qmgr.ipc_timeout_ms = time_param(conf, "ipc_timeout") * 1000;
	qmgr.sender_relay_maps = conf_get(conf, "sender_dependent_relayhost_maps");
	qmgr.sender_transport_maps = conf_get(conf, "sender_dependent_default_transport_maps");
	load_routing(conf, "", &qmgr.mail_routing);
	load_routing(conf, "address_verify_", &qmgr.probe_routing);
	load_templates(conf);
	if (qmgr.ipc_timeout_ms <= 0 || qmgr.ipc_timeout_ms > 24 * 3600 * 1000)
		qmgr.ipc_timeout_ms = 3600 * 1000;
	active_limit = conf_get_int(conf, "qmgr_message_active_limit");
	loop = server_loop(srv);
	transports_init(conf);
	valias_init(conf);
	verify_init(conf);
	int64_t threads = transport_find("local")->process_limit;
	if (threads <= 0 || threads > MAX_THREADS)
		threads = MAX_THREADS;
	recipients_init(conf_get_int(conf, "qmgr_message_recipient_limit"), (size_t)threads);
	const char *error;
	if (workers_start((size_t)threads, &error) != 0)
		log_fatal("cannot start the delivery threads: %s", error);
	event_add_fd(loop, workers_wake_fd(), EVENT_READ, on_worker_done, NULL);
	/* Before anything else moves mail into active/: all there is left over. */
	recover_active();
	last_housekeeping = (int64_t)time(NULL);
	remove_orphan_logs();
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

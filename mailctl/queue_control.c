/*
 * mailctl queue hold|release|requeue|flush: move queued mail between the
 * queue directories (Postfix's postsuper -h/-H/-r and postqueue -f/-i).
 *   hold     incoming/, deferred/ -> hold/  (qmgr never looks in hold/)
 *   release  hold/ -> incoming/             (delivered at once)
 *   requeue  deferred/, hold/ -> incoming/  (tried at once, every pending
 *            recipient routed again with the current configuration)
 *   flush    deferred/ -> incoming/         (no selection: all of it)
 * A message in active/ is being delivered right now: the command waits for
 * qmgr to put it down (ACTIVE_WAIT_MS) and then applies to wherever it went.
 * Moves are renames that never replace a file, so a race with qmgr moving
 * the same file ends with exactly one of the two moves done. After moving
 * mail into incoming/, qmgr is woken through public/qmgr; if it is not
 * running the mail waits there until it starts. The status log of each
 * message stays: recipients already delivered are not delivered again.
 * qmgr takes a message that comes back into incoming/ with a status log as
 * an admin's request: it tries it at once and restarts its back-off
 * (qmgr/message.c), so moving it is all this command has to do.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mail/queue.h"
#include "mail/wakeup.h"
#include "mailctl/queue.h"
#include "mailctl/queue_select.h"
#include "server/program.h"
#include "util/alloc.h"
#include "util/ipc.h"
#include "util/json.h"
#include "util/sock.h"
#include "util/str.h"

#define ACTIVE_WAIT_MS 10000
#define POLL_MS 50
#define WAKEUP_TIMEOUT_MS 5000

struct queue_action {
	const char *name;
	const char *done; /* "held" ... */
	const char *const *from;
	const char *to;
	bool wake;        /* tell qmgr afterwards */
	bool default_all; /* no selection means every message it applies to */
};

static const char *const from_hold[] = {"incoming", "deferred", NULL};
static const char *const from_release[] = {"hold", NULL};
static const char *const from_requeue[] = {"deferred", "hold", NULL};
static const char *const from_flush[] = {"deferred", NULL};

static const struct queue_action actions[] = {
    {"hold", "held", from_hold, "hold", false, false},
    {"release", "released", from_release, "incoming", true, false},
    {"requeue", "requeued", from_requeue, "incoming", true, false},
    {"flush", "flushed", from_flush, "incoming", true, true},
};

/* Where a message can be, in the order looked at. */
static const char *const every_queue[] = {"incoming", "active",  "deferred",
                                          "hold",     "corrupt", NULL};

struct outcome {
	struct str text;
	struct str json_done;
	struct str json_errors;
	size_t done;
	size_t errors;
	int waited_ms; /* for messages in active/, shared by all of them */
};

static bool in_list(const char *const *list, const char *name)
{
	for (size_t i = 0; list[i]; i++)
		if (strcmp(list[i], name) == 0)
			return true;
	return false;
}

/* The queue holding id now, or NULL. */
static const char *where_is(const char *queue_dir, const char *id)
{
	for (size_t q = 0; every_queue[q]; q++) {
		char *path = xasprintf("%s/%s/%s", queue_dir, every_queue[q], id);
		struct stat st;
		bool found = lstat(path, &st) == 0 && S_ISREG(st.st_mode);
		free(path);
		if (found)
			return every_queue[q];
	}
	return NULL;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static void note_done(struct outcome *o, const struct queue_action *a, const char *id,
                      const char *from)
{
	str_printf(&o->text, "%s: %s (from %s/)\n", id, a->done, from);
	str_printf(&o->json_done, "%s{\"id\":\"%s\",\"from\":\"%s\",\"to\":\"%s\"}",
	           o->done ? "," : "", id, from, a->to);
	o->done++;
}

static void note_error(struct outcome *o, const char *id, const char *error)
{
	fprintf(stderr, "mailctl: %s: %s\n", id, error);
	str_append_cstr(&o->json_errors, o->errors ? ",{\"id\":" : "{\"id\":");
	json_append_cstr(&o->json_errors, id);
	str_append_cstr(&o->json_errors, ",\"error\":");
	json_append_cstr(&o->json_errors, error);
	str_append_char(&o->json_errors, '}');
	o->errors++;
}

/* Apply the action to one message found in queue. explicit: the id was
 * named on the command line, so not being able to act on it is an error. */
static void apply_one(const char *queue_dir, const struct queue_action *a, const char *id,
                      const char *queue, bool explicit, struct outcome *o)
{
	for (;;) {
		if (queue == NULL) {
			if (explicit)
				note_error(o, id, "no longer in the queue (delivered or deleted)");
			return;
		}
		if (strcmp(queue, "active") == 0) {
			if (o->waited_ms >= ACTIVE_WAIT_MS) {
				note_error(o, id, "still being delivered; try again");
				return;
			}
			sleep_ms(POLL_MS);
			o->waited_ms += POLL_MS;
			queue = where_is(queue_dir, id);
			continue;
		}
		if (!in_list(a->from, queue)) {
			if (explicit) {
				struct str why = STR_INIT;
				if (strcmp(queue, a->to) == 0) {
					str_printf(&why, "already in %s/", queue);
				} else {
					str_printf(&why, "is in %s/; %s takes mail from", queue,
					           a->name);
					for (size_t i = 0; a->from[i]; i++)
						str_printf(&why, "%s %s/", i ? " and" : "",
						           a->from[i]);
				}
				note_error(o, id, str_cstr(&why));
				str_free(&why);
			}
			return;
		}
		const char *error;
		int rc = queue_move(queue_dir, id, queue, a->to, &error);
		if (rc >= 0) {
			note_done(o, a, id, queue);
			if (rc > 0)
				fprintf(stderr, "mailctl: %s: warning: %s\n", id, error);
			return;
		}
		if (errno != ENOENT) {
			note_error(o, id, error);
			return;
		}
		queue = where_is(queue_dir, id); /* qmgr moved it meanwhile */
	}
}

/* Names in queue_dir/queue, sorted; a missing directory is empty. */
static char **list_names(const char *queue_dir, const char *queue, size_t *count_r)
{
	char *dir = xasprintf("%s/%s", queue_dir, queue);
	char **names = NULL;
	size_t count = 0;
	struct dirent **entries;
	int n = scandir(dir, &entries, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		if (queue_id_valid(entries[i]->d_name)) {
			names = xreallocarray(names, count + 1, sizeof(*names));
			names[count++] = xstrdup(entries[i]->d_name);
		}
		free(entries[i]);
	}
	if (n >= 0)
		free(entries);
	else if (errno != ENOENT)
		fprintf(stderr, "mailctl: %s: %s\n", dir, strerror(errno));
	free(dir);
	*count_r = count;
	return names;
}

static bool matches(const char *queue_dir, const struct queue_select *sel, const char *queue,
                    const char *name, int64_t now)
{
	char *path = xasprintf("%s/%s/%s", queue_dir, queue, name);
	struct queue_envelope env;
	size_t offset;
	const char *error;
	queue_envelope_init(&env);
	bool valid = queue_file_read(path, &env, &offset, &error) == 0;
	/* A damaged file in active/ waits for qmgr to move it to corrupt/. */
	bool match = (valid || strcmp(queue, "active") != 0) &&
	             queue_select_match(sel, name, valid ? &env : NULL, now);
	queue_envelope_free(&env);
	free(path);
	return match;
}

/* Apply to every selected message in the queues the action takes from,
 * and to those in active/ (they are waited for). */
static void apply_selection(const char *queue_dir, const struct queue_action *a,
                            const struct queue_select *sel, struct outcome *o)
{
	int64_t now = (int64_t)time(NULL);
	for (size_t q = 0; every_queue[q]; q++) {
		const char *queue = every_queue[q];
		if (!in_list(a->from, queue) && strcmp(queue, "active") != 0)
			continue;
		size_t count;
		char **names = list_names(queue_dir, queue, &count);
		for (size_t i = 0; i < count; i++) {
			if (matches(queue_dir, sel, queue, names[i], now))
				apply_one(queue_dir, a, names[i], queue, false, o);
			free(names[i]);
		}
		free(names);
	}
}

/* Tell qmgr to look at incoming/. false if it could not be reached. */
static bool wake_qmgr(const char *queue_dir)
{
	char *path = xasprintf("%s/public/qmgr", queue_dir);
	bool ok = mail_wakeup(path, false, WAKEUP_TIMEOUT_MS);
	free(path);
	return ok;
}

static int run_action(struct mailctl *m, const char *queue_dir, const struct queue_action *a,
                      const struct queue_select *sel)
{
	struct outcome o = {STR_INIT, STR_INIT, STR_INIT, 0, 0, 0};
	if (sel->id_count > 0 && sel->sender == NULL && sel->recipient == NULL &&
	    sel->older_than < 0) {
		for (size_t i = 0; i < sel->id_count; i++) {
			const char *queue = where_is(queue_dir, sel->ids[i]);
			if (queue == NULL)
				note_error(&o, sel->ids[i], "no such message in the queue");
			else
				apply_one(queue_dir, a, sel->ids[i], queue, true, &o);
		}
	} else {
		apply_selection(queue_dir, a, sel, &o);
	}
	bool notified = false;
	if (a->wake && o.done > 0) {
		notified = wake_qmgr(queue_dir);
		if (!notified)
			fprintf(stderr, "mailctl: qmgr is not running: the mail waits in "
			                "incoming/ until it starts\n");
	}
	if (m->json) {
		printf("{\"action\":\"%s\",\"%s\":[%s],\"count\":%zu,\"errors\":[%s],"
		       "\"qmgr_notified\":%s}\n",
		       a->name, a->done, str_cstr(&o.json_done), o.done, str_cstr(&o.json_errors),
		       notified ? "true" : "false");
	} else {
		fputs(str_cstr(&o.text), stdout);
		printf("%zu message%s %s\n", o.done, o.done == 1 ? "" : "s", a->done);
	}
	str_free(&o.text);
	str_free(&o.json_done);
	str_free(&o.json_errors);
	return o.errors > 0 ? 1 : 0;
}

int cmd_queue_control(struct mailctl *m, int argc, char **argv)
{
	const struct queue_action *a = NULL;
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (argc > 1 && strcmp(argv[1], actions[i].name) == 0)
			a = &actions[i];
	if (a == NULL)
		return -1;
	struct queue_select sel;
	if (queue_select_parse(&sel, argc, argv, 2) != 0) {
		queue_select_free(&sel);
		return 1;
	}
	if (!queue_select_given(&sel)) {
		if (!a->default_all) {
			fprintf(stderr,
			        "mailctl: usage: mailctl queue %s " QUEUE_SELECT_USAGE
			        "\n(say ALL to %s every message)\n",
			        a->name, a->name);
			queue_select_free(&sel);
			return 2;
		}
		sel.all = true;
	}
	struct conf *conf = program_load_conf(m->config_dir);
	int rc = run_action(m, conf_get(conf, "queue_directory"), a, &sel);
	conf_free(conf);
	queue_select_free(&sel);
	return rc;
}

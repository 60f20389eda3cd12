/*
 * Reading the live mail queues for a listing (see queue_scan.h).
 */
#include "mail/queue_scan.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/alloc.h"

const char *const queue_scan_mail_queues[] = {"incoming", "active", "deferred", "hold", NULL};

static char scan_error[512];

static const char *set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static const char *set_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(scan_error, sizeof(scan_error), fmt, ap);
	va_end(ap);
	return scan_error;
}

/* ---- one entry ---- */

/* Per-recipient delivery state from qmgr's status log (status/ID): "queued"
 * until qmgr has a result, then delivered, deferred or bounced with its
 * status code and reason. An unreadable log leaves every one "queued". */
static void load_rcpt_states(const char *queue_dir, struct queue_scan_entry *e)
{
	size_t n = e->env.rcpt_count ? e->env.rcpt_count : 1;
	e->states = xcalloc(n, sizeof(*e->states));
	e->results = xcalloc(n, sizeof(*e->results));
	struct status_log log;
	const char *error;
	bool have_log =
	    status_log_read(queue_dir, e->env.id, e->env.rcpt_count, false, &log, &error) == 0;
	for (size_t i = 0; i < e->env.rcpt_count; i++) {
		const struct rcpt_result *r = have_log ? &log.rcpts[i] : NULL;
		bool known = r != NULL && r->state != RCPT_PENDING;
		e->states[i] = xstrdup(known ? rcpt_state_name(r->state) : "queued");
		if (known)
			rcpt_result_set(&e->results[i], r->state, r->status, r->reason, r->time);
	}
	if (have_log)
		status_log_free(&log);
	char *path = xasprintf("%s/status/%s", queue_dir, e->env.id);
	struct stat st;
	e->has_status_log = lstat(path, &st) == 0 && S_ISREG(st.st_mode);
	free(path);
}

void queue_scan_entry_load(struct queue_scan_entry *e, const char *queue_dir, const char *queue,
                           const char *name)
{
	memset(e, 0, sizeof(*e));
	e->name = xstrdup(name);
	e->queue = queue;
	e->path = xasprintf("%s/%s/%s", queue_dir, queue, name);
	queue_envelope_init(&e->env);
	const char *error = NULL;
	if (queue_file_read(e->path, &e->env, &e->content_offset, &error) != 0) {
		e->error = xstrdup(error ? error : "unreadable");
		return;
	}
	if (strcmp(e->env.id, name) != 0) {
		e->error = xasprintf("file name does not match its queue id %s", e->env.id);
		queue_envelope_free(&e->env);
		return;
	}
	load_rcpt_states(queue_dir, e);
}

void queue_scan_entry_free(struct queue_scan_entry *e)
{
	if (e->states) {
		for (size_t i = 0; i < e->env.rcpt_count; i++) {
			free(e->states[i]);
			rcpt_result_free(&e->results[i]);
		}
		free(e->states);
		free(e->results);
	}
	queue_envelope_free(&e->env);
	free(e->name);
	free(e->path);
	free(e->error);
}

void queue_scan_free(struct queue_scan *list)
{
	for (size_t i = 0; i < list->count; i++)
		queue_scan_entry_free(&list->items[i]);
	free(list->items);
	*list = (struct queue_scan){0};
}

/* ---- directories ---- */

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int compare_entries(const void *a, const void *b)
{
	const struct queue_scan_entry *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c != 0 ? c : strcmp(x->queue, y->queue);
}

char **queue_scan_names(const char *queue_dir, const char *queue, const char **error_r)
{
	char *dir = xasprintf("%s/%s", queue_dir, queue);
	DIR *d = opendir(dir);
	if (d == NULL) {
		if (errno != ENOENT) {
			*error_r = set_error("%s: %s", dir, strerror(errno));
			free(dir);
			return NULL;
		}
		free(dir);
		return xcalloc(1, sizeof(char *));
	}
	size_t count = 0, cap = 16;
	char **names = xcalloc(cap, sizeof(char *));
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		struct stat st;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISDIR(st.st_mode))
			continue;
		if (count + 1 >= cap) {
			cap *= 2;
			names = xreallocarray(names, cap, sizeof(char *));
		}
		names[count++] = xstrdup(de->d_name);
	}
	names[count] = NULL;
	closedir(d);
	free(dir);
	qsort(names, count, sizeof(char *), compare_names);
	return names;
}

void queue_scan_names_free(char **names)
{
	for (size_t i = 0; names && names[i]; i++)
		free(names[i]);
	free(names);
}

bool queue_scan_readable(const char *queue_dir)
{
	for (size_t q = 0; queue_scan_mail_queues[q]; q++) {
		char *dir = xasprintf("%s/%s", queue_dir, queue_scan_mail_queues[q]);
		bool ok = access(dir, R_OK | X_OK) == 0 || errno == ENOENT;
		free(dir);
		if (!ok)
			return false;
	}
	return true;
}

/* ---- a consistent scan of the live queues ---- */

/* The position of an entry's queue in queue_scan_mail_queues (the pass order). */
static size_t queue_rank(const struct queue_scan_entry *e)
{
	size_t q = 0;
	while (queue_scan_mail_queues[q] && queue_scan_mail_queues[q] != e->queue)
		q++;
	return q;
}

/* Whether e comes before name in queue number q, in pass order. */
static bool comes_before(const struct queue_scan_entry *e, size_t q, const char *name)
{
	size_t rank = queue_rank(e);
	return rank < q || (rank == q && strcmp(e->name, name) < 0);
}

/* One pass over the mail queues: every file, loaded, except those the
 * previous pass (prev, emptied of what is taken over) read whole in the
 * same queue. 0, or -1 if a directory is unreadable. */
static int scan_queues_once(const char *queue_dir, struct queue_scan *list, struct queue_scan *prev,
                            const char **error_r)
{
	size_t at = 0; /* in prev, which is in pass order too */
	for (size_t q = 0; queue_scan_mail_queues[q]; q++) {
		const char *queue = queue_scan_mail_queues[q];
		char **names = queue_scan_names(queue_dir, queue, error_r);
		if (names == NULL)
			return -1;
		for (size_t i = 0; names[i]; i++) {
			if (list->count == list->cap) {
				list->cap = list->cap ? list->cap * 2 : 16;
				list->items =
				    xreallocarray(list->items, list->cap, sizeof(*list->items));
			}
			struct queue_scan_entry *e = &list->items[list->count++];
			while (at < prev->count && comes_before(&prev->items[at], q, names[i]))
				at++;
			/* Read whole by the last pass and still in the same queue:
			 * the same file (a queue file changes only by moving). */
			struct queue_scan_entry *old = at < prev->count ? &prev->items[at] : NULL;
			if (old != NULL && old->queue == queue && old->error == NULL &&
			    strcmp(old->name, names[i]) == 0) {
				*e = *old;
				memset(old, 0, sizeof(*old));
				queue_envelope_init(&old->env);
				at++;
			} else {
				queue_scan_entry_load(e, queue_dir, queue, names[i]);
			}
		}
		queue_scan_names_free(names);
	}
	return 0;
}

/* Whether the mail queues still hold exactly the files a pass loaded (the
 * list in pass order: queue by queue, names sorted). */
static bool queues_unchanged(const char *queue_dir, const struct queue_scan *list)
{
	size_t at = 0;
	for (size_t q = 0; queue_scan_mail_queues[q]; q++) {
		const char *queue = queue_scan_mail_queues[q];
		const char *error;
		char **names = queue_scan_names(queue_dir, queue, &error);
		if (names == NULL)
			return false;
		bool same = true;
		for (size_t i = 0; names[i] && same; i++, at++)
			same = at < list->count && list->items[at].queue == queue &&
			       strcmp(list->items[at].name, names[i]) == 0;
		queue_scan_names_free(names);
		if (!same || (at < list->count && list->items[at].queue == queue))
			return false;
	}
	return at == list->count;
}

static bool path_exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

/* How good a sighting of a message is, when a pass saw it more than once:
 * read whole beats damaged (caught mid-move), and still there beats gone. */
static int sighting_rank(const struct queue_scan_entry *e)
{
	return (e->error == NULL ? 2 : 0) + (path_exists(e->path) ? 1 : 0);
}

/* Drop what a pass caught in motion: a file that vanished while it was
 * read (delivered, or moved), and all but the best sighting of a message
 * that moved between queues during the pass. The list is sorted by name. */
static void drop_moved_entries(struct queue_scan *list)
{
	size_t kept = 0;
	for (size_t i = 0; i < list->count; i++) {
		struct queue_scan_entry *e = &list->items[i];
		bool gone = e->error != NULL && !path_exists(e->path);
		if (!gone && kept > 0 && strcmp(list->items[kept - 1].name, e->name) == 0) {
			struct queue_scan_entry *prev = &list->items[kept - 1];
			if (sighting_rank(prev) >= sighting_rank(e)) {
				gone = true;
			} else {
				queue_scan_entry_free(prev);
				kept--;
			}
		}
		if (gone)
			queue_scan_entry_free(e);
		else
			list->items[kept++] = *e;
	}
	list->count = kept;
}

/* The queues are live: a pass is checked against a second reading of the
 * directories and done again if they changed (a few times at most, so a
 * busy queue still gets a listing), and what the last pass caught in
 * motion is dropped, so that a message moving between queues is listed
 * once. */
int queue_scan_load(const char *queue_dir, struct queue_scan *list, const char **error_r)
{
	enum { MAX_PASSES = 4 };
	struct queue_scan prev = {0};
	for (int pass = 0;; pass++) {
		int rc = scan_queues_once(queue_dir, list, &prev, error_r);
		queue_scan_free(&prev);
		if (rc != 0)
			return -1;
		if (pass + 1 == MAX_PASSES || queues_unchanged(queue_dir, list))
			break;
		/* Again: what has not moved is taken over, not read again. */
		prev = *list;
		*list = (struct queue_scan){0};
	}
	if (list->count > 1)
		qsort(list->items, list->count, sizeof(*list->items), compare_entries);
	drop_moved_entries(list);
	return 0;
}

void queue_scan_append_text(struct str *out, const char *text)
{
	for (; *text; text++)
		str_append_char(out, (unsigned char)*text < 0x20 || *text == 0x7f ? '?' : *text);
}

/*
 * mailctl queue: look at and remove queued mail (Postfix's mailq, postcat
 * and postsuper -d in one place).
 *   mailctl queue [list]         every file in incoming/, active/, deferred/
 *                                and hold/: id, queue, size, arrival,
 *                                sender, and each recipient with its state
 *   mailctl queue show ID        the envelope, then the message content
 *   mailctl queue delete SEL     remove the message(s) and status/ID
 * list and delete take a selection (queue_select.h): ids or ALL, and
 * --sender, --recipient, --older-than.
 * With --json, one JSON object on stdout; list --mailq prints Postfix's
 * mailq format (for sendmail -bp). A file that fails validation is
 * listed with its error, never skipped (--mailq leaves it out). Text output replaces control
 * characters in envelope fields with '?'; show prints the content as is.
 */
#include "mailctl/queue.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mail/queue.h"
#include "mail/status_log.h"
#include "mailctl/queue_select.h"
#include "server/program.h"
#include "smtp/utf8.h"
#include "util/alloc.h"
#include "util/base64.h"
#include "util/json.h"
#include "util/str.h"

/* The queues that hold mail waiting for delivery, in the order listed. */
static const char *const mail_queues[] = {"incoming", "active", "deferred", "hold", NULL};
/* Where show and delete look for one message. */
static const char *const all_queues[] = {"incoming", "active", "deferred", "hold", "corrupt", NULL};

/* One file found in a queue directory, validated. */
struct entry {
	char *name; /* the file name: the queue id if the file is good */
	const char *queue;
	char *path;
	char *error; /* NULL if the file is a valid queue file */
	struct queue_envelope env;
	size_t content_offset;
	char **states;               /* per recipient */
	struct rcpt_result *results; /* per recipient, from the status log */
	bool has_status_log;
};

struct entry_list {
	struct entry *items;
	size_t count;
	size_t cap;
};

/* ---- loading ---- */

/* Per-recipient delivery state from qmgr's status log (status/ID): "queued"
 * until qmgr has a result, then delivered, deferred or bounced with its
 * status code and reason. An unreadable log leaves every one "queued". */
static void load_rcpt_states(const char *queue_dir, struct entry *e)
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

static void entry_load(struct entry *e, const char *queue_dir, const char *queue, const char *name)
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

static void entry_free(struct entry *e)
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

static void entry_list_free(struct entry_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		entry_free(&list->items[i]);
	free(list->items);
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int compare_entries(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c != 0 ? c : strcmp(x->queue, y->queue);
}

/* The names in queue_dir/queue other than directories, sorted. A missing
 * directory is empty. NULL-terminated; NULL with a message on error. */
static char **queue_names(const char *queue_dir, const char *queue)
{
	char *dir = xasprintf("%s/%s", queue_dir, queue);
	DIR *d = opendir(dir);
	if (d == NULL) {
		if (errno != ENOENT) {
			mailctl_error("%s: %s", dir, strerror(errno));
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

static void free_names(char **names)
{
	for (size_t i = 0; names && names[i]; i++)
		free(names[i]);
	free(names);
}

/* The position of an entry's queue in mail_queues (the pass order). */
static size_t queue_rank(const struct entry *e)
{
	size_t q = 0;
	while (mail_queues[q] && mail_queues[q] != e->queue)
		q++;
	return q;
}

/* Whether e comes before name in queue number q, in pass order. */
static bool comes_before(const struct entry *e, size_t q, const char *name)
{
	size_t rank = queue_rank(e);
	return rank < q || (rank == q && strcmp(e->name, name) < 0);
}

/* One pass over the mail queues: every file, loaded, except those the
 * previous pass (prev, emptied of what is taken over) read whole in the
 * same queue. 0, or -1 if a directory is unreadable. */
static int scan_queues_once(const char *queue_dir, struct entry_list *list, struct entry_list *prev)
{
	size_t at = 0; /* in prev, which is in pass order too */
	for (size_t q = 0; mail_queues[q]; q++) {
		char **names = queue_names(queue_dir, mail_queues[q]);
		if (names == NULL)
			return -1;
		for (size_t i = 0; names[i]; i++) {
			if (list->count == list->cap) {
				list->cap = list->cap ? list->cap * 2 : 16;
				list->items =
				    xreallocarray(list->items, list->cap, sizeof(*list->items));
			}
			struct entry *e = &list->items[list->count++];
			while (at < prev->count && comes_before(&prev->items[at], q, names[i]))
				at++;
			/* Read whole by the last pass and still in the same queue:
			 * the same file (a queue file changes only by moving). */
			struct entry *old = at < prev->count ? &prev->items[at] : NULL;
			if (old != NULL && old->queue == mail_queues[q] && old->error == NULL &&
			    strcmp(old->name, names[i]) == 0) {
				*e = *old;
				memset(old, 0, sizeof(*old));
				queue_envelope_init(&old->env);
				at++;
			} else {
				entry_load(e, queue_dir, mail_queues[q], names[i]);
			}
		}
		free_names(names);
	}
	return 0;
}

/* Whether the mail queues still hold exactly the files a pass loaded (the
 * list in pass order: queue by queue, names sorted). */
static bool queues_unchanged(const char *queue_dir, const struct entry_list *list)
{
	size_t at = 0;
	for (size_t q = 0; mail_queues[q]; q++) {
		char **names = queue_names(queue_dir, mail_queues[q]);
		if (names == NULL)
			return false;
		bool same = true;
		for (size_t i = 0; names[i] && same; i++, at++)
			same = at < list->count && list->items[at].queue == mail_queues[q] &&
			       strcmp(list->items[at].name, names[i]) == 0;
		free_names(names);
		if (!same || (at < list->count && list->items[at].queue == mail_queues[q]))
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
static int sighting_rank(const struct entry *e)
{
	return (e->error == NULL ? 2 : 0) + (path_exists(e->path) ? 1 : 0);
}

/* Drop what a pass caught in motion: a file that vanished while it was
 * read (delivered, or moved), and all but the best sighting of a message
 * that moved between queues during the pass. The list is sorted by name. */
static void drop_moved_entries(struct entry_list *list)
{
	size_t kept = 0;
	for (size_t i = 0; i < list->count; i++) {
		struct entry *e = &list->items[i];
		bool gone = e->error != NULL && !path_exists(e->path);
		if (!gone && kept > 0 && strcmp(list->items[kept - 1].name, e->name) == 0) {
			struct entry *prev = &list->items[kept - 1];
			if (sighting_rank(prev) >= sighting_rank(e)) {
				gone = true;
			} else {
				entry_free(prev);
				kept--;
			}
		}
		if (gone)
			entry_free(e);
		else
			list->items[kept++] = *e;
	}
	list->count = kept;
}

/* Load every file in the mail queues, sorted by name. The queues are live:
 * a pass is checked against a second reading of the directories and done
 * again if they changed (a few times at most, so a busy queue still gets a
 * listing), and what the last pass caught in motion is dropped, so that a
 * message moving between queues is listed once. 0, or -1 if a directory is
 * unreadable. */
static int scan_queues(const char *queue_dir, struct entry_list *list)
{
	enum { MAX_PASSES = 4 };
	struct entry_list prev = {0};
	for (int pass = 0;; pass++) {
		int rc = scan_queues_once(queue_dir, list, &prev);
		entry_list_free(&prev);
		if (rc != 0)
			return -1;
		if (pass + 1 == MAX_PASSES || queues_unchanged(queue_dir, list))
			break;
		/* Again: what has not moved is taken over, not read again. */
		prev = *list;
		*list = (struct entry_list){0};
	}
	if (list->count > 1)
		qsort(list->items, list->count, sizeof(*list->items), compare_entries);
	drop_moved_entries(list);
	return 0;
}

/* ---- output helpers ---- */

/* Text output: envelope fields come from the network; keep control
 * characters (terminal escapes) out. */
static void text_append(struct str *out, const char *s)
{
	for (; *s; s++)
		str_append_char(out, (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
}

/* JSON output must be valid UTF-8: ill-formed bytes become U+FFFD. */
static void json_append_text(struct str *out, const char *s, size_t len)
{
	if (utf8_valid(s, len)) {
		json_append_string(out, s, len);
		return;
	}
	struct str clean = STR_INIT;
	for (size_t i = 0; i < len;) {
		size_t n = utf8_char_len(s + i, len - i, NULL);
		if (n == 0) {
			str_append_cstr(&clean, "\xEF\xBF\xBD");
			i++;
		} else {
			str_append(&clean, s + i, n);
			i += n;
		}
	}
	json_append_string(out, clean.data ? clean.data : "", clean.len);
	str_free(&clean);
}

static void json_field(struct str *out, const char *name, const char *value)
{
	str_printf(out, ",\"%s\":", name);
	json_append_text(out, value, strlen(value));
}

static void format_time(int64_t when, char *buf, size_t size)
{
	time_t t = (time_t)when;
	struct tm tm;
	if (localtime_r(&t, &tm) == NULL || strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, size, "%lld", (long long)when);
}

static const char *sender_text(const char *sender)
{
	return *sender ? sender : "<>";
}

static void json_recipients(struct str *out, const struct entry *e)
{
	str_append_cstr(out, ",\"recipients\":[");
	for (size_t i = 0; i < e->env.rcpt_count; i++) {
		const struct queue_rcpt *r = &e->env.rcpts[i];
		str_append_cstr(out, i ? ",{\"address\":" : "{\"address\":");
		json_append_text(out, r->address, strlen(r->address));
		json_field(out, "orcpt", r->orcpt);
		json_field(out, "notify", r->notify);
		if (r->valias_pending)
			str_append_cstr(out, ",\"valias_pending\":true");
		json_field(out, "state", e->states[i]);
		if (e->results[i].status != NULL) {
			json_field(out, "status", e->results[i].status);
			json_field(out, "reason", e->results[i].reason);
		}
		str_append_char(out, '}');
	}
	str_append_char(out, ']');
}

/* The fields list and show share: id, queue, validity or error. */
static void json_entry_head(struct str *out, const struct entry *e)
{
	str_append_cstr(out, "{\"id\":");
	json_append_text(out, e->name, strlen(e->name));
	json_field(out, "queue", e->queue);
	if (e->error) {
		str_append_cstr(out, ",\"valid\":false");
		json_field(out, "error", e->error);
		return;
	}
	str_printf(out, ",\"valid\":true,\"size\":%lld,\"arrival\":%lld", (long long)e->env.size,
	           (long long)e->env.arrival);
	json_field(out, "sender", e->env.sender);
	str_printf(out, ",\"status_log\":%s", e->has_status_log ? "true" : "false");
}

/* ---- list ---- */

static void list_text(const struct entry_list *list, struct str *out)
{
	if (list->count == 0) {
		str_append_cstr(out, "Mail queue is empty\n");
		return;
	}
	long long bytes = 0;
	size_t damaged = 0;
	str_printf(out, "%-16s  %-8s  %10s  %-19s  %s\n", "QUEUE ID", "QUEUE", "SIZE", "ARRIVAL",
	           "SENDER/RECIPIENT");
	for (size_t i = 0; i < list->count; i++) {
		const struct entry *e = &list->items[i];
		str_append_cstr(out, i ? "\n" : "");
		struct str name = STR_INIT;
		text_append(&name, e->name);
		if (e->error) {
			damaged++;
			str_printf(out, "%-16s  %-8s  ERROR: ", str_cstr(&name), e->queue);
			text_append(out, e->error);
			str_append_char(out, '\n');
			str_free(&name);
			continue;
		}
		char when[64];
		format_time(e->env.arrival, when, sizeof(when));
		bytes += e->env.size;
		str_printf(out, "%-16s  %-8s  %10lld  %-19s  ", str_cstr(&name), e->queue,
		           (long long)e->env.size, when);
		text_append(out, sender_text(e->env.sender));
		str_append_char(out, '\n');
		for (size_t r = 0; r < e->env.rcpt_count; r++) {
			str_printf(out, "%*s", 16 + 2 + 8 + 2 + 10 + 2 + 19 + 2 + 2, "");
			text_append(out, e->env.rcpts[r].address);
			str_printf(out, " (%s", e->states[r]);
			if (e->results[r].reason != NULL && e->results[r].state != RCPT_DELIVERED) {
				str_append_cstr(out, ": ");
				text_append(out, e->results[r].reason);
			}
			str_append_cstr(out, ")\n");
		}
		str_free(&name);
	}
	size_t good = list->count - damaged;
	str_printf(out, "\n-- %zu message%s, %lld bytes", good, good == 1 ? "" : "s", bytes);
	if (damaged)
		str_printf(out, "; %zu damaged file%s", damaged, damaged == 1 ? "" : "s");
	str_append_char(out, '\n');
}

static void list_json(const struct entry_list *list, struct str *out)
{
	size_t damaged = 0;
	str_append_cstr(out, "{\"messages\":[");
	for (size_t i = 0; i < list->count; i++) {
		const struct entry *e = &list->items[i];
		str_append_cstr(out, i ? ",\n  " : "\n  ");
		json_entry_head(out, e);
		if (e->error)
			damaged++;
		else
			json_recipients(out, e);
		str_append_char(out, '}');
	}
	str_printf(out, "\n],\"count\":%zu,\"damaged\":%zu}\n", list->count, damaged);
}

/* Keep only the entries sel matches. */
static void filter_entries(struct entry_list *list, const struct queue_select *sel)
{
	int64_t now = (int64_t)time(NULL);
	size_t kept = 0;
	for (size_t i = 0; i < list->count; i++) {
		struct entry *e = &list->items[i];
		if (queue_select_match(sel, e->name, e->error ? NULL : &e->env, now))
			list->items[kept++] = *e;
		else
			entry_free(e);
	}
	list->count = kept;
}

/* Postfix's mailq (showq) format, for sendmail -bp and mailq, which
 * scripts and monitoring checks parse: a '*' after the id of active mail
 * and a '!' after held mail, the recipients still to be delivered under
 * their deferral reason, and "-- N Kbytes in M Requests." at the end. */
static void list_mailq(const struct entry_list *list, struct str *out)
{
	size_t requests = 0;
	long long bytes = 0;
	for (size_t i = 0; i < list->count; i++) {
		const struct entry *e = &list->items[i];
		if (e->error)
			continue;
		if (requests++ == 0)
			str_printf(out, "%-11s %8s %-20s %s\n", "-Queue ID-", "--Size--",
			           "----Arrival Time----", "-Sender/Recipient-------");
		char when[32] = "";
		time_t t = (time_t)e->env.arrival;
		struct tm tm;
		if (localtime_r(&t, &tm) != NULL)
			strftime(when, sizeof(when), "%a %b %e %H:%M:%S", &tm);
		char mark = strcmp(e->queue, "active") == 0 ? '*'
		            : strcmp(e->queue, "hold") == 0 ? '!'
		                                            : ' ';
		str_printf(out, "%s%c %8lld %-20.20s ", e->name, mark, (long long)e->env.size,
		           when);
		text_append(out, *e->env.sender ? e->env.sender : "MAILER-DAEMON");
		str_append_char(out, '\n');
		const char *last_reason = NULL;
		for (size_t r = 0; r < e->env.rcpt_count; r++) {
			const struct rcpt_result *res = &e->results[r];
			if (res->state == RCPT_DELIVERED || res->state == RCPT_BOUNCED)
				continue;
			const char *reason = res->state == RCPT_DEFERRED ? res->reason : NULL;
			if (reason && (last_reason == NULL || strcmp(reason, last_reason) != 0)) {
				str_append_char(out, '(');
				text_append(out, reason);
				str_append_cstr(out, ")\n");
			}
			last_reason = reason;
			str_printf(out, "%41s", "");
			text_append(out, e->env.rcpts[r].address);
			str_append_char(out, '\n');
		}
		str_append_char(out, '\n');
		bytes += e->env.size;
	}
	if (requests == 0)
		str_append_cstr(out, "Mail queue is empty\n");
	else
		str_printf(out, "-- %lld Kbytes in %zu Request%s.\n", (bytes + 1023) / 1024,
		           requests, requests == 1 ? "" : "s");
}

static int queue_list(struct mailctl *m, const char *queue_dir, const struct queue_select *sel,
                      bool mailq)
{
	struct entry_list list = {0};
	if (scan_queues(queue_dir, &list) != 0) {
		entry_list_free(&list);
		return 1;
	}
	if (queue_select_given(sel))
		filter_entries(&list, sel);
	struct str out = STR_INIT;
	if (m->json)
		list_json(&list, &out);
	else if (mailq)
		list_mailq(&list, &out);
	else
		list_text(&list, &out);
	fwrite(out.data, 1, out.len, stdout);
	str_free(&out);
	entry_list_free(&list);
	return 0;
}

/* ---- show ---- */

/* A queue id from the command line (lower case accepted), or NULL. */
static char *parse_id(const char *arg)
{
	char *id = xstrdup(arg);
	for (char *p = id; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	if (!queue_id_valid(id)) {
		mailctl_error("%s: not a queue id (16 hexadecimal digits)", arg);
		free(id);
		return NULL;
	}
	return id;
}

/* Find id in the queues and load it: 0, or -1 if it is in none. */
static int find_entry(const char *queue_dir, const char *id, struct entry *e)
{
	for (size_t q = 0; all_queues[q]; q++) {
		char *path = xasprintf("%s/%s/%s", queue_dir, all_queues[q], id);
		struct stat st;
		bool found = lstat(path, &st) == 0;
		free(path);
		if (found) {
			entry_load(e, queue_dir, all_queues[q], id);
			return 0;
		}
	}
	return -1;
}

/* Read the content bytes of a validated file from fd into out. */
static int read_content(int fd, const struct entry *e, struct str *out, const char **error_r)
{
	char buf[65536];
	uint64_t left = (uint64_t)e->env.size;
	off_t off = (off_t)e->content_offset;
	while (left > 0) {
		size_t want = left < sizeof(buf) ? (size_t)left : sizeof(buf);
		ssize_t n = pread(fd, buf, want, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*error_r = n < 0 ? strerror(errno) : "file shrank while reading";
			return -1;
		}
		str_append(out, buf, (size_t)n);
		left -= (uint64_t)n;
		off += n;
	}
	return 0;
}

static void show_text(const struct entry *e, const struct str *content, struct str *out)
{
	const struct queue_envelope *env = &e->env;
	char when[64];
	format_time(env->arrival, when, sizeof(when));
	const struct {
		const char *name;
		const char *value;
	} fields[] = {
	    {"sender", sender_text(env->sender)},
	    {"envid", env->envid},
	    {"ret", env->ret},
	    {"body", env->body},
	    {"smtputf8", env->smtputf8 ? "yes" : "no"},
	    {"client_name", env->client_name},
	    {"client_addr", env->client_addr},
	    {"client_port", env->client_port},
	    {"helo", env->helo},
	    {"protocol", env->protocol},
	    {"tls", env->tls},
	    {"auth_user", env->auth_user},
	    {"origin", env->origin},
	    {"hold_reason", env->hold_reason},
	};
	str_printf(out, "*** ENVELOPE ***\nid: %s\nqueue: %s\narrival: %s (%lld)\nsize: %lld\n",
	           env->id, e->queue, when, (long long)env->arrival, (long long)env->size);
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		str_printf(out, "%s: ", fields[i].name);
		text_append(out, fields[i].value);
		str_append_char(out, '\n');
	}
	str_printf(out, "status_log: %s\n", e->has_status_log ? "yes" : "no");
	for (size_t r = 0; r < env->rcpt_count; r++) {
		str_append_cstr(out, "recipient: ");
		text_append(out, env->rcpts[r].address);
		str_printf(out, " (%s)", e->states[r]);
		if (*env->rcpts[r].orcpt) {
			str_append_cstr(out, " orcpt=");
			text_append(out, env->rcpts[r].orcpt);
		}
		if (*env->rcpts[r].notify) {
			str_append_cstr(out, " notify=");
			text_append(out, env->rcpts[r].notify);
		}
		if (env->rcpts[r].valias_pending)
			str_append_cstr(out, " virtual-alias-pending");
		str_append_char(out, '\n');
	}
	str_append_cstr(out, "*** MESSAGE CONTENT ***\n");
	str_append(out, content->data, content->len);
	if (content->len > 0 && content->data[content->len - 1] != '\n')
		str_append_char(out, '\n');
	str_append_cstr(out, "*** END OF MESSAGE ***\n");
}

static void show_json(const struct entry *e, const struct str *content, struct str *out)
{
	const struct queue_envelope *env = &e->env;
	json_entry_head(out, e);
	json_field(out, "envid", env->envid);
	json_field(out, "ret", env->ret);
	json_field(out, "body", env->body);
	str_printf(out, ",\"smtputf8\":%s", env->smtputf8 ? "true" : "false");
	json_field(out, "client_name", env->client_name);
	json_field(out, "client_addr", env->client_addr);
	json_field(out, "client_port", env->client_port);
	json_field(out, "helo", env->helo);
	json_field(out, "protocol", env->protocol);
	json_field(out, "tls", env->tls);
	json_field(out, "auth_user", env->auth_user);
	json_field(out, "origin", env->origin);
	json_field(out, "hold_reason", env->hold_reason);
	json_recipients(out, e);
	/* The exact bytes in base64; as text too, for reading (ill-formed
	 * UTF-8 replaced). */
	str_append_cstr(out, ",\"content\":");
	json_append_text(out, content->data ? content->data : "", content->len);
	str_append_cstr(out, ",\"content_base64\":\"");
	base64_encode(content->data ? content->data : "", content->len, out);
	str_append_cstr(out, "\"}\n");
}

/* Locate, validate and read one message. The file may move between
 * queues while we look (qmgr at work): look again a few times. */
static int load_message(const char *queue_dir, const char *id, struct entry *e, struct str *content)
{
	for (int attempt = 0; attempt < 3; attempt++) {
		if (find_entry(queue_dir, id, e) != 0) {
			mailctl_error("%s: no such message in the queue", id);
			return -1;
		}
		if (e->error) {
			mailctl_error("%s (%s): damaged queue file: %s", id, e->queue, e->error);
			entry_free(e);
			return -1;
		}
		int fd = open(e->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0 && errno == ENOENT) {
			entry_free(e);
			continue;
		}
		const char *error = NULL;
		int rc =
		    fd < 0 ? (error = strerror(errno), -1) : read_content(fd, e, content, &error);
		if (fd >= 0)
			close(fd);
		if (rc != 0) {
			mailctl_error("%s: reading the content: %s", e->path, error);
			entry_free(e);
			return -1;
		}
		return 0;
	}
	mailctl_error("%s: the message keeps moving between queues; try again", id);
	return -1;
}

static int queue_show(struct mailctl *m, const char *queue_dir, const char *arg)
{
	char *id = parse_id(arg);
	if (id == NULL)
		return 1;
	struct entry e;
	struct str content = STR_INIT;
	int rc = load_message(queue_dir, id, &e, &content);
	free(id);
	if (rc != 0) {
		str_free(&content);
		return 1;
	}
	struct str out = STR_INIT;
	if (m->json)
		show_json(&e, &content, &out);
	else
		show_text(&e, &content, &out);
	fwrite(out.data, 1, out.len, stdout);
	str_free(&out);
	str_free(&content);
	entry_free(&e);
	return 0;
}

/* ---- delete ---- */

struct deletions {
	struct str text;
	struct str json;
	size_t count;
	int failures;
};

/* Remove queue_dir/queue/name and, for a queue id, status/name. */
static void delete_file(const char *queue_dir, const char *queue, const char *name,
                        struct deletions *d)
{
	char *path = xasprintf("%s/%s/%s", queue_dir, queue, name);
	if (unlink(path) != 0) {
		if (errno != ENOENT) {
			mailctl_error("remove %s: %s", path, strerror(errno));
			d->failures++;
		}
		free(path);
		return;
	}
	free(path);
	if (queue_id_valid(name)) {
		char *status = xasprintf("%s/status/%s", queue_dir, name);
		if (unlink(status) != 0 && errno != ENOENT) {
			mailctl_error("remove %s: %s", status, strerror(errno));
			d->failures++;
		}
		free(status);
	}
	text_append(&d->text, name);
	str_printf(&d->text, ": deleted from %s\n", queue);
	str_append_cstr(&d->json, d->count ? ",{\"id\":" : "{\"id\":");
	json_append_text(&d->json, name, strlen(name));
	json_field(&d->json, "queue", queue);
	str_append_char(&d->json, '}');
	d->count++;
}

static int delete_all(const char *queue_dir, struct deletions *d)
{
	for (size_t q = 0; mail_queues[q]; q++) {
		char **names = queue_names(queue_dir, mail_queues[q]);
		if (names == NULL) {
			d->failures++;
			continue;
		}
		for (size_t i = 0; names[i]; i++)
			delete_file(queue_dir, mail_queues[q], names[i], d);
		free_names(names);
	}
	return 0;
}

static int delete_one(const char *queue_dir, const char *id, struct deletions *d)
{
	size_t before = d->count;
	int failures = d->failures;
	for (size_t q = 0; all_queues[q]; q++) {
		char *path = xasprintf("%s/%s/%s", queue_dir, all_queues[q], id);
		struct stat st;
		if (lstat(path, &st) == 0 && !S_ISDIR(st.st_mode))
			delete_file(queue_dir, all_queues[q], id, d);
		free(path);
	}
	if (d->count == before && d->failures == failures) {
		mailctl_error("%s: no such message in the queue", id);
		return -1;
	}
	return 0;
}

/* Every message in the mail queues that sel matches by its envelope. */
static int delete_matching(const char *queue_dir, const struct queue_select *sel,
                           struct deletions *d)
{
	struct entry_list list = {0};
	int rc = scan_queues(queue_dir, &list);
	filter_entries(&list, sel);
	for (size_t i = 0; i < list.count; i++)
		delete_file(queue_dir, list.items[i].queue, list.items[i].name, d);
	entry_list_free(&list);
	return rc;
}

static int queue_delete(struct mailctl *m, const char *queue_dir, const struct queue_select *sel)
{
	struct deletions d = {STR_INIT, STR_INIT, 0, 0};
	bool by_content = sel->sender != NULL || sel->recipient != NULL || sel->older_than >= 0;
	int rc = 0;
	if (by_content)
		rc = delete_matching(queue_dir, sel, &d);
	else if (sel->all)
		rc = delete_all(queue_dir, &d);
	else
		for (size_t i = 0; i < sel->id_count; i++)
			if (delete_one(queue_dir, sel->ids[i], &d) != 0)
				rc = -1;
	if (m->json) {
		printf("{\"deleted\":[%s],\"count\":%zu}\n", str_cstr(&d.json), d.count);
	} else {
		fputs(str_cstr(&d.text), stdout);
		printf("%zu message%s deleted\n", d.count, d.count == 1 ? "" : "s");
	}
	str_free(&d.text);
	str_free(&d.json);
	return rc != 0 || d.failures ? 1 : 0;
}

/* ---- dispatch ---- */

static int usage(void)
{
	mailctl_error("usage: mailctl queue list [--mailq] [SELECTION] | show ID | "
	              "delete|hold|release|requeue|flush SELECTION\n"
	              "SELECTION: " QUEUE_SELECT_USAGE);
	return 2;
}

int cmd_queue(struct mailctl *m, int argc, char **argv)
{
	int control = cmd_queue_control(m, argc, argv);
	if (control >= 0)
		return control;
	const char *sub = argc > 1 ? argv[1] : "list";
	bool is_list = strcmp(sub, "list") == 0;
	bool is_show = strcmp(sub, "show") == 0;
	bool is_delete = strcmp(sub, "delete") == 0;
	if (!is_list && !is_delete && !(is_show && argc == 3))
		return usage();
	/* list --mailq: Postfix's format (sendmail -bp, mailq). */
	bool mailq = false;
	char **args = xcalloc((size_t)argc + 1, sizeof(*args));
	int nargs = 0;
	for (int i = 0; i < argc; i++) {
		if (is_list && i >= 2 && strcmp(argv[i], "--mailq") == 0)
			mailq = true;
		else
			args[nargs++] = argv[i];
	}
	argc = nargs;
	argv = args;
	struct queue_select sel;
	if (!is_show && queue_select_parse(&sel, argc, argv, 2) != 0) {
		queue_select_free(&sel);
		free(args);
		return 1;
	}
	if (is_delete && !queue_select_given(&sel)) {
		queue_select_free(&sel);
		free(args);
		return usage();
	}
	struct conf *conf = program_load_conf(m->config_dir);
	const char *queue_dir = conf_get(conf, "queue_directory");
	int rc;
	if (is_list)
		rc = queue_list(m, queue_dir, &sel, mailq);
	else if (is_show)
		rc = queue_show(m, queue_dir, argv[2]);
	else
		rc = queue_delete(m, queue_dir, &sel);
	if (!is_show)
		queue_select_free(&sel);
	conf_free(conf);
	free(args);
	return rc;
}

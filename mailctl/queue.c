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
 * mailq format (for mailq and sendmail -bp; mail/mailq.h), and for a user
 * who may not read the queue asks the showq service instead. The queue is
 * read with mail/queue_scan.h. A file that fails validation is listed
 * with its error, never skipped (--mailq leaves it out). Text output
 * replaces control characters in envelope fields with '?'; show prints
 * the content as is.
 */
#include "mailctl/queue.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "mail/mailq.h"
#include "mail/queue.h"
#include "mail/queue_scan.h"
#include "mail/status_log.h"
#include "mailctl/queue_select.h"
#include "server/program.h"
#include "util/alloc.h"
#include "util/base64.h"
#include "util/json.h"
#include "util/str.h"
#include "util/utf8.h"

/* Where show and delete look for one message. */
static const char *const all_queues[] = {"incoming", "active", "deferred", "hold", "corrupt", NULL};

/* queue_scan_load, with the error said. */
static int scan_queues(const char *queue_dir, struct queue_scan *list)
{
	const char *error;
	if (queue_scan_load(queue_dir, list, &error) == 0)
		return 0;
	mailctl_error("%s", error);
	return -1;
}

/* ---- output helpers ---- */

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

static void json_recipients(struct str *out, const struct queue_scan_entry *e)
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
static void json_entry_head(struct str *out, const struct queue_scan_entry *e)
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

static void list_text(const struct queue_scan *list, struct str *out)
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
		const struct queue_scan_entry *e = &list->items[i];
		str_append_cstr(out, i ? "\n" : "");
		struct str name = STR_INIT;
		queue_scan_append_text(&name, e->name);
		if (e->error) {
			damaged++;
			str_printf(out, "%-16s  %-8s  ERROR: ", str_cstr(&name), e->queue);
			queue_scan_append_text(out, e->error);
			str_append_char(out, '\n');
			str_free(&name);
			continue;
		}
		char when[64];
		format_time(e->env.arrival, when, sizeof(when));
		bytes += e->env.size;
		str_printf(out, "%-16s  %-8s  %10lld  %-19s  ", str_cstr(&name), e->queue,
		           (long long)e->env.size, when);
		queue_scan_append_text(out, sender_text(e->env.sender));
		str_append_char(out, '\n');
		for (size_t r = 0; r < e->env.rcpt_count; r++) {
			str_printf(out, "%*s", 16 + 2 + 8 + 2 + 10 + 2 + 19 + 2 + 2, "");
			queue_scan_append_text(out, e->env.rcpts[r].address);
			str_printf(out, " (%s", e->states[r]);
			if (e->results[r].reason != NULL && e->results[r].state != RCPT_DELIVERED) {
				str_append_cstr(out, ": ");
				queue_scan_append_text(out, e->results[r].reason);
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

static void list_json(const struct queue_scan *list, struct str *out)
{
	size_t damaged = 0;
	str_append_cstr(out, "{\"messages\":[");
	for (size_t i = 0; i < list->count; i++) {
		const struct queue_scan_entry *e = &list->items[i];
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
static void filter_entries(struct queue_scan *list, const struct queue_select *sel)
{
	int64_t now = (int64_t)time(NULL);
	size_t kept = 0;
	for (size_t i = 0; i < list->count; i++) {
		struct queue_scan_entry *e = &list->items[i];
		if (queue_select_match(sel, e->name, e->error ? NULL : &e->env, now))
			list->items[kept++] = *e;
		else
			queue_scan_entry_free(e);
	}
	list->count = kept;
}

static int queue_list(struct mailctl *m, const char *queue_dir, const struct queue_select *sel,
                      bool mailq)
{
	struct queue_scan list = {0};
	if (scan_queues(queue_dir, &list) != 0) {
		queue_scan_free(&list);
		return 1;
	}
	if (queue_select_given(sel))
		filter_entries(&list, sel);
	struct str out = STR_INIT;
	if (m->json)
		list_json(&list, &out);
	else if (mailq)
		mailq_format(&list, &out);
	else
		list_text(&list, &out);
	fwrite(out.data, 1, out.len, stdout);
	str_free(&out);
	queue_scan_free(&list);
	return 0;
}

/* mailq for a user who may not read the queue directories (only root and
 * mail_owner may): as Postfix's postqueue -p, ask the showq service, which
 * runs as mail_owner. Its socket is in public/, which only the
 * setgid_group may enter, so the set-gid postdrop -p asks it and prints
 * the listing, or why there is none (exit status 69, EX_UNAVAILABLE, when
 * the mail system is down). Replaces this process; returns on failure. */
static int mailq_through_showq(const struct mailctl *m, const struct conf *conf,
                               const struct queue_select *sel)
{
	if (queue_select_given(sel)) {
		mailctl_error("a selection needs read access to the queue directories; "
		              "without it, list --mailq shows the whole queue");
		return EX_NOPERM;
	}
	char *path = xasprintf("%s/postdrop", conf_get(conf, "daemon_directory"));
	char *argv[5];
	int argc = 0;
	argv[argc++] = "postdrop";
	/* A set-gid postdrop takes -c from root only: the built-in directory
	 * is not named. */
	if (strcmp(m->config_dir, POSTERN_CONFIG_DIR) != 0) {
		argv[argc++] = "-c";
		argv[argc++] = (char *)m->config_dir;
	}
	argv[argc++] = "-p";
	argv[argc] = NULL;
	char *envp[] = {NULL};
	fflush(NULL);
	execve(path, argv, envp);
	mailctl_error("cannot run %s, which asks the showq service for the queue listing: %s", path,
	              strerror(errno));
	free(path);
	return EX_UNAVAILABLE;
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
static int find_entry(const char *queue_dir, const char *id, struct queue_scan_entry *e)
{
	for (size_t q = 0; all_queues[q]; q++) {
		char *path = xasprintf("%s/%s/%s", queue_dir, all_queues[q], id);
		struct stat st;
		bool found = lstat(path, &st) == 0;
		free(path);
		if (found) {
			queue_scan_entry_load(e, queue_dir, all_queues[q], id);
			return 0;
		}
	}
	return -1;
}

/* Read the content bytes of a validated file from fd into out. */
static int read_content(int fd, const struct queue_scan_entry *e, struct str *out,
                        const char **error_r)
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

static void show_text(const struct queue_scan_entry *e, const struct str *content, struct str *out)
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
	    {"content_filter", env->filter},
	};
	str_printf(out, "*** ENVELOPE ***\nid: %s\nqueue: %s\narrival: %s (%lld)\nsize: %lld\n",
	           env->id, e->queue, when, (long long)env->arrival, (long long)env->size);
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		str_printf(out, "%s: ", fields[i].name);
		queue_scan_append_text(out, fields[i].value);
		str_append_char(out, '\n');
	}
	str_printf(out, "status_log: %s\n", e->has_status_log ? "yes" : "no");
	for (size_t r = 0; r < env->rcpt_count; r++) {
		str_append_cstr(out, "recipient: ");
		queue_scan_append_text(out, env->rcpts[r].address);
		str_printf(out, " (%s)", e->states[r]);
		if (*env->rcpts[r].orcpt) {
			str_append_cstr(out, " orcpt=");
			queue_scan_append_text(out, env->rcpts[r].orcpt);
		}
		if (*env->rcpts[r].notify) {
			str_append_cstr(out, " notify=");
			queue_scan_append_text(out, env->rcpts[r].notify);
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

static void show_json(const struct queue_scan_entry *e, const struct str *content, struct str *out)
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
	json_field(out, "content_filter", env->filter);
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
static int load_message(const char *queue_dir, const char *id, struct queue_scan_entry *e,
                        struct str *content)
{
	for (int attempt = 0; attempt < 3; attempt++) {
		if (find_entry(queue_dir, id, e) != 0) {
			mailctl_error("%s: no such message in the queue", id);
			return -1;
		}
		if (e->error) {
			mailctl_error("%s (%s): damaged queue file: %s", id, e->queue, e->error);
			queue_scan_entry_free(e);
			return -1;
		}
		int fd = open(e->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0 && errno == ENOENT) {
			queue_scan_entry_free(e);
			continue;
		}
		const char *error = NULL;
		int rc =
		    fd < 0 ? (error = strerror(errno), -1) : read_content(fd, e, content, &error);
		if (fd >= 0)
			close(fd);
		if (rc != 0) {
			mailctl_error("%s: reading the content: %s", e->path, error);
			queue_scan_entry_free(e);
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
	struct queue_scan_entry e;
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
	queue_scan_entry_free(&e);
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
	queue_scan_append_text(&d->text, name);
	str_printf(&d->text, ": deleted from %s\n", queue);
	str_append_cstr(&d->json, d->count ? ",{\"id\":" : "{\"id\":");
	json_append_text(&d->json, name, strlen(name));
	json_field(&d->json, "queue", queue);
	str_append_char(&d->json, '}');
	d->count++;
}

static int delete_all(const char *queue_dir, struct deletions *d)
{
	for (size_t q = 0; queue_scan_mail_queues[q]; q++) {
		const char *error;
		char **names = queue_scan_names(queue_dir, queue_scan_mail_queues[q], &error);
		if (names == NULL) {
			mailctl_error("%s", error);
			d->failures++;
			continue;
		}
		for (size_t i = 0; names[i]; i++)
			delete_file(queue_dir, queue_scan_mail_queues[q], names[i], d);
		queue_scan_names_free(names);
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
	struct queue_scan list = {0};
	int rc = scan_queues(queue_dir, &list);
	filter_entries(&list, sel);
	for (size_t i = 0; i < list.count; i++)
		delete_file(queue_dir, list.items[i].queue, list.items[i].name, d);
	queue_scan_free(&list);
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
	              "delete|hold|release|requeue|flush SELECTION | shape [OPTIONS]\n"
	              "SELECTION: " QUEUE_SELECT_USAGE);
	return 2;
}

int cmd_queue(struct mailctl *m, int argc, char **argv)
{
	int control = cmd_queue_control(m, argc, argv);
	if (control >= 0)
		return control;
	if (argc > 1 && strcmp(argv[1], "shape") == 0)
		return cmd_queue_shape(m, argc, argv);
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
	if (is_list && mailq && !m->json && !queue_scan_readable(queue_dir))
		rc = mailq_through_showq(m, conf, &sel);
	else if (is_list)
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

/*
 * Delivery of one message into one Maildir. The write happens in a forked
 * child that, when local runs as root, first becomes the mailbox owner
 * (supplementary groups, gid, uid, verified), so no mailbox is ever written
 * with more privilege than its owner has. The child reports its outcome to
 * the parent as one IPC record over a pipe.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "local/local.h"
#include "store/maildir.h"
#include "util/alloc.h"
#include "util/ipc.h"
#include "util/privs.h"

/* How long one delivery may take before the child is killed. */
#define DELIVERY_TIMEOUT_MS (10 * 60 * 1000)
/* Stop looking for the end of the header section after this many bytes. */
#define MAX_HEADER_BYTES (1024 * 1024)

/* Length of the header section in h (without the empty line that ends it),
 * or -1 if that empty line is not there yet. */
static long header_section_length(const struct str *h)
{
	if ((h->len >= 1 && h->data[0] == '\n') || (h->len >= 2 && memcmp(h->data, "\r\n", 2) == 0))
		return 0;
	const char *crlf = memmem(h->data, h->len, "\r\n\r\n", 4);
	const char *lf = memmem(h->data, h->len, "\n\n", 2);
	if (lf && (!crlf || lf < crlf))
		return lf - h->data + 1;
	if (crlf)
		return crlf - h->data + 2;
	return -1;
}

int local_read_headers(struct local_message *msg, const char **error_r)
{
	char buf[8192];
	int64_t pos = 0;
	str_clear(&msg->headers);
	while (pos < msg->size && pos < MAX_HEADER_BYTES) {
		size_t want = sizeof(buf);
		if ((int64_t)want > msg->size - pos)
			want = (size_t)(msg->size - pos);
		ssize_t n = pread(msg->fd, buf, want, (off_t)(msg->offset + pos));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*error_r = n < 0 ? strerror(errno) : "queue file is truncated";
			return -1;
		}
		str_append(&msg->headers, buf, (size_t)n);
		pos += n;
		long len = header_section_length(&msg->headers);
		if (len >= 0) {
			str_truncate(&msg->headers, (size_t)len);
			break;
		}
	}
	return 0;
}

/* Compare one unfolded header value with address. */
static bool value_is_address(const char *value, size_t len, const char *address)
{
	while (len > 0 && (*value == ' ' || *value == '\t' || *value == '<')) {
		value++;
		len--;
	}
	while (len > 0 && strchr(" \t\r\n>", value[len - 1]) != NULL)
		len--;
	return len == strlen(address) && strncasecmp(value, address, len) == 0;
}

bool local_has_delivered_to(const struct str *headers, const char *address)
{
	static const char name[] = "Delivered-To:";
	const size_t name_len = sizeof(name) - 1;
	const char *p = headers->data, *end = headers->data + headers->len;
	struct str value = STR_INIT;
	bool found = false;
	while (p && p < end && !found) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = eol ? eol + 1 : end;
		if ((size_t)(line_end - p) > name_len && strncasecmp(p, name, name_len) == 0) {
			str_set(&value, "");
			str_append(&value, p + name_len, (size_t)(line_end - p - (long)name_len));
			/* continuation lines belong to the same header */
			while (line_end < end && (*line_end == ' ' || *line_end == '\t')) {
				const char *next = memchr(line_end, '\n', (size_t)(end - line_end));
				const char *next_end = next ? next + 1 : end;
				str_append(&value, line_end, (size_t)(next_end - line_end));
				line_end = next_end;
			}
			/* unfold: the value without its line breaks */
			struct str flat = STR_INIT;
			for (size_t i = 0; i < value.len; i++)
				if (value.data[i] != '\r' && value.data[i] != '\n')
					str_append_char(&flat, value.data[i]);
			found = value_is_address(str_cstr(&flat), flat.len, address);
			str_free(&flat);
		}
		p = line_end;
	}
	str_free(&value);
	return found;
}

/* ---- in the child ---- */

static void child_report(int fd, const char *state, const char *status, const char *reason)
{
	struct ipc_rec *rec = ipc_rec_new("result");
	ipc_rec_add_str(rec, "state", state);
	ipc_rec_add_str(rec, "status", status);
	ipc_rec_add_str(rec, "reason", reason);
	(void)ipc_write(fd, rec, 10000);
	ipc_rec_free(rec);
}

/* Become the mailbox owner for good. 0 or -1 with *error_r. */
static int child_become(const struct local_target *target, const char **error_r)
{
	if (!privs_are_root())
		return 0;
	int rc = target->user ? initgroups(target->user, target->gid) : setgroups(0, NULL);
	if (rc != 0 || setresgid(target->gid, target->gid, target->gid) != 0 ||
	    setresuid(target->uid, target->uid, target->uid) != 0) {
		*error_r = strerror(errno);
		return -1;
	}
	uid_t r, e, s;
	gid_t rg, eg, sg;
	if (getresuid(&r, &e, &s) != 0 || r != target->uid || e != target->uid ||
	    s != target->uid || getresgid(&rg, &eg, &sg) != 0 || rg != target->gid ||
	    eg != target->gid || sg != target->gid) {
		*error_r = "user or group ids not as set";
		return -1;
	}
	if (target->uid != 0 && setuid(0) == 0) {
		*error_r = "root privileges could be regained";
		return -1;
	}
	return 0;
}

/* Create base/subdirs component by component (mode 0700). */
static int child_make_dirs(const char *base, const char *subdirs, struct str *path,
                           const char **error_r)
{
	struct stat st;
	str_set(path, base);
	if (stat(base, &st) != 0) {
		*error_r = strerror(errno);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		*error_r = "not a directory";
		return -1;
	}
	const char *p = subdirs;
	while (*p != '\0') {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		str_append_char(path, '/');
		str_append(path, p, len);
		if (mkdir(str_cstr(path), 0700) != 0 && errno != EEXIST) {
			*error_r = strerror(errno);
			return -1;
		}
		p += len;
		if (*p == '/')
			p++;
	}
	return 0;
}

/* Stream the content from the queue file into the delivery. */
static int child_copy(const struct local_message *msg, struct maildir_delivery *d,
                      const char **error_r)
{
	char buf[65536];
	int64_t pos = 0;
	while (pos < msg->size) {
		size_t want = sizeof(buf);
		if ((int64_t)want > msg->size - pos)
			want = (size_t)(msg->size - pos);
		ssize_t n = pread(msg->fd, buf, want, (off_t)(msg->offset + pos));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*error_r = n < 0 ? strerror(errno) : "queue file is truncated";
			return -1;
		}
		if (maildir_delivery_write(d, buf, (size_t)n, error_r) != 0)
			return -1;
		pos += n;
	}
	return 0;
}

static void child_deliver(int report_fd, const struct local_message *msg,
                          const struct local_target *target, const char *delivered_to)
{
	const char *error = "";
	struct str path = STR_INIT, text = STR_INIT;
	if (child_become(target, &error) != 0) {
		str_printf(&text, "cannot change to user id %ld: %s", (long)target->uid, error);
		child_report(report_fd, "deferred", "4.3.0", str_cstr(&text));
		return;
	}
	if (child_make_dirs(target->base, target->subdirs, &path, &error) != 0) {
		str_printf(&text, "cannot create mailbox directory %s: %s", str_cstr(&path), error);
		child_report(report_fd, "deferred", "4.2.0", str_cstr(&text));
		return;
	}
	str_printf(&path, "/%s", target->maildir);
	struct maildir_delivery *d = NULL;
	if (maildir_create(str_cstr(&path), &error) != 0 ||
	    (d = maildir_delivery_begin(str_cstr(&path), &error)) == NULL) {
		str_printf(&text, "cannot create maildir: %s", error);
		child_report(report_fd, "deferred", "4.2.0", str_cstr(&text));
		return;
	}
	str_printf(&text, "Return-Path: <%s>\r\nDelivered-To: %s\r\n", msg->sender, delivered_to);
	char *name = NULL;
	if (maildir_delivery_write(d, text.data, text.len, &error) != 0 ||
	    child_copy(msg, d, &error) != 0) {
		maildir_delivery_abort(d);
	} else if (maildir_delivery_commit(d, &name, &error) == 0) {
		free(name);
		child_report(report_fd, "delivered", "2.0.0", "delivered to maildir");
		return;
	}
	str_clear(&text);
	str_printf(&text, "cannot write to maildir: %s", error);
	child_report(report_fd, "deferred", "4.2.0", str_cstr(&text));
}

/* ---- in the parent ---- */

static void set_result(struct local_result *result, const char *state, const char *status,
                       const char *reason)
{
	result->state = state;
	result->status = status;
	result->reason = xstrdup(reason);
}

void local_deliver_maildir(const struct local_message *msg, const struct local_target *target,
                           const char *delivered_to, struct local_result *result)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) != 0) {
		set_result(result, "deferred", "4.3.0", "cannot create pipe");
		return;
	}
	pid_t pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		set_result(result, "deferred", "4.3.0", "cannot fork delivery process");
		return;
	}
	if (pid == 0) {
		close(fds[0]);
		signal(SIGPIPE, SIG_IGN);
		child_deliver(fds[1], msg, target, delivered_to);
		_exit(0);
	}
	close(fds[1]);
	struct ipc_rec *rec = NULL;
	const char *error = "";
	int rc = ipc_read(fds[0], &rec, 65536, DELIVERY_TIMEOUT_MS, &error);
	close(fds[0]);
	if (rc != 1)
		kill(pid, SIGKILL);
	int wstatus;
	while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
		;
	const char *state = rc == 1 ? ipc_rec_get_str(rec, "state") : NULL;
	const char *status = rc == 1 ? ipc_rec_get_str(rec, "status") : NULL;
	const char *reason = rc == 1 ? ipc_rec_get_str(rec, "reason") : NULL;
	if (state && status && reason) {
		/* The strings must outlive rec: map state and status to constants. */
		const char *s = strcmp(state, "delivered") == 0 ? "delivered" : "deferred";
		set_result(result, s,
		           strcmp(s, "delivered") == 0    ? "2.0.0"
		           : strcmp(status, "4.3.0") == 0 ? "4.3.0"
		                                          : "4.2.0",
		           reason);
	} else {
		set_result(result, "deferred", "4.3.0", "delivery process failed");
	}
	ipc_rec_free(rec);
}

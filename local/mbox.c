/*
 * Appending one message to an mbox file: a system user's mailbox
 * (/var/mail/USER or a home_mailbox file) or a /file target of an alias,
 * .forward or :include:. Runs in a child with the owner's privileges.
 *
 * Locking, as other mail programs on the host expect: first a dot lock
 * (PATH.lock made with O_EXCL; one older than STALE_LOCK_SECONDS is
 * removed), then an fcntl write lock on the file; each is tried
 * lock_attempts times lock_delay apart, after that the delivery is
 * deferred. A /file target in a directory we may not write is locked with
 * fcntl only.
 *
 * What is written to, as Postfix's local checks it: never a symlink (the
 * last component is opened O_NOFOLLOW), a file with more than one link or
 * anything but a regular file (a /file target may also be a character
 * device such as /dev/null; a FIFO fails at once), all deferred; a
 * mailbox only when the user we write as owns it (strict_mailbox_ownership
 * in Postfix: another user who made the file in a shared spool would read
 * the mail), else deferred with 4.2.0; a /file target never when it is
 * executable (bounced, 5.7.1: mail appended to a script could be run).
 *
 * The message gets a "From sender date" line, Return-Path and
 * Delivered-To headers, LF line ends, '>' before body lines that start
 * with "From ", and an empty line after it. A failed write truncates the
 * file back to the size it had, so a half message never stays behind.
 * If qmgr went away (local_child_abandoned) before the write, nothing is
 * written; if it went away during the write, the file is truncated back
 * while still locked, so no copy stays that nobody records.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "local/local.h"
#include "util/alloc.h"
#include "util/log.h"

#define MBOX_TIMEOUT_MS (10 * 60 * 1000)
#define STALE_LOCK_SECONDS 500
#define FLUSH_AT 65536

struct mbox_job {
	const struct local_message *msg;
	const struct local_mbox *mbox;
	const struct local_headers *h;
};

struct mbox_writer {
	int fd;
	struct str out;   /* converted bytes not yet written */
	struct str carry; /* an incomplete line */
};

static void sleep_ms(long long ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* 1 locked, 0 busy after all attempts, -1 error (errno). */
static int dotlock_take(const char *lock, const struct local_mbox *m)
{
	for (int i = 0; i < m->lock_attempts; i++) {
		int fd = open(lock, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd >= 0) {
			close(fd);
			return 1;
		}
		if (errno != EEXIST)
			return -1;
		struct stat st;
		if (lstat(lock, &st) == 0 && time(NULL) - st.st_mtime > STALE_LOCK_SECONDS) {
			unlink(lock);
			continue;
		}
		if (i + 1 < m->lock_attempts)
			sleep_ms(m->lock_delay_ms);
	}
	return 0;
}

/* 1 locked, 0 busy after all attempts, -1 error. */
static int fcntl_take(int fd, const struct local_mbox *m)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	for (int i = 0; i < m->lock_attempts; i++) {
		if (fcntl(fd, F_SETLK, &fl) == 0)
			return 1;
		if (errno != EAGAIN && errno != EACCES && errno != EINTR)
			return -1;
		if (i + 1 < m->lock_attempts)
			sleep_ms(m->lock_delay_ms);
	}
	return 0;
}

static int write_all(int fd, const char *data, size_t len, const char **error_r)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*error_r = n < 0 ? strerror(errno) : "short write";
			return -1;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

static int writer_flush(struct mbox_writer *w, const char **error_r)
{
	int rc = write_all(w->fd, w->out.data, w->out.len, error_r);
	str_clear(&w->out);
	return rc;
}

/* One whole line (without its line end) into the output, quoted. */
static void writer_line(struct mbox_writer *w, const char *line, size_t len)
{
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len >= 5 && memcmp(line, "From ", 5) == 0)
		str_append_char(&w->out, '>');
	str_append(&w->out, line, len);
	str_append_char(&w->out, '\n');
}

static int writer_content(void *arg, const char *data, size_t len, const char **error_r)
{
	struct mbox_writer *w = arg;
	while (len > 0) {
		const char *nl = memchr(data, '\n', len);
		if (nl == NULL) {
			str_append(&w->carry, data, len);
			break;
		}
		size_t n = (size_t)(nl - data);
		if (w->carry.len > 0) {
			str_append(&w->carry, data, n);
			writer_line(w, w->carry.data, w->carry.len);
			str_clear(&w->carry);
		} else {
			writer_line(w, data, n);
		}
		data += n + 1;
		len -= n + 1;
	}
	return w->out.len >= FLUSH_AT ? writer_flush(w, error_r) : 0;
}

/* The envelope line, the added headers and the message; 0 or -1. */
static int write_message(struct mbox_writer *w, const struct mbox_job *job, const char **error_r)
{
	time_t now = time(NULL);
	struct tm tm;
	char date[64];
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", &tm);
	const char *sender = job->h->return_path[0] ? job->h->return_path : "MAILER-DAEMON";
	str_printf(&w->out, "From %s  %s\n", sender, date);
	str_printf(&w->out, "Return-Path: <%s>\nDelivered-To: %s\n", job->h->return_path,
	           job->h->delivered_to);
	if (local_copy_content(job->msg, writer_content, w, error_r) != 0)
		return -1;
	if (w->carry.len > 0)
		writer_line(w, w->carry.data, w->carry.len);
	str_append_char(&w->out, '\n');
	if (writer_flush(w, error_r) != 0)
		return -1;
	if (fsync(w->fd) != 0 && errno != EINVAL) {
		*error_r = strerror(errno);
		return -1;
	}
	return 0;
}

static void report_errno(int fd, const char *what, const char *path, const char *detail)
{
	char *text = xasprintf("cannot %s %s: %s", what, path, detail);
	local_child_report(fd, "deferred", "4.2.0", text);
	free(text);
}

static void mbox_child(void *arg, int report_fd)
{
	const struct mbox_job *job = arg;
	const struct local_mbox *m = job->mbox;
	char *lock = xasprintf("%s.lock", m->path);
	bool have_dotlock = false;
	int rc = dotlock_take(lock, m);
	if (rc == 0) {
		report_errno(report_fd, "lock", m->path, "the dot lock is held by another process");
		goto out;
	}
	if (rc < 0 &&
	    (m->dotlock_required || !(errno == EACCES || errno == EROFS || errno == EPERM))) {
		report_errno(report_fd, "create dot lock for", m->path, strerror(errno));
		goto out;
	}
	have_dotlock = rc == 1;
	/* O_NONBLOCK: a FIFO put in place of the file fails at once (ENXIO)
	 * instead of holding the delivery until a reader comes. */
	int fd = open(
	    m->path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
	    0600);
	struct stat st;
	if (fd < 0) {
		report_errno(report_fd, "open", m->path, strerror(errno));
		goto out;
	}
	const char *refused = NULL;
	const char *status = "4.2.0";
	if (fstat(fd, &st) != 0 || !(S_ISREG(st.st_mode) || (!m->mailbox && S_ISCHR(st.st_mode))))
		refused = "not a regular file";
	else if (S_ISREG(st.st_mode) && st.st_nlink != 1)
		refused = "the file has more than one link";
	else if (m->mailbox && st.st_uid != geteuid())
		refused = "not owned by the recipient"; /* Postfix's strict_mailbox_ownership */
	else if (!m->mailbox && S_ISREG(st.st_mode) &&
	         (st.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH))) {
		refused = "file is executable"; /* bounced, as Postfix's */
		status = "5.7.1";
	} else if (fcntl(fd, F_SETFL, O_APPEND) != 0)
		refused = strerror(errno);
	if (refused != NULL) {
		char *text = xasprintf("cannot deliver to %s: %s", m->path, refused);
		local_child_report(report_fd, status[0] == '5' ? "bounced" : "deferred", status,
		                   text);
		free(text);
		close(fd);
		goto out;
	}
	if (S_ISREG(st.st_mode) && (rc = fcntl_take(fd, m)) != 1) {
		report_errno(report_fd, "lock", m->path,
		             rc == 0 ? "the file is locked by another process" : strerror(errno));
		close(fd);
		goto out;
	}
	off_t old_size = S_ISREG(st.st_mode) ? lseek(fd, 0, SEEK_END) : 0;
	struct mbox_writer w = {.fd = fd, .out = STR_INIT, .carry = STR_INIT};
	const char *error = "";
	if (local_child_abandoned(report_fd)) {
		/* qmgr is gone: nothing written */
	} else if (write_message(&w, job, &error) != 0) {
		if (S_ISREG(st.st_mode) && ftruncate(fd, old_size) != 0)
			error = "write failed and the file could not be truncated back";
		report_errno(report_fd, "write to", m->path, error);
	} else if (S_ISREG(st.st_mode) && local_child_abandoned(report_fd)) {
		/* qmgr went away while we wrote: still locked, take it back */
		if (ftruncate(fd, old_size) != 0 || fsync(fd) != 0)
			log_warn("%s: cannot truncate back an abandoned delivery: %m", m->path);
	} else {
		local_child_report(report_fd, "delivered", "2.0.0",
		                   S_ISREG(st.st_mode) ? "delivered to mailbox"
		                                       : "delivered to device");
	}
	str_free(&w.out);
	str_free(&w.carry);
	close(fd);
out:
	if (have_dotlock)
		unlink(lock);
	free(lock);
}

void local_deliver_mbox(const struct local_message *msg, const struct local_creds *creds,
                        const struct local_mbox *mbox, const struct local_headers *h,
                        struct local_result *result)
{
	if (mbox->mailbox
	        ? local_verify_stop(msg, creds, result, "delivers to mailbox")
	        : local_verify_stop(msg, creds, result, "delivers to file: %s", mbox->path))
		return;
	struct mbox_job job = {msg, mbox, h};
	const char *error = "";
	struct ipc_rec *rec = local_run_child(creds, MBOX_TIMEOUT_MS, mbox_child, &job, &error);
	local_child_result(rec, error, result);
	ipc_rec_free(rec);
}

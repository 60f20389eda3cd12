/*
 * Delivery of one message into one Maildir, as a job record run with the
 * mailbox owner's privileges: in a long-lived child (worker.c) for the
 * virtual mailbox owner, in a child of its own (child.c) for a system
 * user, who should not find a process of theirs left behind. The message is written into tmp/,
 * synced and moved into new/ by the store's Maildir code, unless qmgr went away meanwhile (looked
 * at after the sync, just before the move; then it is removed from tmp/ again). A virtual user's
 * quota is checked first against the sizes of the messages in new/ and cur/.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "local/local.h"
#include "mail/lf_lines.h"
#include "mail/mailbox.h"
#include "store/maildir.h"
#include "util/alloc.h"

/* How long one delivery may take before the child is killed. */
#define DELIVERY_TIMEOUT_MS (10 * 60 * 1000)

struct maildir_job {
	struct local_message msg; /* only fd, offset and size */
	struct local_maildir where;
	struct local_headers h;
};

/* Bytes of the messages in maildir/sub. */
static long long folder_bytes(const char *maildir, const char *sub)
{
	char *path = xasprintf("%s/%s", maildir, sub);
	long long total = 0;
	DIR *d = opendir(path);
	struct dirent *de;
	struct stat st;
	while (d && (de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' && fstatat(dirfd(d), de->d_name, &st, 0) == 0 &&
		    S_ISREG(st.st_mode))
			total += (long long)st.st_size;
	if (d)
		closedir(d);
	free(path);
	return total;
}

/* The file gets LF line ends, as Postfix's and Dovecot's deliveries
 * write them (the queue holds CRLF; readers such as pop3d send CRLF). */
struct lf_writer {
	struct maildir_delivery *d;
	struct lf_lines lf;
	struct str buf;
};

static int write_piece(void *arg, const char *data, size_t len, const char **error_r)
{
	struct lf_writer *w = arg;
	str_clear(&w->buf);
	lf_lines_put(&w->lf, data, len, &w->buf);
	return maildir_delivery_write(w->d, w->buf.data, w->buf.len, error_r);
}

/* The added headers and the message, in LF form. 0 or -1 with *error_r. */
static int write_message(struct maildir_delivery *d, const struct maildir_job *job,
                         const char **error_r)
{
	struct lf_writer w = {.d = d};
	lf_lines_init(&w.lf);
	str_printf(&w.buf, "Return-Path: <%s>\nDelivered-To: %s\n", job->h.return_path,
	           job->h.delivered_to);
	int rc = maildir_delivery_write(d, w.buf.data, w.buf.len, error_r);
	if (rc == 0)
		rc = local_copy_content(&job->msg, write_piece, &w, error_r);
	if (rc == 0) {
		str_clear(&w.buf);
		lf_lines_end(&w.lf, &w.buf);
		rc = maildir_delivery_write(d, w.buf.data, w.buf.len, error_r);
	}
	str_free(&w.buf);
	return rc;
}

static void maildir_child(const struct maildir_job *job, int report_fd)
{
	const struct local_maildir *where = &job->where;
	const char *error = "";
	const char *path = where->path;
	struct str text = STR_INIT;
	str_printf(&text, "Return-Path: <%s>\r\nDelivered-To: %s\r\n", job->h.return_path,
	           job->h.delivered_to);
	if (where->quota >= 0) {
		/* A Maildir not made yet holds nothing (folder_bytes: 0). */
		long long used = folder_bytes(path, "new") + folder_bytes(path, "cur");
		long long want = (long long)text.len + (long long)job->msg.size;
		if (used + want > where->quota) {
			str_clear(&text);
			str_printf(&text,
			           "mailbox is full: %lld bytes used of the quota of %lld, message "
			           "of %lld bytes",
			           used, where->quota, want);
			if (where->quota_bounce)
				local_child_report(report_fd, "bounced", "5.2.2", str_cstr(&text));
			else
				local_child_report(report_fd, "deferred", "4.2.2", str_cstr(&text));
			goto out;
		}
	}
	/* The directories are made only when the file in tmp/ cannot be
	 * created for want of them: the Maildir's by the store, base/subdirs
	 * (the user's first delivery) here. */
	struct maildir_delivery *d = maildir_delivery_begin(path, &error);
	if (d == NULL && errno == ENOENT) {
		struct str dirs = STR_INIT;
		if (mailbox_make_dirs(where->base, where->subdirs, &dirs, &error) != 0) {
			str_clear(&text);
			str_printf(&text, "cannot create mailbox directory %s: %s", str_cstr(&dirs),
			           error);
			local_child_report(report_fd, "deferred", "4.2.0", str_cstr(&text));
			str_free(&dirs);
			goto out;
		}
		str_free(&dirs);
		d = maildir_delivery_begin(path, &error);
	}
	if (d == NULL) {
		str_clear(&text);
		str_printf(&text, "cannot create maildir: %s", error);
		local_child_report(report_fd, "deferred", "4.2.0", str_cstr(&text));
		goto out;
	}
	char *name = NULL;
	if (write_message(d, job, &error) != 0 || maildir_delivery_sync(d, &error) != 0) {
		maildir_delivery_abort(d);
	} else if (local_child_abandoned(report_fd)) {
		maildir_delivery_abort(d); /* removes the file in tmp/ */
		goto out;
	} else if (maildir_delivery_commit(d, &name, &error) == 0) {
		free(name);
		local_child_report(report_fd, "delivered", "2.0.0", "delivered to maildir");
		goto out;
	}
	str_clear(&text);
	str_printf(&text, "cannot write to maildir: %s", error);
	local_child_report(report_fd, "deferred", "4.2.0", str_cstr(&text));
out:
	/* A worker runs many jobs: nothing of one may stay behind. */
	str_free(&text);
}

void local_maildir_job(const struct ipc_rec *rec, int msg_fd, int report_fd)
{
	struct maildir_job job = {0};
	int64_t offset, size, quota, quota_bounce;
	job.where.base = ipc_rec_get_str(rec, "base");
	job.where.subdirs = ipc_rec_get_str(rec, "subdirs");
	job.where.path = ipc_rec_get_str(rec, "path");
	job.h.return_path = ipc_rec_get_str(rec, "return_path");
	job.h.delivered_to = ipc_rec_get_str(rec, "delivered_to");
	if (msg_fd < 0 || !job.where.base || !job.where.subdirs || !job.where.path ||
	    !job.h.return_path || !job.h.delivered_to || !ipc_rec_get_int(rec, "offset", &offset) ||
	    !ipc_rec_get_int(rec, "size", &size) || !ipc_rec_get_int(rec, "quota", &quota) ||
	    !ipc_rec_get_int(rec, "quota_bounce", &quota_bounce)) {
		local_child_report(report_fd, "deferred", "4.3.0", "malformed delivery job");
		return;
	}
	job.msg.fd = msg_fd;
	job.msg.offset = offset;
	job.msg.size = size;
	job.where.quota = quota;
	job.where.quota_bounce = quota_bounce != 0;
	maildir_child(&job, report_fd);
}

/* A job run in a child of its own. */
struct forked_job {
	const struct ipc_rec *job;
	int msg_fd;
};

static void forked_maildir_job(void *arg, int report_fd)
{
	const struct forked_job *f = arg;
	local_maildir_job(f->job, f->msg_fd, report_fd);
}

void local_deliver_maildir(const struct local_message *msg, const struct local_creds *creds,
                           const struct local_maildir *where, const struct local_headers *h,
                           bool service_owner, struct local_result *result)
{
	if (local_verify_stop(msg, creds, result, "delivers to maildir"))
		return;
	struct ipc_rec *job = ipc_rec_new("maildir");
	ipc_rec_add_str(job, "base", where->base);
	ipc_rec_add_str(job, "subdirs", where->subdirs);
	ipc_rec_add_str(job, "path", where->path);
	ipc_rec_add_int(job, "quota", where->quota);
	ipc_rec_add_int(job, "quota_bounce", where->quota_bounce);
	ipc_rec_add_str(job, "return_path", h->return_path);
	ipc_rec_add_str(job, "delivered_to", h->delivered_to);
	ipc_rec_add_int(job, "offset", msg->offset);
	ipc_rec_add_int(job, "size", msg->size);
	const char *error = "";
	struct ipc_rec *rec;
	if (service_owner) {
		rec = local_worker_run(creds, DELIVERY_TIMEOUT_MS, job, msg->fd, &error);
	} else {
		struct forked_job f = {job, msg->fd};
		rec = local_run_child(creds, DELIVERY_TIMEOUT_MS, forked_maildir_job, &f, &error);
	}
	ipc_rec_free(job);
	local_child_result(rec, error, result);
	ipc_rec_free(rec);
}

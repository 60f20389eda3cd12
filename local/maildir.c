/*
 * Delivery of one message into one Maildir, in a child with the mailbox
 * owner's privileges (child.c). The message is written into tmp/, synced
 * and moved into new/ by the store's Maildir code, unless qmgr went away
 * meanwhile (looked at after the sync, just before the move; then it is
 * removed from tmp/ again). A virtual user's quota is checked first
 * against the sizes of the messages in new/ and cur/.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "local/local.h"
#include "mail/mailbox.h"
#include "store/maildir.h"
#include "util/alloc.h"

/* How long one delivery may take before the child is killed. */
#define DELIVERY_TIMEOUT_MS (10 * 60 * 1000)

struct maildir_job {
	const struct local_message *msg;
	const struct local_maildir *where;
	const struct local_headers *h;
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

static int write_piece(void *arg, const char *data, size_t len, const char **error_r)
{
	return maildir_delivery_write(arg, data, len, error_r);
}

static void maildir_child(void *arg, int report_fd)
{
	const struct maildir_job *job = arg;
	const struct local_maildir *where = job->where;
	const char *error = "";
	struct str path = STR_INIT, text = STR_INIT;
	if (mailbox_make_dirs(where->base, where->subdirs, &path, &error) != 0) {
		str_printf(&text, "cannot create mailbox directory %s: %s", str_cstr(&path), error);
		local_child_report(report_fd, "deferred", "4.2.0", str_cstr(&text));
		return;
	}
	str_printf(&path, "/%s", where->maildir);
	str_printf(&text, "Return-Path: <%s>\r\nDelivered-To: %s\r\n", job->h->return_path,
	           job->h->delivered_to);
	if (where->quota >= 0 && maildir_create(str_cstr(&path), &error) == 0) {
		long long used =
		    folder_bytes(str_cstr(&path), "new") + folder_bytes(str_cstr(&path), "cur");
		long long want = (long long)text.len + (long long)job->msg->size;
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
			return;
		}
	}
	struct maildir_delivery *d = NULL;
	if (maildir_create(str_cstr(&path), &error) != 0 ||
	    (d = maildir_delivery_begin(str_cstr(&path), &error)) == NULL) {
		str_clear(&text);
		str_printf(&text, "cannot create maildir: %s", error);
		local_child_report(report_fd, "deferred", "4.2.0", str_cstr(&text));
		return;
	}
	char *name = NULL;
	if (maildir_delivery_write(d, text.data, text.len, &error) != 0 ||
	    local_copy_content(job->msg, write_piece, d, &error) != 0 ||
	    maildir_delivery_sync(d, &error) != 0) {
		maildir_delivery_abort(d);
	} else if (local_child_abandoned(report_fd)) {
		maildir_delivery_abort(d); /* removes the file in tmp/ */
		str_free(&path);
		str_free(&text);
		return;
	} else if (maildir_delivery_commit(d, &name, &error) == 0) {
		free(name);
		local_child_report(report_fd, "delivered", "2.0.0", "delivered to maildir");
		return;
	}
	str_clear(&text);
	str_printf(&text, "cannot write to maildir: %s", error);
	local_child_report(report_fd, "deferred", "4.2.0", str_cstr(&text));
}

void local_deliver_maildir(const struct local_message *msg, const struct local_creds *creds,
                           const struct local_maildir *where, const struct local_headers *h,
                           struct local_result *result)
{
	struct maildir_job job = {msg, where, h};
	const char *error = "";
	struct ipc_rec *rec =
	    local_run_child(creds, DELIVERY_TIMEOUT_MS, maildir_child, &job, &error);
	local_child_result(rec, error, result);
	ipc_rec_free(rec);
}

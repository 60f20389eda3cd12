/*
 * Forwarding: the addresses an alias, .forward or :include: names that are
 * not delivered here (other domains) go out as a new message. local writes
 * a new queue file into incoming/ (as mail_owner, in a child, like any
 * other writer of the queue) with the original content behind a
 * Delivered-To: header for the address that was expanded, so a forwarding
 * loop comes back as a loop and bounces; then it wakes qmgr. The envelope
 * sender is the original one, or owner-ALIAS when the alias has an owner.
 * The new message carries DSN parameters as Postfix's local gives them
 * (local_forward_dsn_init: ENVID, RET, and each recipient's NOTIFY and
 * ORCPT from the recipient that was expanded; see local(8)).
 * The recipients go through virtual_alias_maps, as smtpd's and pickup's
 * do; one unknown there is bounced (the others still go out), one whose
 * expansion loops is queued for qmgr to defer until the table is fixed.
 * If qmgr has gone away before the copy is committed, it is not queued.
 * A verify request stops after virtual_alias_maps: the result says where
 * the copy would go, and nothing is written (verify.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "local/local.h"
#include "mail/virtual_alias.h"
#include "mail/wakeup.h"
#include "util/alloc.h"
#include "util/privs.h"
#include "util/sock.h"

#define FORWARD_TIMEOUT_MS (10 * 60 * 1000)

struct forward_job {
	const struct conf *conf;
	const struct local_message *msg;
	const char *sender;
	char *const *rcpts;
	size_t count;
	const char *delivered_to;
	const struct local_forward_dsn *dsn;
};

/* notify without SUCCESS; SUCCESS alone becomes NEVER, and the default
 * ("") stays the default. */
static char *notify_without_success(const char *notify)
{
	struct str out = STR_INIT;
	for (const char *p = notify; *p;) {
		size_t n = strcspn(p, ",");
		if (n > 0 && !(n == 7 && strncasecmp(p, "SUCCESS", 7) == 0)) {
			if (out.len > 0)
				str_append_char(&out, ',');
			str_append(&out, p, n);
		}
		p += n;
		if (*p == ',')
			p++;
	}
	if (out.len == 0 && notify[0] != '\0')
		str_set(&out, "NEVER");
	return str_steal(&out);
}

static bool is_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

void local_forward_dsn_init(struct local_forward_dsn *dsn, const struct local_message *msg,
                            const char *address, bool owner_list)
{
	if (owner_list) {
		*dsn =
		    (struct local_forward_dsn){xstrdup(""), xstrdup(""), xstrdup(""), xstrdup("")};
		return;
	}
	const struct queue_envelope *env = msg->env;
	const struct queue_rcpt *rcpt = local_message_rcpt(msg, address);
	/* the ORCPT as virtual alias expansion makes one (lib/mail/virtual_alias.c) */
	const char *original = rcpt ? rcpt->address : address;
	dsn->envid = xstrdup(env && env->envid ? env->envid : "");
	dsn->ret = xstrdup(env && env->ret ? env->ret : "");
	dsn->notify = notify_without_success(rcpt && rcpt->notify ? rcpt->notify : "");
	dsn->orcpt = rcpt && rcpt->orcpt && rcpt->orcpt[0]
	                 ? xstrdup(rcpt->orcpt)
	                 : xasprintf("%s;%s", is_ascii(original) ? "rfc822" : "utf-8", original);
}

void local_forward_dsn_free(struct local_forward_dsn *dsn)
{
	free(dsn->envid);
	free(dsn->ret);
	free(dsn->notify);
	free(dsn->orcpt);
}

static int write_piece(void *arg, const char *data, size_t len, const char **error_r)
{
	return queue_writer_write(arg, data, len, error_r);
}

static void wake_qmgr(const char *queue_dir)
{
	char *path = xasprintf("%s/public/qmgr", queue_dir);
	(void)mail_wakeup(path, false, 100); /* if not: qmgr finds it on its next scan */
	free(path);
}

/* A verify request: what forward_child would report, nothing queued. */
static void verify_report(int report_fd, const struct queue_envelope *queued,
                          const struct virtual_alias_failure *failed, size_t failed_count)
{
	struct local_result r = {0};
	if (failed_count > 0) {
		char *text = xasprintf("forward to <%s>: %s", failed[0].address, failed[0].reason);
		local_result_set(&r, "bounced", failed[0].status, text);
		free(text);
	} else {
		struct str list = STR_INIT;
		for (size_t i = 0; i < queued->rcpt_count; i++)
			local_verify_list_add(&list, queued->rcpts[i].address);
		local_verify_delivered(&r, "forwards to %s", str_cstr(&list));
		str_free(&list);
	}
	local_child_report(report_fd, r.state, r.status, r.reason);
	free(r.reason);
}

static void forward_child(void *arg, int report_fd)
{
	const struct forward_job *job = arg;
	const struct queue_envelope *orig = job->msg->env;
	const char *queue_dir = conf_get(job->conf, "queue_directory");
	struct queue_envelope env;
	queue_envelope_init(&env);
	env.arrival = (int64_t)time(NULL);
	env.sender = xstrdup(job->sender);
	env.envid = xstrdup(job->dsn->envid);
	env.ret = xstrdup(job->dsn->ret);
	env.body = xstrdup(orig && orig->body ? orig->body : "");
	env.smtputf8 = orig ? orig->smtputf8 : false;
	env.client_name = xstrdup("localhost");
	env.protocol = xstrdup("local");
	env.origin = xstrdup("forward");
	for (size_t i = 0; i < job->count; i++)
		queue_envelope_add_rcpt(&env, job->rcpts[i], job->dsn->orcpt, job->dsn->notify);
	const char *error = "";
	/* Like any message that enters the queue: virtual aliases first. */
	struct virtual_alias *va = virtual_alias_from_conf(job->conf);
	struct queue_envelope queued;
	struct virtual_alias_failure *failed = NULL;
	size_t failed_count = 0;
	char *reason = NULL;
	if (virtual_alias_rewrite_envelope(va, &env, &queued, &failed, &failed_count, &reason) !=
	    0) {
		local_child_report(report_fd, "deferred", "4.3.0", reason);
		free(reason);
		virtual_alias_free(va);
		queue_envelope_free(&env);
		return;
	}
	virtual_alias_free(va);
	if (job->msg->verify) {
		verify_report(report_fd, &queued, failed, failed_count);
		virtual_alias_failures_free(failed, failed_count);
		queue_envelope_free(&queued);
		queue_envelope_free(&env);
		return;
	}
	struct str header = STR_INIT;
	str_printf(&header, "Delivered-To: %s\r\n", job->delivered_to);
	struct queue_writer *w =
	    queued.rcpt_count > 0 ? queue_writer_open(queue_dir, &queued, &error) : NULL;
	bool written = w != NULL && queue_writer_write(w, header.data, header.len, &error) == 0 &&
	               local_copy_content(job->msg, write_piece, w, &error) == 0;
	if (written && local_child_abandoned(report_fd)) {
		/* qmgr is gone: the copy is not queued (aborted below) */
	} else if (queued.rcpt_count == 0 ||
	           (written && queue_writer_commit(w, "incoming", &error) == 0)) {
		if (failed_count > 0) {
			/* the others went out; this one is returned */
			char *text =
			    xasprintf("forward to <%s>: %s", failed[0].address, failed[0].reason);
			local_child_report(report_fd, "bounced", failed[0].status, text);
			free(text);
		} else {
			char *text = xasprintf("forwarded as %s", queue_writer_id(w));
			local_child_report(report_fd, "delivered", "2.0.0", text);
			free(text);
		}
		if (w != NULL)
			wake_qmgr(queue_dir);
	} else {
		char *text = xasprintf("cannot queue the forwarded message: %s", error);
		local_child_report(report_fd, "deferred", "4.3.0", text);
		free(text);
	}
	if (w != NULL)
		queue_writer_abort(w);
	str_free(&header);
	virtual_alias_failures_free(failed, failed_count);
	queue_envelope_free(&queued);
	queue_envelope_free(&env);
}

void local_forward(const struct conf *conf, const struct local_message *msg, const char *sender,
                   char *const *rcpts, size_t count, const char *delivered_to,
                   const struct local_forward_dsn *dsn, struct local_result *result)
{
	struct local_creds creds = {getuid(), getgid(), NULL, (gid_t)-1, false};
	const char *error = "";
	if (privs_are_root() &&
	    privs_lookup(conf_get(conf, "mail_owner"), &creds.uid, &creds.gid, &error) != 0) {
		char *text = xasprintf("mail_owner: %s", error);
		local_result_set(result, "deferred", "4.3.0", text);
		free(text);
		return;
	}
	struct forward_job job = {conf, msg, sender, rcpts, count, delivered_to, dsn};
	struct ipc_rec *rec =
	    local_run_child(&creds, FORWARD_TIMEOUT_MS, forward_child, &job, &error);
	local_child_result(rec, error, result);
	ipc_rec_free(rec);
}

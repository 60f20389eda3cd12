/*
 * Queueing one delivery status notification (RFC 3464, built by
 * lib/mail/dsn.h) as a new queue file from the null sender: to the
 * envelope sender (origin "bounce"), or to the postmaster about a
 * notification that could not be delivered (origin "double-bounce").
 * notify.c decides which notifications are due.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "mail/dsn.h"
#include "qmgr/qmgr.h"
#include "util/alloc.h"
#include "util/log.h"
#include "util/str.h"

/* As Postfix's bounce_size_limit: this much of the original comes back. */
#define BOUNCE_SIZE_LIMIT 50000

/* The first up to limit bytes of the message content. */
static int read_content(const char *path, size_t offset, int64_t size, struct str *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t want = size > BOUNCE_SIZE_LIMIT ? BOUNCE_SIZE_LIMIT : (size_t)(size < 0 ? 0 : size);
	str_reserve(out, want + 1);
	while (out->len < want) {
		ssize_t n =
		    pread(fd, out->data + out->len, want - out->len, (off_t)(offset + out->len));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		out->len += (size_t)n;
	}
	close(fd);
	return 0;
}

static const char *describe(enum dsn_action action, const char *origin)
{
	if (strcmp(origin, "double-bounce") == 0)
		return action == DSN_ACTION_DELAYED ? "postmaster delay notification"
		                                    : "postmaster non-delivery notification";
	if (action == DSN_ACTION_DELAYED)
		return "sender delay notification";
	if (action == DSN_ACTION_FAILED)
		return "sender non-delivery notification";
	return "sender delivery status notification";
}

static int queue_text(const struct queue_envelope *env, const struct str *text, const char *to,
                      const char *origin, const char *what)
{
	struct queue_envelope notice;
	queue_envelope_init(&notice);
	notice.arrival = (int64_t)time(NULL);
	notice.sender = xstrdup("");
	notice.client_name = xstrdup("localhost");
	notice.protocol = xstrdup("local");
	notice.origin = xstrdup(origin);
	queue_envelope_add_rcpt(&notice, to, NULL, NULL);
	const char *error;
	int rc = -1;
	struct queue_writer *w = queue_writer_open(qmgr.queue_dir, &notice, &error);
	if (w != NULL && queue_writer_write(w, text->data, text->len, &error) == 0 &&
	    queue_writer_commit(w, "incoming", &error) == 0) {
		log_info("%s: %s: %s", env->id, what, queue_writer_id(w));
		qmgr_queued_mail();
		rc = 0;
	} else {
		log_error("%s: cannot queue a %s: %s", env->id, what, error);
	}
	if (w != NULL)
		queue_writer_abort(w);
	queue_envelope_free(&notice);
	return rc;
}

/* One report about the listed recipients, each with actions[k];
 * requested: one the sender asked for (sendmail -v, -bv). */
static int queue_report(const struct queue_envelope *env, const char *path, size_t content_offset,
                        const struct status_log *log, const size_t *indexes, size_t count,
                        const enum dsn_action *actions, const char *to, const char *origin,
                        const char *what, bool requested)
{
	struct dsn_rcpt *rcpts = xcalloc(count, sizeof(*rcpts));
	struct str *diags = xcalloc(count, sizeof(*diags));
	int64_t now = (int64_t)time(NULL);
	for (size_t k = 0; k < count; k++) {
		size_t i = indexes[k];
		const struct rcpt_result *r = &log->rcpts[i];
		/* A remote server's own reply is "smtp; ..."; anything else
		 * is ours. */
		if (r->diagnostic)
			str_set(&diags[k], r->diagnostic);
		else
			str_printf(&diags[k], "x-postern; %s", r->reason ? r->reason : "");
		rcpts[k] = (struct dsn_rcpt){
		    .final_rcpt = env->rcpts[i].address,
		    .orcpt = env->rcpts[i].orcpt[0] ? env->rcpts[i].orcpt : NULL,
		    .action = actions[k],
		    .status = r->status,
		    .remote_mta = r->remote_mta,
		    .diagnostic = str_cstr(&diags[k]),
		    .last_attempt = r->time,
		    .retry_until =
		        actions[k] == DSN_ACTION_DELAYED ? env->arrival + qmgr.maximal_lifetime : 0,
		};
	}
	struct str content = STR_INIT, text = STR_INIT;
	const char *error;
	read_content(path, content_offset, env->size, &content);
	struct dsn_report report = {
	    .env = env,
	    .reporting_mta = qmgr.hostname,
	    .rcpts = rcpts,
	    .rcpt_count = count,
	    .content = content.data ? content.data : "",
	    .content_len = content.len,
	    .content_limit = BOUNCE_SIZE_LIMIT,
	    .now = now,
	    .postmaster = qmgr.double_bounce_rcpt,
	    .notify_to = to,
	    .templates = qmgr.templates,
	    .postmaster_copy = strcmp(origin, "double-bounce") == 0,
	    .requested = requested,
	};
	int rc = 0;
	if (dsn_build(&report, &text, &error) != 0)
		/* Permanent: trying again would fail the same way. */
		log_error("%s: cannot build a %s: %s", env->id, what, error);
	else
		rc = queue_text(env, &text, to != NULL ? to : env->sender, origin, what);
	str_free(&content);
	str_free(&text);
	for (size_t k = 0; k < count; k++)
		str_free(&diags[k]);
	free(diags);
	free(rcpts);
	return rc;
}

int notice_queue(const struct queue_envelope *env, const char *path, size_t content_offset,
                 const struct status_log *log, const size_t *indexes, size_t count,
                 enum dsn_action action, const char *to, const char *origin)
{
	if (count == 0)
		return 0;
	enum dsn_action *actions = xcalloc(count, sizeof(*actions));
	for (size_t k = 0; k < count; k++)
		actions[k] = action;
	int rc = queue_report(env, path, content_offset, log, indexes, count, actions, to, origin,
	                      describe(action, origin), false);
	free(actions);
	return rc;
}

int requested_report_queue(const struct queue_envelope *env, const char *path,
                           size_t content_offset, const struct status_log *log, bool what_if)
{
	size_t *indexes = xcalloc(log->rcpt_count + 1, sizeof(*indexes));
	enum dsn_action *actions = xcalloc(log->rcpt_count + 1, sizeof(*actions));
	size_t count = 0;
	for (size_t k = 0; k < log->rcpt_count; k++) {
		enum rcpt_state state = log->rcpts[k].state;
		if (state == RCPT_PENDING)
			continue; /* not tried in this attempt */
		indexes[count] = k;
		if (state == RCPT_DEFERRED)
			actions[count] = DSN_ACTION_DELAYED;
		else if (what_if)
			actions[count] = state == RCPT_DELIVERED ? DSN_ACTION_DELIVERABLE
			                                         : DSN_ACTION_UNDELIVERABLE;
		else
			actions[count] =
			    state == RCPT_DELIVERED ? DSN_ACTION_DELIVERED : DSN_ACTION_FAILED;
		count++;
	}
	int rc = count == 0 ? 0
	                    : queue_report(env, path, content_offset, log, indexes, count, actions,
	                                   NULL, "bounce", "sender delivery status report", true);
	free(indexes);
	free(actions);
	return rc;
}

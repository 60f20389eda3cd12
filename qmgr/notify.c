/*
 * Which delivery status notifications a message owes after a delivery
 * attempt (RFC 3461 NOTIFY, RFC 3464 reports built by bounce.c):
 *   failed     recipients bounced, NOTIFY absent or with FAILURE
 *   delivered  recipients delivered, NOTIFY with SUCCESS
 *   delayed    once per message, when it has waited delay_warning_time and
 *              recipients are still deferred, NOTIFY absent or with DELAY
 * NOTIFY=NEVER asks for none. Mail from the null sender never gets one
 * back; when it is one of our own notifications ("bounce") and it failed,
 * a report goes to 2bounce_notice_recipient instead (a double bounce) if
 * notify_classes has 2bounce or bounce (else it is logged and dropped, as
 * Postfix does), and when that one fails too it is only logged. With
 * notify_classes bounce (delay) the postmaster gets a copy of each
 * failure report (delay warning) to the sender, with the headers of the
 * message only and every recipient whatever its NOTIFY, at
 * bounce_notice_recipient (delay_notice_recipient), from the null sender
 * as a postmaster notification (never reported on in turn). Each recipient's
 * notification is recorded in the status log ("notified") once queued, so
 * a restarted qmgr does not send it again; a notification that cannot be
 * queued now is tried again at the next attempt. One queued but not
 * recorded (the status log cannot be written) is not owed: a message done
 * with is removed all the same, and one that stays queued may send it
 * again at its next attempt (a duplicate rather than a lost report).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mail/notify_classes.h"
#include "qmgr/qmgr.h"
#include "util/alloc.h"
#include "util/log.h"

/* Is word one of the comma-separated keywords in notify? */
static bool notify_has(const char *notify, const char *word)
{
	size_t len = strlen(word);
	for (const char *p = notify; *p;) {
		size_t n = strcspn(p, ",");
		if (n == len && strncasecmp(p, word, len) == 0)
			return true;
		p += n;
		if (*p == ',')
			p++;
	}
	return false;
}

static bool wants(const char *notify, const char *word, bool by_default)
{
	if (notify == NULL || notify[0] == '\0')
		return by_default;
	return !notify_has(notify, "NEVER") && notify_has(notify, word);
}

/* The postmaster's copy of a report about the indexes: the headers of
 * the message only. Not critical: a failure is logged, nothing retried. */
static void postmaster_copy(const struct queue_envelope *env, const char *path, size_t offset,
                            const struct status_log *log, const size_t *indexes, size_t count,
                            enum dsn_action action, const char *to)
{
	if (count == 0)
		return;
	struct queue_envelope copy;
	queue_envelope_copy(&copy, env);
	free(copy.ret);
	copy.ret = xstrdup("HDRS");
	if (notice_queue(&copy, path, offset, log, indexes, count, action, to, "double-bounce") !=
	    0)
		log_warn("%s: postmaster notice failed while notifying %s", env->id, env->sender);
	queue_envelope_free(&copy);
}

/* Queue a failure report for the indexes (failed: those whose NOTIFY
 * asks for one; bounced: all): to the sender, or for a failed
 * notification of ours to the postmaster. 0 if done with them. */
static int notify_failures(const struct queue_envelope *env, const char *path, size_t offset,
                           const struct status_log *log, const size_t *failed, size_t n_failed,
                           const size_t *bounced, size_t n_bounced)
{
	if (n_bounced == 0)
		return 0;
	if (env->sender[0] != '\0') {
		if (notice_queue(env, path, offset, log, failed, n_failed, DSN_ACTION_FAILED, NULL,
		                 "bounce") != 0)
			return -1;
		if (qmgr.notify_classes & NOTIFY_BOUNCE)
			postmaster_copy(env, path, offset, log, bounced, n_bounced,
			                DSN_ACTION_FAILED, qmgr.bounce_notice_rcpt);
		return 0;
	}
	if (strcmp(env->origin, "bounce") == 0) {
		if (qmgr.notify_classes & (NOTIFY_BOUNCE | NOTIFY_2BOUNCE))
			return notice_queue(env, path, offset, log, bounced, n_bounced,
			                    DSN_ACTION_FAILED, qmgr.double_bounce_rcpt,
			                    "double-bounce");
		log_info("%s: undeliverable sender notification discarded (notify_classes has no "
		         "2bounce)",
		         env->id);
		return 0;
	}
	if (strcmp(env->origin, "double-bounce") == 0)
		log_warn("%s: undeliverable postmaster notification discarded", env->id);
	else
		log_info("%s: from the null sender: no notification is sent back", env->id);
	return 0;
}

static int notify_delay(const struct queue_envelope *env, const char *path, size_t offset,
                        struct status_log *log, int64_t now)
{
	if (qmgr.delay_warning <= 0 || log->delay_warned != 0 || env->sender[0] == '\0' ||
	    now - env->arrival < qmgr.delay_warning)
		return 0;
	size_t *delayed = xcalloc(log->rcpt_count + 1, sizeof(*delayed));
	size_t count = 0;
	bool any_deferred = false;
	for (size_t i = 0; i < log->rcpt_count; i++) {
		if (log->rcpts[i].state != RCPT_DEFERRED)
			continue;
		any_deferred = true;
		if (wants(env->rcpts[i].notify, "DELAY", true))
			delayed[count++] = i;
	}
	int rc = 0;
	if (any_deferred)
		rc = notice_queue(env, path, offset, log, delayed, count, DSN_ACTION_DELAYED, NULL,
		                  "bounce");
	if (any_deferred && rc == 0 && (qmgr.notify_classes & NOTIFY_DELAY)) {
		/* Every deferred recipient, whatever its NOTIFY. */
		count = 0;
		for (size_t i = 0; i < log->rcpt_count; i++)
			if (log->rcpts[i].state == RCPT_DEFERRED)
				delayed[count++] = i;
		postmaster_copy(env, path, offset, log, delayed, count, DSN_ACTION_DELAYED,
		                qmgr.delay_notice_rcpt);
	}
	if (any_deferred && rc == 0) {
		const char *error;
		log->delay_warned = now;
		if (status_log_append_delay_warning(env->id, now, &error) != 0)
			log_error("%s: cannot record the delay warning in the status log: %s; it "
			          "may be sent again",
			          env->id, error);
	}
	free(delayed);
	return rc;
}

int notify_after_attempt(const struct queue_envelope *env, const char *path, size_t content_offset,
                         struct status_log *log)
{
	size_t n = log->rcpt_count;
	size_t *failed = xcalloc(n + 1, sizeof(*failed));
	size_t *bounced = xcalloc(n + 1, sizeof(*bounced));
	size_t *delivered = xcalloc(n + 1, sizeof(*delivered));
	size_t *relayed = xcalloc(n + 1, sizeof(*relayed));
	size_t *expanded = xcalloc(n + 1, sizeof(*expanded));
	size_t *marks = xcalloc(2 * n + 1, sizeof(*marks));
	size_t n_failed = 0, n_bounced = 0, n_delivered = 0, n_relayed = 0, n_expanded = 0,
	       n_marks = 0;
	for (size_t i = 0; i < n; i++) {
		const struct rcpt_result *r = &log->rcpts[i];
		const char *notify = env->rcpts[i].notify;
		if (r->notified)
			continue;
		if (r->state == RCPT_BOUNCED) {
			bounced[n_bounced++] = i;
			if (wants(notify, "FAILURE", true))
				failed[n_failed++] = i;
		} else if (r->state == RCPT_DELIVERED && env->sender[0] != '\0' &&
		           wants(notify, "SUCCESS", false)) {
			/* Passed on with the request: the next server reports. */
			if (r->dsn == RCPT_DSN_PASSED)
				marks[n_marks++] = i;
			else if (r->dsn == RCPT_DSN_RELAYED)
				relayed[n_relayed++] = i;
			else if (r->dsn == RCPT_DSN_EXPANDED)
				expanded[n_expanded++] = i;
			else
				delivered[n_delivered++] = i;
		}
	}
	size_t n_passed = n_marks;
	int rc = 0;
	if (notify_failures(env, path, content_offset, log, failed, n_failed, bounced, n_bounced) ==
	    0) {
		memcpy(marks + n_marks, bounced, n_bounced * sizeof(*marks));
		n_marks += n_bounced;
	} else {
		rc = -1;
	}
	if (notice_queue(env, path, content_offset, log, delivered, n_delivered,
	                 DSN_ACTION_DELIVERED, NULL, "bounce") == 0) {
		memcpy(marks + n_marks, delivered, n_delivered * sizeof(*marks));
		n_marks += n_delivered;
	} else {
		rc = -1;
	}
	if (notice_queue(env, path, content_offset, log, relayed, n_relayed, DSN_ACTION_RELAYED,
	                 NULL, "bounce") == 0) {
		memcpy(marks + n_marks, relayed, n_relayed * sizeof(*marks));
		n_marks += n_relayed;
	} else {
		rc = -1;
	}
	if (notice_queue(env, path, content_offset, log, expanded, n_expanded, DSN_ACTION_EXPANDED,
	                 NULL, "bounce") == 0) {
		memcpy(marks + n_marks, expanded, n_expanded * sizeof(*marks));
		n_marks += n_expanded;
	} else {
		rc = -1;
	}
	if (n_passed > 0)
		log_info("%s: %zu success notification request(s) passed on to the next hop",
		         env->id, n_passed);
	if (n_marks > 0) {
		const char *error;
		for (size_t k = 0; k < n_marks; k++)
			log->rcpts[marks[k]].notified = true;
		if (status_log_append_rcpts(env->id, log, marks, n_marks, &error) != 0)
			log_error("%s: cannot record the notifications in the status log: %s; "
			          "they may be sent again",
			          env->id, error);
	}
	if (notify_delay(env, path, content_offset, log, (int64_t)time(NULL)) != 0)
		rc = -1;
	free(failed);
	free(bounced);
	free(delivered);
	free(relayed);
	free(expanded);
	free(marks);
	return rc;
}

bool notify_delivered_quietly(const struct queue_envelope *env, const struct status_log *log)
{
	for (size_t i = 0; i < log->rcpt_count; i++) {
		if (log->rcpts[i].state != RCPT_DELIVERED)
			return false;
		if (env->sender[0] != '\0' && wants(env->rcpts[i].notify, "SUCCESS", false))
			return false;
	}
	return true;
}

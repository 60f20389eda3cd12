/*
 * One message in active/: read it (a bad file goes to corrupt/), load its
 * status log (recipients already delivered or bounced are never tried
 * again), route and deliver the pending recipients, record the outcomes
 * durably, queue the notifications due (notify.c), then either finish it
 * (remove the file and its log) or move it to deferred/ with the time of the next attempt
 * (exponential back-off from minimal_backoff_time, counted from the
 * last time an admin asked for a retry; after maximal_queue_lifetime the
 * deferred recipients bounce). The recipients are read a slice at a time,
 * as much as qmgr_message_recipient_limit leaves room for (recipients.c):
 * usually the whole message in one, read together with the envelope; a
 * slice's outcomes are on disk and its notifications queued before the
 * next slice is read.
 *
 * What cannot be recorded is tried again, never dropped: when the status
 * log cannot be written or read (disk full, I/O error) the message is
 * deferred, and a deferred queue file's time is when it is due (as in
 * Postfix), so that main.c does not retry it before its back-off even when
 * the log could not say so. Recipients whose outcome was not recorded are
 * tried again then (a duplicate, never a loss); a message every recipient
 * of which is done is removed all the same. A file that cannot be moved out
 * of active/ (or removed) stays there with its time set, and main.c
 * submits it again when it is due. A file that vanished from active/ was
 * removed by mailctl queue delete: it is dropped with its status log.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "qmgr/qmgr.h"
#include "util/alloc.h"
#include "util/log.h"
#include "util/no_replace.h"

/* Move queue_dir/from/name to queue_dir/to/name; 0 or -1 with errno. */
static int move_file(const char *from, const char *to, const char *name)
{
	char *src = xasprintf("%s/%s/%s", qmgr.queue_dir, from, name);
	char *dst = xasprintf("%s/%s/%s", qmgr.queue_dir, to, name);
	int rc = rename(src, dst);
	free(src);
	free(dst);
	return rc;
}

void qmgr_move_corrupt(const char *from, const char *name, const char *reason)
{
	char *src = xasprintf("%s/%s/%s", qmgr.queue_dir, from, name);
	char *target = xstrdup(name);
	int rc = -1;
	for (int n = 1; n < 100; n++) {
		char *dst = xasprintf("%s/corrupt/%s", qmgr.queue_dir, target);
		rc = rename_no_replace(src, dst);
		free(dst);
		if (rc == 0 || errno != EEXIST)
			break;
		free(target);
		target = xasprintf("%s.%d", name, n);
	}
	if (rc == 0)
		log_warn("%s: corrupt queue file: %s (moved to corrupt/%s)", name, reason, target);
	else
		log_error("%s: corrupt queue file: %s; cannot move it to corrupt/: %m", name,
		          reason);
	free(target);
	free(src);
}

const char *const qmgr_queues[QMGR_QUEUE_COUNT + 1] = {"incoming", "active",  "deferred",
                                                       "hold",     "corrupt", NULL};

bool qmgr_queued_anywhere(const char *id)
{
	for (size_t q = 0; qmgr_queues[q]; q++) {
		char *path = xasprintf("%s/%s/%s", qmgr.queue_dir, qmgr_queues[q], id);
		struct stat st;
		bool there = lstat(path, &st) == 0 || errno != ENOENT;
		free(path);
		if (there)
			return true;
	}
	return false;
}

static bool file_gone(const char *path)
{
	struct stat st;
	return lstat(path, &st) != 0 && errno == ENOENT;
}

/* active/ID vanished during the attempt: mailctl queue delete removed it
 * (as Postfix's postsuper -d may, and its qmgr copes). Its status log goes
 * too (this attempt may have written it again), unless the message turns
 * out to be in the queue after all. */
static void forget_deleted(const char *id)
{
	if (qmgr_queued_anywhere(id)) {
		log_warn("%s: no longer in active/, but still queued; its status log is kept", id);
		return;
	}
	status_log_remove(id);
	log_info("%s: deleted from the queue while it was being delivered", id);
}

/* How long a message waits when qmgr could not even tell how many
 * attempts it had: minimal_backoff_time. */
static int64_t first_backoff(void)
{
	return qmgr.minimal_backoff > 0 ? qmgr.minimal_backoff : 1;
}

/* Make the time of active/ID when, the time it is due again. 0, or -1
 * with errno. */
static int set_due_time(const char *id, int64_t when)
{
	char *path = xasprintf("%s/active/%s", qmgr.queue_dir, id);
	struct timespec times[2] = {{0, UTIME_OMIT}, {(time_t)when, 0}};
	int rc = utimensat(AT_FDCWD, path, times, AT_SYMLINK_NOFOLLOW);
	free(path);
	return rc;
}

/* Move active/ID to deferred/, due at next (its status log should say so
 * too). If it cannot move, it stays in active/, due at the same time. */
static void put_deferred(const char *id, int64_t next)
{
	if (set_due_time(id, next) != 0) {
		if (errno == ENOENT) {
			forget_deleted(id);
			return;
		}
		log_warn("%s: cannot set the time of its queue file: %m", id);
	}
	if (move_file("active", "deferred", id) != 0) {
		if (errno == ENOENT) {
			forget_deleted(id);
			return;
		}
		log_error("%s: cannot move it to deferred/: %m; it stays in active/ and is tried "
		          "again later",
		          id);
	}
	qmgr_deferred_until(next);
}

static const char *log_word(const struct queue_envelope *env, enum rcpt_state state)
{
	if (queue_envelope_is_verify(env) && state != RCPT_DEFERRED)
		return state == RCPT_DELIVERED ? "deliverable" : "undeliverable";
	return state == RCPT_DELIVERED ? "sent" : rcpt_state_name(state);
}

static void log_result(const struct queue_envelope *env, size_t index, const struct rcpt_result *r,
                       const char *relay, const char *tls, int64_t now)
{
	/* Postfix's field order up to the reply, so that log summarisers
	 * (pflogsumm) read it; the TLS outcome comes after. */
	log_info("%s: to=<%s>, relay=%s, delay=%lld, dsn=%s, status=%s (%s)%s%s", env->id,
	         env->rcpts[index].address, relay, (long long)(now - env->arrival), r->status,
	         log_word(env, r->state), r->reason, tls ? ", tls=" : "", tls ? tls : "");
}

/* soft_bounce: a recipient that would bounce is deferred, its status
 * 5.X.Y made 4.X.Y, as Postfix does; it is tried again later. */
static void soften(struct rcpt_result *r)
{
	if (r->state != RCPT_BOUNCED)
		return;
	char status[32];
	snprintf(status, sizeof(status), "%s", r->status ? r->status : "5.0.0");
	if (status[0] == '5')
		status[0] = '4';
	char *reason = xstrdup(r->reason ? r->reason : "");
	rcpt_result_set(r, RCPT_DEFERRED, status, reason, r->time);
	free(reason);
}

/* Route and deliver every recipient that is not final (those still to be
 * expanded through virtual_alias_maps first, by valias.c); returns the
 * indexes whose result changed (count in *changed_r). */
static size_t *attempt_delivery(const struct queue_envelope *env, const char *path,
                                size_t content_offset, struct status_log *log, size_t *changed_r)
{
	/* Room for expire_deferred to add each index once more. */
	size_t *changed = xcalloc(2 * env->rcpt_count + 1, sizeof(*changed));
	size_t *pending = xcalloc(env->rcpt_count + 1, sizeof(*pending));
	size_t n_changed = 0, n_pending = 0, n_valias = 0;
	/* Back from waiting for room (limits.c): those deferred in this round
	 * wait for their retry. */
	int64_t resumed_since = limits_thread_resumed_since();
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < env->rcpt_count; i++) {
			enum rcpt_state state = log->rcpts[i].state;
			if (state == RCPT_DELIVERED || state == RCPT_BOUNCED ||
			    env->rcpts[i].valias_pending != (pass == 0))
				continue;
			if (state == RCPT_DEFERRED && resumed_since > 0 &&
			    log->rcpts[i].time >= resumed_since)
				continue;
			pending[n_pending++] = i;
			n_valias += pass == 0;
		}
	}
	if (n_pending > 0) {
		struct rcpt_result *results = xcalloc(n_pending, sizeof(*results));
		struct agent_info *info = xcalloc(n_pending, sizeof(*info));
		if (n_valias > 0)
			valias_deliver(env, path, content_offset, pending, n_valias, results);
		if (n_pending > n_valias)
			deliver_routed(env, pending + n_valias, n_pending - n_valias,
			               results + n_valias, info + n_valias);
		int64_t now = (int64_t)time(NULL);
		for (size_t k = 0; k < n_pending; k++) {
			struct rcpt_result *r = &results[k];
			if (k >= n_valias && r->state == RCPT_PENDING) {
				/* Put off (limits.c): no attempt, nothing to record. */
				agent_info_free(&info[k]);
				continue;
			}
			if (qmgr.soft_bounce)
				soften(r);
			rcpt_result_copy(&log->rcpts[pending[k]], r);
			log_result(env, pending[k], r, info[k].relay ? info[k].relay : "none",
			           info[k].tls, now);
			changed[n_changed++] = pending[k];
			rcpt_result_free(r);
			agent_info_free(&info[k]);
		}
		free(results);
		free(info);
	}
	free(pending);
	*changed_r = n_changed;
	return changed;
}

/* Past maximal_queue_lifetime (bounce_queue_lifetime for mail from the
 * null sender, as Postfix), deferred recipients bounce (with soft_bounce
 * they stay deferred). */
static size_t expire_deferred(const struct queue_envelope *env, struct status_log *log,
                              size_t *changed)
{
	int64_t now = (int64_t)time(NULL);
	size_t count = 0;
	/* Probes too: nobody would hear of their failure either. */
	int64_t lifetime = *env->sender == '\0' || queue_envelope_is_verify(env)
	                       ? qmgr.bounce_lifetime
	                       : qmgr.maximal_lifetime;
	if (now - env->arrival < lifetime || qmgr.soft_bounce)
		return 0;
	for (size_t i = 0; i < env->rcpt_count; i++) {
		struct rcpt_result *r = &log->rcpts[i];
		if (r->state != RCPT_DEFERRED)
			continue;
		char *reason =
		    xasprintf("message expired after %lld seconds in the queue: %s",
		              (long long)(now - env->arrival), r->reason ? r->reason : "");
		rcpt_result_set(r, RCPT_BOUNCED, "5.4.7", reason, now);
		free(reason);
		log_result(env, i, r, "none", NULL, now);
		changed[count++] = i;
	}
	return count;
}

static bool all_final(const struct status_log *log)
{
	for (size_t i = 0; i < log->rcpt_count; i++)
		if (log->rcpts[i].state != RCPT_DELIVERED && log->rcpts[i].state != RCPT_BOUNCED)
			return false;
	return true;
}

static void defer_message(const struct queue_envelope *env, const struct status_log *log)
{
	int64_t attempts = log->attempts + 1;
	int64_t backoff = qmgr.minimal_backoff > 0 ? qmgr.minimal_backoff : 1;
	for (int64_t i = 1; i < attempts && backoff < qmgr.maximal_backoff; i++)
		backoff *= 2;
	if (backoff > qmgr.maximal_backoff && qmgr.maximal_backoff > 0)
		backoff = qmgr.maximal_backoff;
	int64_t now = (int64_t)time(NULL), next = now + backoff;
	/* A delay warning still due is sent on time, at an attempt then. */
	int64_t warn_at = env->arrival + qmgr.delay_warning;
	if (qmgr.delay_warning > 0 && log->delay_warned == 0 && warn_at < next &&
	    !queue_envelope_is_verify(env))
		next = warn_at > now ? warn_at : now + 1;
	const char *error;
	if (status_log_append_message(env->id, attempts, next, &error) != 0)
		log_error("%s: cannot write the status log: %s", env->id, error);
	put_deferred(env->id, next);
}

/* log_on_disk false: the status log is known not to exist (none was read
 * and none written since), so there is nothing to remove. 0, or -1 if
 * the file stays in active/ (to be removed at a later attempt). A file
 * already gone (mailctl queue delete) counts as removed. */
static int finish_message(const struct queue_envelope *env, const char *path, bool log_on_disk)
{
	if (queue_file_recycle(qmgr.queue_dir, path) != 0) {
		int64_t when = (int64_t)time(NULL) + first_backoff();
		log_error("%s: cannot remove %s: %m; it stays in active/ and is tried again later",
		          env->id, path);
		if (set_due_time(env->id, when) != 0)
			log_warn("%s: cannot set the time of its queue file: %m", env->id);
		qmgr_deferred_until(when);
		return -1;
	}
	if (log_on_disk)
		status_log_remove(env->id);
	log_info("%s: removed", env->id);
	return 0;
}

/* An admin asked for this attempt (mailctl queue flush, requeue or
 * release, sendmail -q): the wait is over, and should it fail again the
 * back-off starts again from minimal_backoff_time. Postfix's postqueue -f
 * and postsuper -r do the same. */
static void restart_backoff(const char *id, struct status_log *log)
{
	const char *error;
	if (log->attempts == 0)
		return;
	log->attempts = 0;
	log->next_attempt = 0;
	log->on_disk = true; /* it was read already: attempts came from it */
	if (status_log_append_message(id, 0, 0, &error) != 0)
		log_error("%s: cannot write the status log: %s", id, error);
}

/* What the slices of one attempt add up to. */
struct attempt {
	const char *path;
	size_t content_offset;
	int64_t warned_before; /* the delay warning, as the attempt started */
	int64_t delay_warned;  /* the latest one, after the slices so far */
	bool all_final;        /* every recipient so far delivered or bounced */
	bool notices_owed;     /* a notification could not be queued */
	bool finished;         /* done already (the one-slice shortcut) */
};

/* Deliver the recipients of env (a slice of the message, or all of it)
 * and record the outcomes; a slice with everything delivered quietly that
 * is the whole message finishes it at once. */
static void process_slice(const struct queue_envelope *env, struct status_log *log,
                          struct attempt *a)
{
	const char *error;
	/* Each slice warns about its own recipients, once. */
	log->delay_warned = a->warned_before;
	size_t n_changed;
	size_t *changed = attempt_delivery(env, a->path, a->content_offset, log, &n_changed);
	n_changed += expire_deferred(env, log, changed + n_changed);
	/* Address verification: a probe's results go to the cache; a
	 * report (sendmail -bv) is one message to the sender, after one
	 * attempt, whatever is still undecided. */
	bool verify = queue_envelope_is_verify(env);
	bool report = verify && strcmp(env->verify, QUEUE_VERIFY_REPORT) == 0;
	if (verify && !report)
		verify_record(env, log, changed, n_changed);
	/* Mail delivered to everyone at once is removed right away: the
	 * status log would only be written to be deleted (a crash before the
	 * removal delivers again either way). Nothing was written to the
	 * status log since it was read. Should the file stay, the outcomes
	 * are written after all, so that its next attempt delivers nothing. */
	bool trace_due = env->trace && !verify && log->attempts == 0;
	if (env->rcpt_count == env->rcpt_total && !report && !trace_due &&
	    (verify ? all_final(log) : notify_delivered_quietly(env, log))) {
		a->finished = true;
		if (finish_message(env, a->path, log->on_disk) == 0) {
			free(changed);
			return;
		}
	}
	/* When the outcomes cannot be recorded, the attempt goes on: a message
	 * done with is removed all the same, one that is not is deferred and
	 * these recipients are tried again at its next attempt. */
	if (n_changed > 0 && status_log_append_rcpts(env->id, log, changed, n_changed, &error) != 0)
		log_error("%s: cannot write the status log: %s; the recipients of this attempt "
		          "are tried again if the message stays queued",
		          env->id, error);
	free(changed);
	if (a->finished)
		return;
	if (report) {
		/* Recipients waiting for room at their destination: the report
		 * comes when they have been tried (the message waits in line). */
		if (limits_thread_postponed()) {
			a->all_final = false;
			return;
		}
		if (requested_report_queue(env, a->path, a->content_offset, log, true) != 0)
			a->notices_owed = true;
		return; /* reported: done with, deferred recipients too */
	}
	if (!verify && notify_after_attempt(env, a->path, a->content_offset, log) != 0)
		a->notices_owed = true;
	/* sendmail -v: a report of the first attempt (not again when back
	 * from waiting for room, nor at retries). */
	if (trace_due && limits_thread_resumed_since() == 0 &&
	    requested_report_queue(env, a->path, a->content_offset, log, false) != 0)
		log_warn("%s: the delivery report sendmail -v asked for could not be queued",
		         env->id);
	if (!all_final(log))
		a->all_final = false;
	if (log->delay_warned > a->delay_warned)
		a->delay_warned = log->delay_warned;
}

/* Read the recipients [first, first + count) and work on them. */
static int run_slice(const char *id, size_t first, size_t count, struct attempt *a)
{
	struct queue_envelope env;
	struct status_log log;
	size_t offset;
	const char *error;
	if (queue_file_read_window(a->path, first, count, &env, &offset, &error) != 0) {
		if (!file_gone(a->path))
			log_error("%s: cannot read it again: %s; deferred", id, error);
		return -1;
	}
	if (status_log_load(id, first, env.rcpt_count, &log, &error) != 0) {
		log_error("%s: cannot read its status log: %s; deferred", id, error);
		queue_envelope_free(&env);
		return -1;
	}
	if (env.rcpt_count < env.rcpt_total)
		log_info("%s: recipients %zu to %zu of %zu, %zu in memory "
		         "(qmgr_message_recipient_limit %lld)",
		         id, first + 1, first + env.rcpt_count, env.rcpt_total,
		         recipients_in_memory(), (long long)recipients_limit());
	process_slice(&env, &log, a);
	status_log_free(&log);
	queue_envelope_free(&env);
	return 0;
}

/* env, read with a window, keeps its envelope and loses its recipients. */
static void drop_recipients(struct queue_envelope *env)
{
	struct queue_envelope fields;
	queue_envelope_copy_fields(&fields, env);
	fields.rcpt_total = env->rcpt_total;
	queue_envelope_free(env);
	*env = fields;
}

void message_process(const char *id, bool retry_now)
{
	char *path = xasprintf("%s/active/%s", qmgr.queue_dir, id);
	struct queue_envelope env;
	struct status_log log;
	size_t content_offset;
	const char *error;
	/* Room taken before the count is known (recipients_claim_free): if
	 * the message fits (the usual case), one reading of the file and of its status log
	 * serves the whole attempt. Else only the envelope is kept, and the
	 * recipients are read a slice at a time, as qmgr_message_recipient_
	 * limit leaves room (run_slice). */
	size_t room = recipients_claim_free();
	if (queue_file_read_window(path, 0, room, &env, &content_offset, &error) != 0) {
		recipients_keep(room, 0);
		int fd = -1;
		if (file_gone(path)) {
			forget_deleted(id);
		} else if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
			/* Not the file's fault (permissions, no file descriptors, an
			 * I/O error): it waits, as it is, for a later attempt. */
			log_warn("%s: cannot open its queue file: %s; deferred", id, error);
			put_deferred(id, (int64_t)time(NULL) + first_backoff());
		} else {
			qmgr_move_corrupt("active", id, error);
		}
		if (fd >= 0)
			close(fd);
		free(path);
		return;
	}
	bool whole = env.rcpt_total <= room;
	size_t held = whole ? env.rcpt_total : 0;
	recipients_keep(room, held);
	if (!whole)
		drop_recipients(&env);
	if (status_log_load(id, 0, held, &log, &error) != 0) {
		/* Nothing is known of what was done: nothing is tried now. */
		log_error("%s: cannot read its status log: %s; deferred", id, error);
		recipients_release(held);
		put_deferred(id, (int64_t)time(NULL) + first_backoff());
		queue_envelope_free(&env);
		free(path);
		return;
	}
	if (retry_now)
		restart_backoff(id, &log);
	/* Once per activation: not again when back from waiting for room. */
	if (limits_thread_resumed_since() == 0)
		log_info("%s: from=<%s>, size=%lld, nrcpt=%zu (queue active)", id, env.sender,
		         (long long)env.size, env.rcpt_total);
	struct attempt a = {
	    .path = path,
	    .content_offset = content_offset,
	    .warned_before = log.delay_warned,
	    .delay_warned = log.delay_warned,
	    .all_final = true,
	};
	int rc = 0;
	if (whole && env.rcpt_total > 0)
		process_slice(&env, &log, &a);
	recipients_release(held);
	for (size_t first = 0; !whole && rc == 0 && first < env.rcpt_total;) {
		size_t count = recipients_claim(env.rcpt_total - first);
		rc = run_slice(id, first, count, &a);
		recipients_release(count);
		first += count;
	}
	bool park = false;
	if (!a.finished) {
		log.delay_warned = a.delay_warned;
		/* A notification that could not be queued keeps the message, and
		 * so does a slice that could not be read (rc). Recipients put off
		 * for room at their destination keep it in active/, waiting in
		 * line there (limits.c), without counting as an attempt. */
		if (rc == 0 && a.all_final && !a.notices_owed)
			finish_message(&env, path, true);
		else if (rc == 0 && limits_thread_postponed())
			park = true;
		else
			defer_message(&env, &log);
	}
	status_log_free(&log);
	queue_envelope_free(&env);
	free(path);
	if (park)
		limits_park(id);
}

/*
 * Virtual alias expansion at delivery time, for the recipients queued with
 * valias_pending (lib/mail/queue.h): their expansion looped or went over a
 * limit when the mail was queued (lib/mail/virtual_alias.h), and Postfix
 * defers such mail rather than returning it, so that a mistake in a table
 * loses nothing. At each attempt qmgr expands them again with the tables
 * of that moment:
 *   still a loop, a limit, or a table that cannot be read: deferred (4.x),
 *     with the reason that mailctl queue list shows;
 *   unknown in a virtual alias domain: bounced (5.1.1);
 *   expanded (or no longer in the table): the results go out as one new
 *     message (same sender, envelope and content; ORCPT and NOTIFY as the
 *     rewrite at smtpd gives them), and the recipient is done
 *     ("expanded", with no success notice of its own: the new message's
 *     recipients carry its NOTIFY).
 * Called from the delivery threads: the tables are read under a lock.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mail/virtual_alias.h"
#include "qmgr/qmgr.h"
#include "util/alloc.h"
#include "util/log.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct virtual_alias *va;

void valias_init(const struct conf *conf)
{
	va = virtual_alias_from_conf(conf);
}

/* Queue out with the content of the message at path; its id, or NULL
 * with *error_r. */
static char *queue_expanded(struct queue_envelope *out, const char *path, size_t offset,
                            int64_t size, const char **error_r)
{
	struct queue_writer *w = queue_writer_open(qmgr.queue_dir, out, error_r);
	if (w == NULL)
		return NULL;
	char *id = NULL;
	if (queue_writer_copy_content(w, path, offset, size, error_r) == 0 &&
	    queue_writer_commit(w, "incoming", error_r) == 0) {
		id = xstrdup(queue_writer_id(w));
		qmgr_queued_mail();
	}
	queue_writer_abort(w);
	return id;
}

void valias_deliver(const struct queue_envelope *env, const char *path, size_t content_offset,
                    const size_t *indexes, size_t count, struct rcpt_result *results)
{
	struct queue_envelope out;
	queue_envelope_copy_fields(&out, env);
	size_t *expanded = xcalloc(count + 1, sizeof(*expanded));
	size_t n_expanded = 0;
	int64_t now = (int64_t)time(NULL);
	pthread_mutex_lock(&lock);
	for (size_t k = 0; k < count; k++) {
		const struct queue_rcpt *r = &env->rcpts[indexes[k]];
		struct virtual_alias_expansion x;
		switch (virtual_alias_expand(va, r->address, &x)) {
		case VIRTUAL_ALIAS_EXPANDED:
			virtual_alias_add_expansion(&out, r, &x);
			expanded[n_expanded++] = k;
			break;
		case VIRTUAL_ALIAS_UNCHANGED:
			/* The address itself, no longer rewritten: as it is. */
			if (x.count == 1)
				queue_envelope_add_rcpt(&out, x.addresses[0], r->orcpt, r->notify);
			expanded[n_expanded++] = k;
			break;
		case VIRTUAL_ALIAS_FAILED:
			rcpt_result_set(&results[k], RCPT_BOUNCED, x.status, x.reason, now);
			break;
		case VIRTUAL_ALIAS_TEMPFAIL:
		case VIRTUAL_ALIAS_DEFERRED:
			rcpt_result_set(&results[k], RCPT_DEFERRED, x.status, x.reason, now);
			break;
		}
		virtual_alias_expansion_free(&x);
	}
	pthread_mutex_unlock(&lock);
	if (n_expanded > 0) {
		const char *error = "no recipient";
		char *id = out.rcpt_count > 0
		               ? queue_expanded(&out, path, content_offset, env->size, &error)
		               : NULL;
		char *reason = id ? xasprintf("virtual alias expanded: queued as %s", id)
		                  : xasprintf("cannot queue the expanded message: %s", error);
		if (id)
			log_info("%s: virtual alias expansion of %zu recipient%s: %s", env->id,
			         n_expanded, n_expanded == 1 ? "" : "s", id);
		for (size_t e = 0; e < n_expanded; e++) {
			struct rcpt_result *r = &results[expanded[e]];
			rcpt_result_set(r, id ? RCPT_DELIVERED : RCPT_DEFERRED,
			                id ? "2.0.0" : "4.3.0", reason, now);
			r->notified = id != NULL; /* the new message reports on them */
		}
		free(reason);
		free(id);
	}
	free(expanded);
	queue_envelope_free(&out);
}

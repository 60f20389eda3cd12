/*
 * Failure notifications: when recipients of a message bounced, a DSN
 * (RFC 3464, built by lib/mail/dsn.h) goes back to the envelope sender as
 * a new queue file from the null sender, origin "bounce". Recipients that
 * asked for no failure notice (NOTIFY=NEVER, or a list without FAILURE)
 * are left out; a null sender never gets one.
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

static bool wants_failure_notice(const char *notify)
{
	if (notify == NULL || notify[0] == '\0')
		return true;
	return strcasestr(notify, "FAILURE") != NULL;
}

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

static int queue_notice(const struct queue_envelope *env, const struct str *text)
{
	struct queue_envelope notice;
	queue_envelope_init(&notice);
	notice.arrival = (int64_t)time(NULL);
	notice.sender = xstrdup("");
	notice.client_name = xstrdup("localhost");
	notice.protocol = xstrdup("local");
	notice.origin = xstrdup("bounce");
	queue_envelope_add_rcpt(&notice, env->sender, NULL, NULL);
	const char *error;
	int rc = -1;
	struct queue_writer *w = queue_writer_open(qmgr.queue_dir, &notice, &error);
	if (w != NULL && queue_writer_write(w, text->data, text->len, &error) == 0 &&
	    queue_writer_commit(w, "incoming", &error) == 0) {
		log_info("%s: sender non-delivery notification: %s", env->id, queue_writer_id(w));
		rc = 0;
	} else {
		log_error("%s: cannot queue a non-delivery notification: %s", env->id, error);
	}
	if (w != NULL)
		queue_writer_abort(w);
	queue_envelope_free(&notice);
	return rc;
}

int bounce_queue(const struct queue_envelope *env, const char *path, size_t content_offset,
                 const struct status_log *log)
{
	if (env->sender[0] == '\0')
		return 0;
	struct dsn_rcpt *rcpts = xcalloc(env->rcpt_count, sizeof(*rcpts));
	struct str *diags = xcalloc(env->rcpt_count, sizeof(*diags));
	size_t count = 0;
	for (size_t i = 0; i < env->rcpt_count; i++) {
		const struct rcpt_result *r = &log->rcpts[i];
		if (r->state != RCPT_BOUNCED || !wants_failure_notice(env->rcpts[i].notify))
			continue;
		str_printf(&diags[count], "x-postern; %s", r->reason ? r->reason : "");
		rcpts[count] = (struct dsn_rcpt){
		    .final_rcpt = env->rcpts[i].address,
		    .orcpt = env->rcpts[i].orcpt[0] ? env->rcpts[i].orcpt : NULL,
		    .action = DSN_ACTION_FAILED,
		    .status = r->status,
		    .diagnostic = str_cstr(&diags[count]),
		    .last_attempt = r->time,
		};
		count++;
	}
	int rc = 0;
	if (count > 0) {
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
		};
		if (dsn_build(&report, &text, &error) != 0) {
			/* Permanent: trying again would fail the same way. */
			log_error("%s: cannot build a non-delivery notification: %s", env->id,
			          error);
		} else {
			rc = queue_notice(env, &text);
		}
		str_free(&content);
		str_free(&text);
	}
	for (size_t i = 0; i < env->rcpt_count; i++)
		str_free(&diags[i]);
	free(diags);
	free(rcpts);
	return rc;
}

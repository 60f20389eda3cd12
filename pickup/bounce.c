/*
 * pickup's non-delivery notifications (bounce.h).
 */
#include "pickup/bounce.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/alloc.h"
#include "util/log.h"

#define BOUNCE_SIZE_LIMIT (50 * 1024)

/* The notification's envelope: from <>, to the sender (expanded). 0 or -1. */
static int notice_envelope(struct virtual_alias *va, const struct queue_envelope *env,
                           struct queue_envelope *notice)
{
	struct queue_envelope plain;
	queue_envelope_init(&plain);
	plain.arrival = time(NULL);
	plain.sender = xstrdup("");
	plain.envid = xstrdup("");
	plain.ret = xstrdup("");
	plain.body = xstrdup("");
	plain.client_name = xstrdup("localhost");
	plain.client_addr = xstrdup("");
	plain.client_port = xstrdup("");
	plain.helo = xstrdup("");
	plain.protocol = xstrdup("local");
	plain.tls = xstrdup("");
	plain.auth_user = xstrdup("");
	plain.origin = xstrdup("pickup");
	queue_envelope_add_rcpt(&plain, env->sender, "", "");
	if (va == NULL) {
		*notice = plain;
		return 0;
	}
	struct virtual_alias_failure *failed;
	size_t count;
	char *reason = NULL;
	int rc = virtual_alias_rewrite_envelope(va, &plain, notice, &failed, &count, &reason);
	if (rc != 0 || count > 0) {
		log_error("%s: cannot return mail to <%s>: %s", env->id, env->sender,
		          reason ? reason : failed[0].reason);
		if (rc == 0) {
			virtual_alias_failures_free(failed, count);
			queue_envelope_free(notice);
		}
		rc = -1;
	}
	free(reason);
	queue_envelope_free(&plain);
	return rc;
}

void pickup_bounce(const char *queue_dir, const char *hostname, struct virtual_alias *va,
                   const struct queue_envelope *env, const struct dsn_rcpt *rcpts, size_t count,
                   const struct str *content)
{
	if (env->sender[0] == '\0') {
		log_info("%s: undeliverable mail from the null sender is not returned", env->id);
		return;
	}
	struct dsn_report report = {
	    .env = env,
	    .reporting_mta = hostname,
	    .rcpts = rcpts,
	    .rcpt_count = count,
	    .content = content->data ? content->data : "",
	    .content_len = content->len,
	    .content_limit = BOUNCE_SIZE_LIMIT,
	};
	struct str text = STR_INIT;
	const char *error;
	struct queue_envelope notice;
	if (dsn_build(&report, &text, &error) != 0) {
		log_error("%s: cannot build a non-delivery notification: %s", env->id, error);
	} else if (notice_envelope(va, env, &notice) == 0) {
		struct queue_writer *w = queue_writer_open(queue_dir, &notice, &error);
		if (w == NULL || queue_writer_write(w, text.data, text.len, &error) != 0 ||
		    queue_writer_commit(w, "incoming", &error) != 0)
			log_error("%s: cannot queue a non-delivery notification: %s", env->id,
			          error);
		else
			log_info("%s: sender non-delivery notification: %s", env->id, notice.id);
		queue_writer_abort(w);
		queue_envelope_free(&notice);
	}
	str_free(&text);
}

void pickup_bounce_failed(const char *queue_dir, const char *hostname, struct virtual_alias *va,
                          const struct queue_envelope *env, const struct pickup_failed_rcpt *failed,
                          size_t count, const struct str *content)
{
	struct dsn_rcpt *rcpts = xcalloc(count, sizeof(*rcpts));
	char **diags = xcalloc(count, sizeof(char *));
	size_t n = 0;
	for (size_t i = 0; i < count; i++) {
		const struct pickup_failed_rcpt *f = &failed[i];
		log_info("%s: to=<%s>, status=bounced (%s)", env->id, f->address, f->reason);
		if (f->notify[0] != '\0' && strstr(f->notify, "FAILURE") == NULL)
			continue; /* NOTIFY=NEVER, or not on failure */
		diags[n] = xasprintf("x-postern; %s", f->reason);
		rcpts[n] = (struct dsn_rcpt){
		    .final_rcpt = f->address,
		    .orcpt = f->orcpt[0] ? f->orcpt : NULL,
		    .action = DSN_ACTION_FAILED,
		    .status = f->status,
		    .diagnostic = diags[n],
		    .last_attempt = time(NULL),
		};
		n++;
	}
	if (n > 0)
		pickup_bounce(queue_dir, hostname, va, env, rcpts, n, content);
	for (size_t i = 0; i < n; i++)
		free(diags[i]);
	free(diags);
	free(rcpts);
}

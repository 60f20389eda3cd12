/*
 * header_checks and body_checks for pickup (content.h).
 */
#include "pickup/content.h"

#include <stdlib.h>
#include <string.h>

#include "mail/content_check.h"
#include "mail/redirect.h"
#include "pickup/bounce.h"
#include "table/table_cache.h"
#include "util/alloc.h"
#include "util/log.h"

static struct {
	struct content_check_config cfg;
	const char *queue_dir;
	const char *hostname;
	struct virtual_alias *virtual_alias;
	bool soft_bounce;
	bool enabled; /* not off by receive_override_options */
} pc;

/* (Not logged with the queue ID: the message is not queued.) */
int pickup_table_lookup(void *ctx, const char *spec, const char *key, struct str *value)
{
	(void)ctx;
	const char *error;
	int rc = table_cache_lookup(spec, key, false, value, &error);
	if (rc < 0)
		log_warn("%s", error);
	return rc;
}

static void content_note(void *ctx, const char *action, const char *part, const char *line,
                         const char *text)
{
	const struct queue_envelope *env = ctx;
	const struct content_check_origin from = {
	    .client = "local",
	    .sender = env->sender,
	    .rcpt = env->rcpt_count > 0 ? env->rcpts[0].address : "",
	};
	struct str msg = STR_INIT;
	if (content_check_log_text(action, part, line, text, &from, &msg))
		log_warn("%s: %s", env->id, str_cstr(&msg));
	else
		log_info("%s: %s", env->id, str_cstr(&msg));
	str_free(&msg);
}

void pickup_content_init(const struct conf *conf, struct virtual_alias *va, bool enabled)
{
	pc.enabled = enabled;
	pc.cfg = (struct content_check_config){
	    .header_maps = conf_get_list(conf, "header_checks"),
	    .mime_header_maps = conf_get_list(conf, "mime_header_checks"),
	    .nested_header_maps = conf_get_list(conf, "nested_header_checks"),
	    .body_maps = conf_get_list(conf, "body_checks"),
	    .body_size_limit = conf_get_size(conf, "body_checks_size_limit"),
	    .lookup = pickup_table_lookup,
	    .note = content_note,
	};
	pc.queue_dir = conf_get(conf, "queue_directory");
	pc.soft_bounce = conf_get_bool(conf, "soft_bounce");
	pc.hostname = conf_get(conf, "myhostname");
	pc.virtual_alias = va;
}

bool pickup_content_enabled(void)
{
	return pc.enabled && content_check_wanted(&pc.cfg);
}

/* The header section ends at *header_len_r; the empty line after it (if
 * any) ends at *body_from_r, where the body starts. */
static void split_headers(const struct str *content, size_t *header_len_r, size_t *body_from_r)
{
	size_t at = 0;
	while (at < content->len) {
		const char *nl = memchr(content->data + at, '\n', content->len - at);
		if (nl == NULL)
			break;
		size_t next = (size_t)(nl - content->data) + 1;
		if (next - at == 1 || (next - at == 2 && content->data[at] == '\r')) {
			*header_len_r = at;
			*body_from_r = next;
			return;
		}
		at = next;
	}
	*header_len_r = *body_from_r = content->len;
}

/* REJECT or DEFER: the message goes back to its sender for every
 * recipient, as a failure (nobody is left to try again later). */
static void return_to_sender(const struct queue_envelope *env, const struct content_check *c,
                             const struct str *content)
{
	char status[sizeof(c->enhanced)];
	memcpy(status, c->enhanced, sizeof(status));
	status[0] = '5';
	struct pickup_failed_rcpt *rcpts = xcalloc(env->rcpt_count, sizeof(*rcpts));
	for (size_t i = 0; i < env->rcpt_count; i++)
		rcpts[i] = (struct pickup_failed_rcpt){env->rcpts[i].address, env->rcpts[i].orcpt,
		                                       env->rcpts[i].notify, status, c->text};
	pickup_bounce_failed(pc.queue_dir, pc.hostname, pc.virtual_alias, env, rcpts,
	                     env->rcpt_count, content);
	free(rcpts);
}

enum pickup_content_result pickup_content_run(struct queue_envelope *env, struct str *content,
                                              const char **subdir_r, const char **why_r)
{
	struct content_check_config cfg = pc.cfg;
	cfg.ctx = env;
	struct content_check c;
	content_check_init(&c, &cfg);
	size_t header_len, body_from;
	split_headers(content, &header_len, &body_from);
	struct str out = STR_INIT;
	content_check_headers(&c, content->data, header_len, &out);
	str_append(&out, content->data + header_len, body_from - header_len);
	content_check_body(&c, content->data + body_from, content->len - body_from, &out);
	content_check_body_end(&c, &out);
	enum pickup_content_result result = PICKUP_CONTENT_DONE;
	switch (c.verdict) {
	case CONTENT_FAILED:
		*why_r = "a header_checks or body_checks table cannot be read";
		result = PICKUP_CONTENT_RETRY;
		break;
	case CONTENT_REJECT:
		/* (the "reject:" line was logged when the table said so) */
		if (pc.soft_bounce) {
			/* Nothing goes back: the message waits on hold, as it came. */
			free(env->hold_reason);
			env->hold_reason = xasprintf("soft_bounce: %s %s", c.enhanced, c.text);
			*subdir_r = "hold";
			log_info("%s: held instead of returned (soft_bounce): %s", env->id,
			         env->hold_reason);
			result = PICKUP_CONTENT_QUEUE;
			break;
		}
		return_to_sender(env, &c, content);
		break;
	case CONTENT_DISCARD:
		log_info("%s: removed: discarded by header_checks or body_checks; from=<%s>",
		         env->id, env->sender);
		break;
	case CONTENT_ACCEPT:
		if (c.hold_reason) {
			free(env->hold_reason);
			env->hold_reason = xstrdup(c.hold_reason);
			*subdir_r = "hold";
		}
		if (c.redirect != NULL || c.bcc != NULL) {
			/* REDIRECT and BCC (logged when the table said so). */
			struct queue_envelope redirected;
			envelope_redirect_copy(&redirected, env, c.redirect, c.bcc);
			queue_envelope_free(env);
			*env = redirected;
		}
		str_free(content);
		*content = out;
		str_init(&out);
		result = PICKUP_CONTENT_QUEUE;
		break;
	}
	str_free(&out);
	content_check_free(&c);
	return result;
}

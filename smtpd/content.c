/*
 * smtpd's header_checks, mime_header_checks, nested_header_checks and
 * body_checks (lib/mail/content_check.h): the
 * tables are looked up through policy_table_value (lib/table/table_cache.h),
 * and each decision is logged in Postfix's form, e.g.
 *   ID: reject: header Subject: win from unknown[192.0.2.1]; from=<a@x>
 *       to=<b@y> proto=ESMTP helo=<h>: 5.7.1 Message content rejected
 */
#include "smtpd/smtpd.h"
#include "util/log.h"

static int content_lookup(void *ctx, const char *spec, const char *key, struct str *value)
{
	(void)ctx;
	return policy_table_value(spec, key, value);
}

static void content_note(void *ctx, const char *action, const char *part, const char *line,
                         const char *text)
{
	const struct session *s = ctx;
	const struct queue_envelope *env = &s->env;
	const struct content_check_origin from = {
	    .client = session_client(s),
	    .sender = env->sender,
	    .rcpt = env->rcpt_count > 0 ? env->rcpts[0].address : "",
	    .protocol = session_protocol(s),
	    .helo = s->helo ? s->helo : "",
	};
	struct str msg = STR_INIT;
	const char *id = s->queue_id[0] ? s->queue_id : "NOQUEUE";
	if (content_check_log_text(action, part, line, text, &from, &msg))
		log_warn("%s: %s", id, str_cstr(&msg));
	else
		log_info("%s: %s", id, str_cstr(&msg));
	str_free(&msg);
}

void content_checks_setup(struct smtpd_settings *c, const struct conf *conf)
{
	c->content_checks.header_maps = conf_get_list(conf, "header_checks");
	c->content_checks.mime_header_maps = conf_get_list(conf, "mime_header_checks");
	c->content_checks.nested_header_maps = conf_get_list(conf, "nested_header_checks");
	c->content_checks.body_maps = conf_get_list(conf, "body_checks");
	c->content_checks.body_size_limit = conf_get_size(conf, "body_checks_size_limit");
	c->content_checks.lookup = content_lookup;
	c->content_checks.note = content_note;
	c->content_checks.ctx = NULL;
}

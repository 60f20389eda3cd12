/*
 * smtpd's header_checks and body_checks (lib/mail/content_check.h): the
 * tables are looked up through policy.c's open tables, and each decision
 * is logged in Postfix's form, e.g.
 *   ID: reject: header Subject: win from unknown[192.0.2.1]; from=<a@x>
 *       to=<b@y> proto=ESMTP helo=<h>: 5.7.1 Message content rejected
 */
#include <string.h>

#include "smtpd/smtpd.h"
#include "util/log.h"

#define LOGGED_LINE_LIMIT 200

static int content_lookup(void *ctx, const char *spec, const char *key, struct str *value)
{
	(void)ctx;
	return policy_table_value(spec, key, value);
}

static void content_note(void *ctx, const char *action, const char *part, const char *line,
                         const char *text)
{
	const struct session *s = ctx;
	/* One log line: folded lines and other controls become blanks. */
	char shown[LOGGED_LINE_LIMIT + 4];
	size_t n = 0;
	for (; line[n] && n < LOGGED_LINE_LIMIT; n++)
		shown[n] = (unsigned char)line[n] < 0x20 || line[n] == 0x7f ? ' ' : line[n];
	strcpy(shown + n, line[n] ? "..." : "");
	const char *id = s->queue_id[0] ? s->queue_id : "NOQUEUE";
	if (strcmp(action, "unknown") == 0) {
		log_warn("%s: %s_checks: unknown action \"%.100s\" for %s %s; ignored", id, part,
		         text, part, shown);
		return;
	}
	const struct queue_envelope *env = &s->env;
	log_info("%s: %s: %s %s from %s; from=<%s> to=<%s> proto=%s helo=<%s>%s%s", id, action,
	         part, shown, session_client(s), env->sender,
	         env->rcpt_count > 0 ? env->rcpts[0].address : "", session_protocol(s),
	         s->helo ? s->helo : "", *text ? ": " : "", text);
}

void content_checks_setup(struct smtpd_settings *c, const struct conf *conf)
{
	c->content_checks.header_maps = conf_get_list(conf, "header_checks");
	c->content_checks.body_maps = conf_get_list(conf, "body_checks");
	c->content_checks.body_size_limit = conf_get_size(conf, "body_checks_size_limit");
	c->content_checks.lookup = content_lookup;
	c->content_checks.note = content_note;
	c->content_checks.ctx = NULL;
}

/*
 * smtp_header_checks (lmtp_header_checks for lmtp): Postfix's restricted
 * header_checks(5) for the SMTP client, as admins use it to strip the
 * Received header of their submission clients or other internal headers
 * from mail leaving the site. Each field of the message's top-level header
 * section (as smtp_generic_maps left it) is looked up as it goes out
 * (lib/mail/content_check.h): IGNORE, REPLACE and PREPEND change what is
 * sent, WARN and INFO log, DUNNO and OK do nothing. What would change
 * whether or where the mail goes (REJECT, DEFER, DISCARD, HOLD, REDIRECT,
 * BCC) is logged and ignored, as Postfix's smtp does. The queue file is
 * never changed: other recipients and retries start from the original. A
 * table that cannot be read defers the message.
 */
#include <stdlib.h>
#include <string.h>

#include "mail/content_check.h"
#include "smtp/smtp.h"
#include "table/table_cache.h"
#include "util/alloc.h"
#include "util/log.h"

#define HEADER_CHECKS_HEAD_MAX (1024 * 1024)

struct note_ctx {
	const char *queue_id;
	const struct smtp_message *msg;
	const char *rcpt;
};

static int lookup(void *ctx, const char *spec, const char *key, struct str *value)
{
	(void)ctx;
	const char *error;
	int rc = table_cache_lookup(spec, key, false, value, &error);
	if (rc < 0)
		log_warn("smtp_header_checks: %s", error);
	return rc;
}

static void note(void *ctx, const char *action, const char *part, const char *line,
                 const char *text)
{
	const struct note_ctx *n = ctx;
	if (strcmp(action, "unsupported") == 0) {
		log_warn("%s: smtp_header_checks: \"%.100s\" is not supported on the way out; "
		         "ignored (%.100s)",
		         n->queue_id, text, line);
		return;
	}
	const struct content_check_origin from = {
	    .client = "local",
	    .sender = n->msg->env && n->msg->env->sender ? n->msg->env->sender : "",
	    .rcpt = n->rcpt,
	};
	struct str msg = STR_INIT;
	if (content_check_log_text(action, part, line, text, &from, &msg))
		log_warn("%s: %s", n->queue_id, str_cstr(&msg));
	else
		log_info("%s: %s", n->queue_id, str_cstr(&msg));
	str_free(&msg);
}

/* The first bytes of the content as they are to be sent: msg->head when
 * smtp_generic_maps rewrote them, else read from the queue file. */
static int current_head(const struct smtp_message *msg, struct str *out, int64_t *covers_r,
                        const char **error_r)
{
	if (msg->head_used > 0) {
		str_append(out, msg->head.data, msg->head.len);
		*covers_r = msg->head_used;
		return 0;
	}
	if (smtp_message_read_start(msg, HEADER_CHECKS_HEAD_MAX, out, error_r) != 0)
		return -1;
	*covers_r = (int64_t)out->len;
	return 0;
}

/* The bytes of complete header lines at the start of head: up to the
 * empty line that ends the section, or the last complete line. */
static size_t header_lines(const struct str *head)
{
	size_t at = 0;
	while (at < head->len) {
		const char *nl = memchr(head->data + at, '\n', head->len - at);
		if (nl == NULL)
			break;
		size_t len = (size_t)(nl - (head->data + at));
		if (len == 0 || (len == 1 && head->data[at] == '\r'))
			break; /* the empty line */
		at = (size_t)(nl - head->data) + 1;
	}
	return at;
}

int header_checks_apply(const char *queue_id, struct smtp_message *msg, struct smtp_rcpt *rcpts,
                        size_t count)
{
	char *const *maps = smtp_cfg.header_checks;
	if (maps == NULL || maps[0] == NULL)
		return 0;
	struct str head = STR_INIT;
	int64_t covers = 0;
	const char *error = NULL;
	const char *first = count > 0 ? rcpts[0].address : "";
	struct note_ctx nc = {queue_id, msg, first};
	struct content_check_config cfg = {
	    .header_maps = maps,
	    .lookup = lookup,
	    .note = note,
	    .ctx = &nc,
	    .edit_only = true,
	};
	int rc = current_head(msg, &head, &covers, &error);
	if (rc == 0) {
		size_t lines = header_lines(&head);
		struct content_check c;
		content_check_init(&c, &cfg);
		struct str out = STR_INIT;
		content_check_headers(&c, head.data, lines, &out);
		if (c.verdict == CONTENT_FAILED) {
			error = "a table cannot be read";
			rc = -1;
		} else {
			/* In place of the header lines read from the queue file; or
			 * of what smtp_generic_maps rewrote, the rest of it kept. */
			if (msg->head_used > 0)
				str_append(&out, head.data + lines, head.len - lines);
			else
				covers = (int64_t)lines;
			str_free(&msg->head);
			msg->head = out;
			str_init(&out);
			msg->head_used = covers;
		}
		str_free(&out);
		content_check_free(&c);
	}
	str_free(&head);
	if (rc == 0)
		return 0;
	char *why = xasprintf("smtp_header_checks: %s", error ? error : "failed");
	log_warn("%s: %s", queue_id, why);
	for (size_t i = 0; i < count; i++)
		if (rcpts[i].outcome == OUT_PENDING)
			rcpt_set(&rcpts[i], OUT_DEFERRED, "4.3.0", why);
	free(why);
	return -1;
}

/*
 * Address verification (reject_unverified_recipient, sendmail -bv): a
 * deliver request with verify = 1 asks what would happen to each recipient
 * without delivering anything. The recipient goes through the same code as
 * a delivery (local.c, expand.c: virtual mailbox maps, aliases, :include:
 * files and ~/.forward read in children as their readers, loops, address
 * extensions, the mailbox or mailbox_command), so a bounce or a deferral
 * comes out exactly as a delivery's would. What is different is the last
 * step: each delivery primitive (maildir.c, mbox.c, command.c) stops where
 * it would start its child and says what it would do ("delivers to
 * mailbox"); forward.c stops in its child, after virtual_alias_maps and
 * before the queue file is written. Nothing is written, run or queued.
 *
 * Reasons made here are one line (control characters become '?') of at
 * most VERIFY_REASON_MAX bytes.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "local/local.h"
#include "util/alloc.h"

#define VERIFY_REASON_MAX 400

/* Control characters become '?'; longer than max: cut (not inside a UTF-8
 * sequence) and end with "...". */
static void verify_clean(struct str *s, size_t max)
{
	for (size_t i = 0; i < s->len; i++)
		if ((unsigned char)s->data[i] < 0x20 || s->data[i] == 0x7f)
			s->data[i] = '?';
	if (s->len <= max)
		return;
	size_t cut = max - 3;
	while (cut > 0 && ((unsigned char)s->data[cut] & 0xc0) == 0x80)
		cut--;
	str_truncate(s, cut);
	str_append_cstr(s, "...");
}

void local_verify_list_add(struct str *list, const char *item)
{
	if (list->len > VERIFY_REASON_MAX)
		return; /* cut when the reason is made */
	if (list->len > 0)
		str_append_cstr(list, ", ");
	str_append_cstr(list, item);
}

void local_verify_delivered(struct local_result *result, const char *fmt, ...)
{
	struct str text = STR_INIT;
	va_list ap;
	va_start(ap, fmt);
	str_vprintf(&text, fmt, ap);
	va_end(ap);
	verify_clean(&text, VERIFY_REASON_MAX);
	local_result_set(result, "delivered", "2.0.0", str_cstr(&text));
	str_free(&text);
}

bool local_verify_stop(const struct local_message *msg, const struct local_creds *creds,
                       struct local_result *result, const char *fmt, ...)
{
	if (!msg->verify)
		return false;
	const char *refused = local_creds_refused(creds);
	if (refused != NULL) {
		/* the child would report this, as local_run_child does */
		char *text =
		    xasprintf("cannot change to user id %ld: %s", (long)creds->uid, refused);
		local_result_set(result, "deferred", "4.3.0", text);
		free(text);
		return true;
	}
	struct str text = STR_INIT;
	va_list ap;
	va_start(ap, fmt);
	str_vprintf(&text, fmt, ap);
	va_end(ap);
	local_verify_delivered(result, "%s", str_cstr(&text));
	str_free(&text);
	return true;
}

/*
 * smtp_generic_maps on the way out (generic(5)): before a message is
 * sent, its envelope sender (not the null sender), its recipients and
 * the addresses in the address fields of its top-level header section
 * (lib/mail/addr_header.h) are looked up (lib/mail/generic_map.h) and
 * replaced. The queue file is never changed: other recipients and other
 * transports see the original. The rewritten header section is kept in
 * memory and sent in place of the original one (transaction.c); a
 * header section longer than GENERIC_HEAD_MAX bytes is rewritten as far
 * as that and sent as it is after. ORCPT, logs and reports keep the
 * original recipient, as in Postfix. A table that cannot be read (or
 * holds a value that is not an address) defers the message: Postfix's
 * smtp stops with a fatal error there, so that no mail goes out with an
 * address that was meant to be rewritten. An address verification probe
 * (msg->verify) sends no content: only its envelope is rewritten.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mail/addr_header.h"
#include "smtp/address.h"
#include "smtp/smtp.h"
#include "util/alloc.h"
#include "util/log.h"

#define GENERIC_HEAD_MAX (1024 * 1024)

struct header_ctx {
	struct str mapped;
	const char *error;
};

/* addr_list_map_fn for header addresses: the addr-spec as written is
 * made canonical (one that is not a valid mailbox stays as it is), then
 * looked up. */
static int map_header_address(void *ctx, const char *spec, struct str *replacement)
{
	struct header_ctx *hc = ctx;
	char *canonical;
	if (address_header_canonical(spec, &canonical) != 0)
		return 0;
	const char *key = canonical ? canonical : spec;
	int rc = generic_map_lookup(smtp_cfg.generic, key, &hc->mapped, &hc->error);
	if (rc == 1)
		str_append(replacement, hc->mapped.data, hc->mapped.len);
	free(canonical);
	return rc;
}

int smtp_message_read_start(const struct smtp_message *msg, size_t max, struct str *out,
                            const char **error_r)
{
	size_t want = msg->size < (int64_t)max ? (size_t)msg->size : max;
	str_reserve(out, want);
	while (out->len < want) {
		ssize_t n = pread(msg->fd, out->data + out->len, want - out->len,
		                  msg->offset + (int64_t)out->len);
		if (n <= 0) {
			*error_r = n < 0 ? strerror(errno) : "short file";
			return -1;
		}
		out->len += (size_t)n;
	}
	if (out->data != NULL)
		out->data[out->len] = '\0';
	return 0;
}

/* The header section rewritten into msg->head. 0, or -1 with *error_r. */
static int rewrite_head(struct smtp_message *msg, char **error_r)
{
	struct str start = STR_INIT;
	const char *why;
	if (smtp_message_read_start(msg, GENERIC_HEAD_MAX, &start, &why) != 0) {
		*error_r = xasprintf("cannot read the queue file: %s", why);
		str_free(&start);
		return -1;
	}
	const char *buf = start.data ? start.data : "";
	size_t got = start.len;
	struct header_ctx hc = {STR_INIT, NULL};
	size_t used = 0;
	int rc = addr_header_rewrite(buf, got, got == (size_t)msg->size, map_header_address, &hc,
	                             &msg->head, &used);
	if (rc == 1) {
		msg->head_used = (int64_t)used;
	} else {
		str_free(&msg->head);
		msg->head_used = 0;
	}
	if (rc < 0)
		*error_r = xasprintf("smtp_generic_maps: %s", hc.error);
	str_free(&hc.mapped);
	str_free(&start);
	return rc < 0 ? -1 : 0;
}

/* address mapped into *mapped_r (NULL when unchanged). 0, or -1 with
 * *error_r. */
static int map_envelope(const char *address, char **mapped_r, char **error_r)
{
	*mapped_r = NULL;
	struct str out = STR_INIT;
	const char *error = "";
	int rc = generic_map_lookup(smtp_cfg.generic, address, &out, &error);
	if (rc < 0)
		*error_r = xasprintf("smtp_generic_maps: %s", error);
	else if (rc == 1 && strcmp(str_cstr(&out), address) != 0)
		*mapped_r = str_steal(&out);
	str_free(&out);
	return rc < 0 ? -1 : 0;
}

int generic_apply(const char *queue_id, struct smtp_message *msg, struct smtp_rcpt *rcpts,
                  size_t count)
{
	if (!generic_map_enabled(smtp_cfg.generic) || msg->env == NULL)
		return 0;
	char *error = NULL;
	int rc = map_envelope(msg->env->sender, &msg->generic_sender, &error);
	for (size_t i = 0; rc == 0 && i < count; i++)
		if (rcpts[i].outcome == OUT_PENDING)
			rc = map_envelope(rcpts[i].address, &rcpts[i].generic_address, &error);
	/* A probe sends no header section. */
	if (rc == 0 && !msg->verify)
		rc = rewrite_head(msg, &error);
	if (rc == 0)
		return 0;
	log_warn("%s: %s", queue_id, error);
	for (size_t i = 0; i < count; i++)
		if (rcpts[i].outcome == OUT_PENDING)
			rcpt_set(&rcpts[i], OUT_DEFERRED, "4.3.0", error);
	free(error);
	return -1;
}

void generic_release(struct smtp_message *msg, struct smtp_rcpt *rcpts, size_t count)
{
	free(msg->generic_sender);
	msg->generic_sender = NULL;
	str_free(&msg->head);
	msg->head_used = 0;
	for (size_t i = 0; i < count; i++) {
		free(rcpts[i].generic_address);
		rcpts[i].generic_address = NULL;
	}
}

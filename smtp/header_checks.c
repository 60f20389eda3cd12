/*
 * smtp_header_checks, smtp_mime_header_checks, smtp_nested_header_checks
 * and smtp_body_checks (lmtp_X for lmtp): Postfix's restricted
 * header_checks(5) and body_checks(5) for the SMTP client, as admins use
 * them to strip the Received header of their submission clients or other
 * internal headers, or internal body lines, from mail leaving the site.
 * Each field of the message's top-level header section (as
 * smtp_generic_maps left it) is looked up as it goes out
 * (lib/mail/content_check.h): IGNORE, REPLACE and PREPEND change what is
 * sent, WARN and INFO log, DUNNO and OK do nothing. What would change
 * whether or where the mail goes (REJECT, DEFER, DISCARD, HOLD, REDIRECT,
 * BCC) is logged and ignored, as Postfix's smtp does. The queue file is
 * never changed: other recipients and retries start from the original. A
 * table that cannot be read defers the message.
 *
 * With only smtp_header_checks, the edited header section replaces
 * msg->head (no copy of the body). When a MIME, nested-header or body
 * table is set, the whole content goes through one check (the header
 * tables too, the MIME structure followed as smtpd does) into an unnamed
 * temporary file under the queue's tmp/ (else a memfd), which is then
 * sent in place of the queue file: the memory used stays bounded.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mail/content_check.h"
#include "smtp/smtp.h"
#include "table/table_cache.h"
#include "util/alloc.h"
#include "util/log.h"
#include "util/unnamed_file.h"

#define HEADER_CHECKS_HEAD_MAX (1024 * 1024)
#define CONTENT_BLOCK (64 * 1024)

struct note_ctx {
	const char *queue_id;
	const struct smtp_message *msg;
	const char *rcpt;
	const char *table; /* the parameter of the table looked up last */
};

/* The parameter (as this program reads it) that lists spec. */
static const char *table_param(const char *spec)
{
	static const struct {
		char *const *const *maps;
		const char *smtp, *lmtp;
	} params[] = {
	    {&smtp_cfg.header_checks, "smtp_header_checks", "lmtp_header_checks"},
	    {&smtp_cfg.mime_header_checks, "smtp_mime_header_checks", "lmtp_mime_header_checks"},
	    {&smtp_cfg.nested_header_checks, "smtp_nested_header_checks",
	     "lmtp_nested_header_checks"},
	    {&smtp_cfg.body_checks, "smtp_body_checks", "lmtp_body_checks"},
	};
	for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++)
		for (char *const *m = *params[i].maps; m && *m; m++)
			if (*m == spec)
				return smtp_cfg.lmtp ? params[i].lmtp : params[i].smtp;
	return smtp_cfg.lmtp ? "lmtp_header_checks" : "smtp_header_checks";
}

static int lookup(void *ctx, const char *spec, const char *key, struct str *value)
{
	struct note_ctx *n = ctx;
	const char *error;
	n->table = table_param(spec);
	int rc = table_cache_lookup(spec, key, false, value, &error);
	if (rc < 0)
		log_warn("%s: %s", n->table, error);
	return rc;
}

static void note(void *ctx, const char *action, const char *part, const char *line,
                 const char *text)
{
	const struct note_ctx *n = ctx;
	if (strcmp(action, "unsupported") == 0) {
		log_warn("%s: %s: \"%.100s\" is not supported on the way out; "
		         "ignored (%.100s)",
		         n->queue_id, n->table, text, line);
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

/* smtp_header_checks alone: the top-level header section, edited into
 * msg->head. 0, or -1 with *error_r. */
static int edit_head(struct smtp_message *msg, const struct content_check_config *cfg,
                     const char **error_r)
{
	struct str head = STR_INIT;
	int64_t covers = 0;
	int rc = current_head(msg, &head, &covers, error_r);
	if (rc == 0) {
		size_t lines = header_lines(&head);
		struct content_check c;
		content_check_init(&c, cfg);
		struct str out = STR_INIT;
		content_check_headers(&c, head.data, lines, &out);
		if (c.verdict == CONTENT_FAILED) {
			*error_r = "a table cannot be read";
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
	return rc;
}

/* An unnamed file for the checked content: under the queue's tmp/ (as
 * smtpd spills milter content), else in memory (memfd). -1 on failure. */
static int content_file(void)
{
	char *dir = xasprintf("%s/tmp", smtp_cfg.queue_dir);
	int fd = unnamed_file(dir, "smtp");
	free(dir);
	if (fd < 0)
		fd = memfd_create("postern-smtp-content", MFD_CLOEXEC);
	return fd;
}

/* Write out (then emptied) to fd at *off. 0, or -1. */
static int put(int fd, struct str *out, int64_t *off)
{
	for (size_t at = 0; at < out->len;) {
		ssize_t n = pwrite(fd, out->data + at, out->len - at, *off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		at += (size_t)n;
		*off += n;
	}
	str_clear(out);
	return 0;
}

/* With MIME, nested-header or body tables: the whole content as it is to
 * be sent, checked into a temporary file that then stands for it. 0, or
 * -1 with *error_r. */
static int edit_content(struct smtp_message *msg, const struct content_check_config *cfg,
                        const char **error_r)
{
	struct str head = STR_INIT, out = STR_INIT;
	int64_t covers = 0, written = 0;
	if (current_head(msg, &head, &covers, error_r) != 0) {
		str_free(&head);
		return -1;
	}
	int fd = content_file();
	if (fd < 0) {
		*error_r = "cannot create a temporary file";
		str_free(&head);
		return -1;
	}
	struct content_check c;
	content_check_init(&c, cfg);
	size_t lines = header_lines(&head);
	content_check_headers(&c, head.data, lines, &out);
	content_check_body(&c, head.data + lines, head.len - lines, &out);
	int rc = put(fd, &out, &written);
	/* The rest of the queue file, after what head stands for. */
	char *buf = xmalloc(CONTENT_BLOCK);
	for (int64_t off = covers; rc == 0 && off < msg->size && c.verdict != CONTENT_FAILED;) {
		size_t want =
		    msg->size - off < CONTENT_BLOCK ? (size_t)(msg->size - off) : CONTENT_BLOCK;
		ssize_t n = pread(msg->fd, buf, want, msg->offset + off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*error_r = "cannot read the queue file";
			rc = -1;
			break;
		}
		content_check_body(&c, buf, (size_t)n, &out);
		off += n;
		rc = put(fd, &out, &written);
	}
	free(buf);
	if (rc == 0 && c.verdict != CONTENT_FAILED) {
		content_check_body_end(&c, &out);
		rc = put(fd, &out, &written);
	}
	if (rc != 0 && *error_r == NULL)
		*error_r = "cannot write a temporary file";
	if (rc == 0 && c.verdict == CONTENT_FAILED) {
		*error_r = "a table cannot be read";
		rc = -1;
	}
	content_check_free(&c);
	str_free(&head);
	str_free(&out);
	if (rc != 0) {
		close(fd);
		return -1;
	}
	/* The checked content stands for the message from now on (every
	 * session and fallback relay sends it); the queue file is not read
	 * again. */
	close(msg->fd);
	msg->fd = fd;
	msg->offset = 0;
	msg->size = written;
	str_free(&msg->head);
	msg->head_used = 0;
	return 0;
}

static bool has_maps(char *const *maps)
{
	return maps != NULL && maps[0] != NULL;
}

int header_checks_apply(const char *queue_id, struct smtp_message *msg, struct smtp_rcpt *rcpts,
                        size_t count)
{
	bool whole = has_maps(smtp_cfg.mime_header_checks) ||
	             has_maps(smtp_cfg.nested_header_checks) || has_maps(smtp_cfg.body_checks);
	if (!whole && !has_maps(smtp_cfg.header_checks))
		return 0;
	const char *error = NULL;
	const char *first = count > 0 ? rcpts[0].address : "";
	struct note_ctx nc = {queue_id, msg, first, NULL};
	struct content_check_config cfg = {
	    .header_maps = smtp_cfg.header_checks,
	    .lookup = lookup,
	    .note = note,
	    .ctx = &nc,
	    .edit_only = true,
	};
	if (whole) {
		cfg.mime_header_maps = smtp_cfg.mime_header_checks;
		cfg.nested_header_maps = smtp_cfg.nested_header_checks;
		cfg.body_maps = smtp_cfg.body_checks;
		cfg.body_size_limit = smtp_cfg.body_checks_size_limit;
	}
	int rc = whole ? edit_content(msg, &cfg, &error) : edit_head(msg, &cfg, &error);
	if (rc == 0)
		return 0;
	/* Named after the table that failed, else the checks in use. */
	const char *name = nc.table ? nc.table
	                   : whole  ? (smtp_cfg.lmtp ? "lmtp_body_checks" : "smtp_body_checks")
	                            : table_param(NULL);
	char *why = xasprintf("%s: %s", name, error ? error : "failed");
	log_warn("%s: %s", queue_id, why);
	for (size_t i = 0; i < count; i++)
		if (rcpts[i].outcome == OUT_PENDING)
			rcpt_set(&rcpts[i], OUT_DEFERRED, "4.3.0", why);
	free(why);
	return -1;
}

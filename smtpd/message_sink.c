/*
 * smtpd's message sink. At DATA or the first BDAT, sink_open fills the
 * envelope with the client's particulars, opens the queue file with the
 * envelope to queue (queued_envelope.c) and writes our header fields
 * (message_headers.c). The client's content then goes in through
 * sink_write: counted against message_size_limit, the header section
 * held until its end (message_headers.c), the body through body_checks
 * into the queue file; end_of_data.c commits it. With milters, the
 * message is held instead (in memory, or past SPILL_THRESHOLD in an
 * unnamed spill file that is mapped rather than read) until the end of
 * data. With smtpd_proxy_filter there is no queue file: the sink writes
 * the same bytes to the filter instead (proxy_filter.c), as they come, or
 * held as for milters (and speed_adjust) and sent at the end.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "mail/notify_classes.h"
#include "smtpd/message_sink.h"
#include "smtpd/smtpd.h"
#include "util/alloc.h"
#include "util/log.h"
#include "util/unnamed_file.h"

#define HEADER_HOLD_LIMIT (256 * 1024)
/* With milters, messages larger than this wait in a spill file. */
#define SPILL_THRESHOLD (1024 * 1024)

/* Write what is buffered to the spill file. */
static void spill_flush(struct message_sink *k)
{
	size_t at = 0;
	while (at < k->content.len && !k->write_failed) {
		ssize_t n = write(k->spill_fd, k->content.data + at, k->content.len - at);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			k->write_failed = true;
			k->write_error = "write error on the milter spill file";
			break;
		}
		at += (size_t)n;
	}
	k->spilled += at;
	str_clear(&k->content);
}

/* An unnamed file under the queue's tmp/ (gone when closed). */
static int spill_open(const char *queue_dir)
{
	char *dir = xasprintf("%s/tmp", queue_dir);
	int fd = unnamed_file(dir, "milter");
	free(dir);
	return fd;
}

void sink_put(struct message_sink *k, const char *data, size_t len)
{
	if (k->write_failed || len == 0)
		return;
	if (k->buffered) {
		str_append(&k->content, data, len);
		if (k->spill_fd < 0 && k->content.len >= SPILL_THRESHOLD) {
			k->spill_fd = spill_open(k->queue_dir);
			if (k->spill_fd < 0) {
				k->write_failed = true;
				k->write_error = "cannot create a milter spill file";
				return;
			}
		}
		if (k->spill_fd >= 0 && k->content.len >= READ_CHUNK)
			spill_flush(k);
		return;
	}
	if (k->proxy != NULL) {
		proxy_filter_put(k->proxy, data, len);
		return;
	}
	const char *error;
	if (queue_writer_write(k->writer, data, len, &error) != 0) {
		k->write_failed = true;
		k->write_error = error;
	}
}

/* Body bytes: through body_checks, if any, to the queue file. */
void sink_put_body(struct message_sink *k, const char *data, size_t len)
{
	if (!k->checking) {
		sink_put(k, data, len);
		return;
	}
	struct str out = STR_INIT;
	content_check_body(&k->check, data, len, &out);
	sink_put(k, out.data, out.len);
	str_free(&out);
}

void sink_write(struct session *s, struct message_sink *k, const char *data, size_t len)
{
	k->size += (long long)len;
	if (k->size > s->cfg->message_size_limit && s->cfg->message_size_limit > 0) {
		k->too_big = true;
		return;
	}
	if (!k->in_headers) {
		sink_put_body(k, data, len);
		return;
	}
	/* Rescan from the start of the last incomplete line. */
	size_t start = k->headers.len;
	while (start > 0 && k->headers.data[start - 1] != '\n')
		start--;
	str_append(&k->headers, data, len);
	size_t before = k->headers.len;
	scan_header_lines(s, k, start);
	if (k->in_headers && before > HEADER_HOLD_LIMIT) {
		/* Complete lines are headers; the rest goes on as body. */
		size_t end = k->headers.len;
		while (end > 0 && k->headers.data[end - 1] != '\n')
			end--;
		sink_release_headers(s, k, end, end);
	}
}

struct message_sink *sink_open(struct session *s, struct refusal *why)
{
	struct queue_envelope *env = &s->env;
	env->arrival = time(NULL);
	free(env->client_name);
	env->client_name = xstrdup(s->client_name);
	free(env->client_addr);
	env->client_addr = xstrdup(s->client_addr);
	free(env->client_port);
	env->client_port = xstrdup(s->client_port);
	free(env->helo);
	env->helo = xstrdup(s->helo ? s->helo : "");
	free(env->protocol);
	env->protocol = xstrdup(session_protocol(s));
	free(env->tls);
	env->tls = xstrdup(s->tls ? tls_session_summary(s->tls) : "");
	free(env->auth_user);
	env->auth_user = xstrdup(s->auth_user ? s->auth_user : "");
	free(env->origin);
	env->origin = xstrdup("smtp");
	xforward_apply_envelope(s, env); /* the original client, if XFORWARD named it */
	if (env->filter == NULL && *s->cfg->content_filter)
		env->filter = xstrdup(s->cfg->content_filter);

	struct message_sink *k;
	if (proxy_filter_enabled(s->cfg)) {
		/* No queue file: the content goes to the filter, as it comes
		 * or (held like the milters' content) at the end. */
		struct proxy_filter *proxy;
		if (proxy_filter_data(s, &proxy) < 0) {
			why->replied = true;
			return NULL;
		}
		if (s->queue_id[0] == '\0')
			queue_id_new(s->queue_id);
		k = xcalloc(1, sizeof(*k));
		k->proxying = true;
		k->proxy = proxy;
		k->buffered = proxy == NULL;
		memcpy(k->id, s->queue_id, sizeof(k->id));
	} else {
		const char *error;
		struct queue_envelope queued;
		if (queued_envelope(s, &queued, why) != 0)
			return NULL;
		struct queue_writer *w =
		    queue_writer_open_id(s->cfg->queue_dir, &queued, s->queue_id, &error);
		queue_envelope_free(&queued);
		if (w == NULL) {
			log_error("%s: cannot create queue file: %s", session_client(s), error);
			return NULL;
		}
		memcpy(env->id, queue_writer_id(w), sizeof(env->id));
		k = xcalloc(1, sizeof(*k));
		k->writer = w;
		k->buffered = s->milters != NULL;
		memcpy(k->id, queue_writer_id(w), sizeof(k->id));
	}
	k->in_headers = true;
	k->spill_fd = -1;
	k->queue_dir = s->cfg->queue_dir;
	memcpy(s->queue_id, k->id, sizeof(s->queue_id));
	k->check_cfg = s->cfg->content_checks;
	k->check_cfg.ctx = s;
	k->checking = !(s->cfg->receive_options & RECEIVE_NO_HEADER_BODY_CHECKS) &&
	              content_check_wanted(&k->check_cfg);
	content_check_init(&k->check, &k->check_cfg);
	k->rewriting = rewrites_headers(s);
	build_received(s, k, &k->received);
	if (!k->checking) {
		sink_put(k, k->received.data, k->received.len);
		str_free(&k->received);
	}
	log_info("%s: client=%s%s%s%s", k->id, session_client(s),
	         s->auth_user ? ", sasl_username=" : "", s->auth_user ? s->auth_user : "",
	         xforward_log_suffix(s));
	return k;
}

void sink_discard(struct message_sink *k)
{
	if (k == NULL)
		return;
	queue_writer_abort(k->writer);
	str_free(&k->headers);
	str_free(&k->content);
	str_free(&k->received);
	content_check_free(&k->check);
	if (k->spill_fd >= 0)
		close(k->spill_fd);
	free(k);
}

/* The reply to a queue file that cannot be written: a resource problem
 * for the postmaster notices (notice.c), as Postfix's CLEANUP_STAT_WRITE. */
void reply_write_error(struct session *s)
{
	s->reply_class = NOTIFY_RESOURCE;
	reply(s, 451, "4.3.0", "Error: queue file write error");
}

/* The content held (for milters, or a proxy filter at the end): in
 * memory, or mapped from the spill file (*map_r, to munmap k->spilled
 * bytes; else NULL). False when it cannot be had (replied 451). */
bool held_content(struct session *s, struct message_sink *k, const char **data_r, size_t *len_r,
                  void **map_r)
{
	void *map = NULL;
	if (k->spill_fd >= 0)
		spill_flush(k);
	if (k->spill_fd >= 0 && k->spilled > 0 && !k->write_failed) {
		map = mmap(NULL, k->spilled, PROT_READ, MAP_PRIVATE, k->spill_fd, 0);
		if (map == MAP_FAILED) {
			map = NULL;
			k->write_failed = true;
			k->write_error = "cannot map the milter spill file";
		}
	}
	if (k->write_failed) {
		reply_write_error(s);
		log_error("%s: %s: %m", k->id, k->write_error);
		return false;
	}
	*map_r = map;
	*data_r = map ? map : k->content.data;
	*len_r = map ? k->spilled : k->content.len;
	return true;
}

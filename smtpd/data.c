/*
 * smtpd DATA and BDAT: the message goes through a sink that writes the
 * Received header, holds the header section until its end (to add a
 * missing Message-ID or Date for submission, to count hops, and to remove
 * Return-Path and Content-Length fields), then streams the rest into the
 * queue file. Only after the queue file is durable does the client hear
 * 250. With milters, the message is held instead (in memory, or past
 * SPILL_THRESHOLD in an unnamed spill file that is mapped rather than
 * read), shown to the filters after the final dot, edited as they say,
 * and only then written to the queue file (in incoming/, or hold/ for
 * quarantine). The queue file gets the envelope after canonical mapping
 * and masquerading (lib/mail/canonical.h), then virtual alias expansion
 * (lib/mail/virtual_alias.h); milters see it as the client gave it. The
 * address fields of the client's header section are rewritten by
 * canonical mapping and masquerading too (for the clients
 * local_header_rewrite_clients names), after header_checks, as Postfix's
 * cleanup does; the section is held anyway, so this costs nothing when
 * neither is configured. Header fields that access tables or policy servers PREPENDed
 * come first, above our Received header, as Postfix puts them; the
 * end-of-data policy servers are asked before the milters see the
 * message. With smtpd_proxy_filter there is no queue file: the sink
 * writes the same bytes to the filter instead (proxy_filter.c), as they
 * come, or held as for milters (and speed_adjust) and sent at the end,
 * and the filter's reply to the end of data is the client's.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "mail/content_check.h"
#include "mail/drop_headers.h"
#include "mail/notify_classes.h"
#include "mail/redirect.h"
#include "mail/wakeup.h"
#include "milter/milter.h"
#include "milter/milter_message.h"
#include "smtp/smtp_data.h"
#include "smtpd/smtpd.h"
#include "util/alloc.h"
#include "util/ipc.h"
#include "util/log.h"
#include "util/sock.h"
#include "util/unnamed_file.h"

#define HEADER_HOLD_LIMIT (256 * 1024)
#define READ_CHUNK 65536
/* With milters, messages larger than this wait in a spill file. */
#define SPILL_THRESHOLD (1024 * 1024)

struct message_sink {
	struct queue_writer *writer;
	struct str headers; /* held until the end of the header section */
	bool in_headers;
	bool has_message_id;
	bool has_date;
	int received_count;
	long long size; /* bytes of client content */
	bool too_big;
	bool write_failed;
	const char *write_error;
	char id[QUEUE_ID_LEN + 1];
	bool buffered;      /* milters: content is held, not written to the queue file */
	int spill_fd;       /* the unnamed spill file, or -1 while all is in memory */
	struct str content; /* held bytes (not yet in the spill file) */
	size_t spilled;     /* bytes in the spill file */
	const char *queue_dir;
	/* header_checks, body_checks */
	bool checking;
	struct content_check_config check_cfg; /* the settings', with this session */
	struct content_check check;
	struct str received; /* our headers (PREPENDed ones, Received), checked with the client's */
	/* canonical_maps, masquerade_domains on the header section */
	bool rewriting;
	bool rewrite_failed; /* a table could not be read: 451 at the end */
	bool envelope_stale; /* a content check's REDIRECT or BCC came after it was written */
	/* smtpd_proxy_filter: the message goes to the filter, not the queue
	 * (proxy_filter.c); proxy: as it arrives, or NULL to be held */
	bool proxying;
	struct proxy_filter *proxy;
};

static void format_date(char *buf, size_t len, time_t when)
{
	struct tm tm;
	localtime_r(&when, &tm);
	strftime(buf, len, "%a, %d %b %Y %H:%M:%S %z", &tm);
}

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

static void sink_put(struct message_sink *k, const char *data, size_t len)
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

static void build_received(struct session *s, struct message_sink *k, struct str *out)
{
	char date[64];
	format_date(date, sizeof(date), time(NULL));
	str_append(out, s->prepend.data, s->prepend.len);
	str_printf(out, "Received: from %s (%s [%s])\r\n", s->helo ? s->helo : s->client_addr,
	           s->client_name, s->client_addr);
	if (s->tls)
		str_printf(out, "\t(using %s)\r\n", tls_session_summary(s->tls));
	char *subject = s->tls ? tls_session_peer_subject(s->tls) : NULL;
	if (subject != NULL) {
		/* As Postfix notes a client certificate (smtpd_tls_ask_ccert). */
		char *issuer = tls_session_peer_issuer(s->tls);
		for (char *c = subject; *c; c++)
			*c = *c == '"' || *c == '\\' ? '?' : *c;
		for (char *c = issuer; c && *c; c++)
			*c = *c == '"' || *c == '\\' ? '?' : *c;
		str_printf(out, "\t(Client CN \"%s\", Issuer \"%s\" (%s))\r\n", subject,
		           issuer ? issuer : "",
		           tls_session_peer_verified(s->tls) ? "verified OK" : "not verified");
		free(issuer);
		free(subject);
	}
	if (s->auth_user && s->cfg->auth_header)
		str_printf(out, "\t(Authenticated sender: %s)\r\n", s->auth_user);
	str_printf(out, "\tby %s (Postern) with %s id %s", s->cfg->hostname, session_protocol(s),
	           k->id);
	if (s->env.rcpt_count == 1)
		str_printf(out, "\r\n\tfor <%s>", s->env.rcpts[0].address);
	str_printf(out, "; %s\r\n", date);
}

/* Body bytes: through body_checks, if any, to the queue file. */
static void sink_put_body(struct message_sink *k, const char *data, size_t len)
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

/* The client's header fields, buf[from..buf->len), with their addresses
 * rewritten (canonical_maps, masquerade_domains). */
static void rewrite_header_fields(struct session *s, struct message_sink *k, struct str *buf,
                                  size_t from)
{
	struct str out = STR_INIT;
	size_t used = 0;
	const char *error = "";
	int rc = canonical_rewrite_header(s->cfg->canonical, buf->data + from, buf->len - from,
	                                  true, &out, &used, &error);
	if (rc < 0) {
		log_warn("%s: header address rewriting: %s", k->id, error);
		k->rewrite_failed = true;
	} else if (rc == 1) {
		str_append(&out, buf->data + from + used, buf->len - from - used);
		str_truncate(buf, from);
		str_append(buf, out.data, out.len);
	}
	str_free(&out);
}

/* Called at the end of the header section (or when it grows too large):
 * the held bytes up to header_len are headers, those from body_from on
 * are body (between the two: the empty line that ends the headers). */
static void sink_release_headers(struct session *s, struct message_sink *k, size_t header_len,
                                 size_t body_from)
{
	size_t kept_len = drop_headers_remove(&k->headers, header_len);
	body_from -= header_len - kept_len;
	header_len = kept_len;
	struct str added = STR_INIT;
	bool add = s->cfg->add_missing_headers || s->auth_user != NULL;
	if (add && !k->has_date) {
		char date[64];
		format_date(date, sizeof(date), time(NULL));
		str_printf(&added, "Date: %s\r\n", date);
	}
	if (add && !k->has_message_id)
		str_printf(&added, "Message-ID: <%s@%s>\r\n", k->id, s->cfg->hostname);
	if (k->checking) {
		struct str out = STR_INIT;
		content_check_headers(&k->check, k->received.data, k->received.len, &out);
		str_append(&out, added.data, added.len);
		size_t client_from = out.len;
		content_check_headers(&k->check, k->headers.data, header_len, &out);
		if (k->rewriting)
			rewrite_header_fields(s, k, &out, client_from);
		str_append(&out, k->headers.data + header_len, body_from - header_len);
		sink_put(k, out.data, out.len);
		str_free(&out);
		sink_put_body(k, k->headers.data + body_from, k->headers.len - body_from);
	} else if (k->rewriting) {
		struct str out = STR_INIT;
		str_append(&out, added.data, added.len);
		str_append(&out, k->headers.data, header_len);
		rewrite_header_fields(s, k, &out, added.len);
		str_append(&out, k->headers.data + header_len, k->headers.len - header_len);
		sink_put(k, out.data, out.len);
		str_free(&out);
	} else {
		sink_put(k, added.data, added.len);
		sink_put(k, k->headers.data, k->headers.len);
	}
	str_free(&added);
	str_clear(&k->headers);
	k->in_headers = false;
}

static bool header_is(const char *line, size_t len, const char *name)
{
	size_t n = strlen(name);
	return len > n && strncasecmp(line, name, n) == 0 && line[n] == ':';
}

/* Look at the complete header lines held so far. */
static void scan_header_lines(struct session *s, struct message_sink *k, size_t from)
{
	const char *p = k->headers.data + from;
	const char *end = k->headers.data + k->headers.len;
	while (k->in_headers && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			break;
		size_t len = (size_t)(nl - p);
		if (len > 0 && p[len - 1] == '\r')
			len--;
		if (len == 0) {
			sink_release_headers(s, k, (size_t)(p - k->headers.data),
			                     (size_t)(nl + 1 - k->headers.data));
			return;
		}
		if (header_is(p, len, "Message-ID"))
			k->has_message_id = true;
		else if (header_is(p, len, "Date"))
			k->has_date = true;
		else if (header_is(p, len, "Received"))
			k->received_count++;
		p = nl + 1;
	}
}

static void sink_write(struct session *s, struct message_sink *k, const char *data, size_t len)
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

/* Why a message cannot be taken, when not for a queue file error
 * (replied: the reply is sent already). */
struct refusal {
	int code;
	char enhanced[8];
	char *text;
	bool replied;
};

static void refusal_set(struct refusal *r, int code, const char *enhanced, char *text)
{
	r->code = code;
	snprintf(r->enhanced, sizeof(r->enhanced), "%s", enhanced);
	free(r->text);
	r->text = text;
}

/* out becomes env with virtual aliases expanded and the blind copies
 * (bcc.h) added; with receive_override_options no_address_mappings, env
 * as it is. 0, or -1 with the reason in *why (out is then empty). */
static int expand_envelope(struct session *s, const struct queue_envelope *env,
                           struct queue_envelope *out, struct refusal *why)
{
	if (s->cfg->receive_options & RECEIVE_NO_ADDRESS_MAPPINGS) {
		/* Mapped where the mail goes next (after a content filter). */
		queue_envelope_copy(out, env);
		return 0;
	}
	struct virtual_alias_failure *failed;
	size_t count;
	char *reason;
	if (virtual_alias_rewrite_envelope(s->cfg->virtual_alias, env, out, &failed, &count,
	                                   &reason) != 0) {
		log_warn("%s: virtual alias expansion: %s", session_client(s), reason);
		refusal_set(why, 451, "4.3.0", xstrdup("Error: temporary lookup failure"));
		free(reason);
		return -1;
	}
	if (count > 0) {
		log_info("reject: %s: <%s>: %s; from=<%s>", session_client(s), failed[0].address,
		         failed[0].reason, env->sender);
		refusal_set(why, 550, failed[0].status,
		            xasprintf("<%s>: Recipient address rejected: %s", failed[0].address,
		                      failed[0].reason));
		virtual_alias_failures_free(failed, count);
		queue_envelope_free(out);
		return -1;
	}
	if (bcc_wanted(&s->cfg->bcc) && bcc_add(&s->cfg->bcc, env, out) != 0) {
		log_warn("%s: a sender_bcc_maps or recipient_bcc_maps table cannot be read",
		         session_client(s));
		refusal_set(why, 451, "4.3.0", xstrdup("Error: temporary lookup failure"));
		queue_envelope_free(out);
		return -1;
	}
	return 0;
}

/* out becomes the envelope that is queued: s->env with its addresses
 * rewritten by canonical mapping and masquerading (canonical.h), then
 * expanded as above (smtpd checked each recipient at RCPT, but the tables
 * may have changed since, and milters may have added recipients); the
 * blind copies are looked up with the rewritten addresses, as in Postfix.
 * With receive_override_options no_address_mappings, s->env as it is. 0,
 * or -1 with the reason in *why (out is then empty). */
static int mapped_envelope(struct session *s, const struct queue_envelope *env,
                           struct queue_envelope *out, struct refusal *why)
{
	if ((s->cfg->receive_options & RECEIVE_NO_ADDRESS_MAPPINGS) ||
	    !canonical_wanted(s->cfg->canonical,
	                      CANONICAL_ENVELOPE_SENDER | CANONICAL_ENVELOPE_RECIPIENT))
		return expand_envelope(s, env, out, why);
	struct queue_envelope mapped;
	const char *error = "";
	if (canonical_rewrite_envelope(s->cfg->canonical, env, &mapped, &error) != 0) {
		log_warn("%s: address rewriting: %s", session_client(s), error);
		refusal_set(why, 451, "4.3.0", xstrdup("Error: temporary lookup failure"));
		return -1;
	}
	int rc = expand_envelope(s, &mapped, out, why);
	queue_envelope_free(&mapped);
	return rc;
}

/* The envelope as the access tables and policy servers left it at RCPT:
 * REDIRECT's address in place of every recipient (and no content filter:
 * REDIRECT wins over FILTER, as in Postfix), BCC's address added with
 * NOTIFY=NEVER; both are mapped and expanded like the others. */
static int queued_envelope(struct session *s, struct queue_envelope *out, struct refusal *why)
{
	if (s->access_redirect == NULL && s->access_bcc == NULL)
		return mapped_envelope(s, &s->env, out, why);
	struct queue_envelope env;
	envelope_redirect_copy(&env, &s->env, s->access_redirect, s->access_bcc);
	int rc = mapped_envelope(s, &env, out, why);
	queue_envelope_free(&env);
	return rc;
}

/* Whether the client's header addresses are rewritten: Postfix rewrites
 * the header sections of local clients only (local_header_rewrite_clients;
 * remote_header_rewrite_domain has no counterpart here). */
static bool rewrites_headers(const struct session *s)
{
	unsigned clients = s->cfg->header_rewrite_clients;
	const struct addr_set *own = canonical_own_addrs(s->cfg->canonical);
	return (clients & CANONICAL_CLIENTS_ALL) ||
	       ((clients & CANONICAL_CLIENTS_INET_INTERFACES) && own != NULL &&
	        addr_set_contains(own, s->client_addr)) ||
	       ((clients & CANONICAL_CLIENTS_MYNETWORKS) &&
	        cidr_list_match(s->cfg->mynetworks, s->client_addr)) ||
	       ((clients & CANONICAL_CLIENTS_SASL) && s->auth_user != NULL);
}

static struct message_sink *sink_open(struct session *s, struct refusal *why)
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
	k->rewriting = !(s->cfg->receive_options & RECEIVE_NO_ADDRESS_MAPPINGS) &&
	               canonical_wanted(s->cfg->canonical,
	                                CANONICAL_HEADER_SENDER | CANONICAL_HEADER_RECIPIENT) &&
	               rewrites_headers(s);
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

static void sink_discard(struct message_sink *k)
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
static void reply_write_error(struct session *s)
{
	s->reply_class = NOTIFY_RESOURCE;
	reply(s, 451, "4.3.0", "Error: queue file write error");
}

/* Tell qmgr there is new mail; if it is not running, the mail waits. */
static void notify_qmgr(const struct smtpd_settings *cfg)
{
	(void)mail_wakeup(cfg->qmgr_socket, false, 100);
}

/* The content held (for milters, or a proxy filter at the end): in
 * memory, or mapped from the spill file (*map_r, to munmap k->spilled
 * bytes; else NULL). False when it cannot be had (replied 451). */
static bool held_content(struct session *s, struct message_sink *k, const char **data_r,
                         size_t *len_r, void **map_r)
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

/* Send what was received to the milters and write the result (or send it
 * to the proxy filter, which replies). Returns true with *subdir_r to
 * commit into, or false when the reply is sent (rejected, discarded,
 * proxied, or the queue file failed). */
static bool milter_finish(struct session *s, struct message_sink *k, const char **subdir_r)
{
	void *map;
	const char *data;
	size_t len;
	if (!held_content(s, k, &data, &len, &map))
		return false;
	struct milter_message msg;
	milter_message_parse(&msg, data, len);
	struct milter_verdict v = {0};
	if (s->milter_discard)
		v.action = MILTER_DISCARD;
	else
		milter_message(s->milters, &msg, &s->env, &v);
	bool go_on = false;
	if (v.action == MILTER_CONTINUE && s->env.rcpt_count == 0) {
		log_info("%s: milter-discard: all recipients deleted; from=<%s>", k->id,
		         s->env.sender);
		v.action = MILTER_DISCARD;
	}
	switch (v.action) {
	case MILTER_REJECT:
	case MILTER_TEMPFAIL:
	case MILTER_SHUTDOWN:
		log_info("%s: milter-%s: END-OF-MESSAGE from %s: %s; from=<%s> proto=%s helo=<%s>",
		         k->id, v.action == MILTER_REJECT ? "reject" : "tempfail",
		         session_client(s), v.reply ? v.reply : "default reply", s->env.sender,
		         session_protocol(s), s->helo ? s->helo : "");
		smtpd_milter_refused(s, &v);
		session_error(s);
		break;
	case MILTER_DISCARD:
		/* Like Postfix: the client hears that the message was accepted. */
		reply(s, 250, "2.0.0", "Ok: queued as %s", k->id);
		log_info("%s: milter-discard: END-OF-MESSAGE from %s; from=<%s>", k->id,
		         session_client(s), s->env.sender);
		break;
	case MILTER_QUARANTINE:
		log_info("%s: milter-hold: END-OF-MESSAGE from %s: %s; from=<%s>", k->id,
		         session_client(s), v.reason ? v.reason : "", s->env.sender);
		*subdir_r = "hold";
		free(s->env.hold_reason);
		s->env.hold_reason =
		    xasprintf("milter %s: %s", v.milter ? v.milter : "", v.reason ? v.reason : "");
		go_on = true;
		break;
	default:
		go_on = true;
		break;
	}
	milter_verdict_clear(&v);
	struct queue_envelope queued;
	struct refusal why = {0};
	if (go_on && k->proxying) {
		if (strcmp(*subdir_r, "hold") == 0)
			log_warn(
			    "%s: a milter's quarantine is not supported with smtpd_proxy_filter: "
			    "the message is passed on",
			    k->id);
		struct str head = STR_INIT;
		milter_message_write_head(&msg, &head);
		proxy_filter_end(s, head.data, head.len, msg.body, msg.body_len);
		str_free(&head);
		go_on = false;
	} else if (go_on && queued_envelope(s, &queued, &why) != 0) {
		reply(s, why.code, why.enhanced, "%s", why.text);
		free(why.text);
		go_on = false;
	} else if (go_on) {
		const char *error;
		struct str head = STR_INIT;
		milter_message_write_head(&msg, &head);
		int rc = queue_writer_replace_envelope(k->writer, &queued, &error);
		if (rc == 0)
			rc = queue_writer_write(k->writer, head.data, head.len, &error);
		/* In pieces: the writer buffers what it is given. */
		for (size_t at = 0; rc == 0 && at < msg.body_len; at += READ_CHUNK) {
			size_t n = msg.body_len - at < READ_CHUNK ? msg.body_len - at : READ_CHUNK;
			rc = queue_writer_write(k->writer, msg.body + at, n, &error);
		}
		if (rc != 0) {
			reply_write_error(s);
			log_error("%s: queue file write error: %s", k->id, error);
			go_on = false;
		}
		str_free(&head);
		queue_envelope_free(&queued);
	}
	milter_message_free(&msg);
	if (map)
		munmap(map, k->spilled);
	return go_on;
}

/* The queue file again, under the same id, with the envelope as a
 * content check's or end-of-data policy server's REDIRECT or BCC made it
 * and the content copied from the file written so far, which is dropped.
 * False when that fails (replied). */
static bool rewrite_envelope(struct session *s, struct message_sink *k)
{
	struct queue_envelope queued;
	struct refusal why = {0};
	if (k->write_failed || queued_envelope(s, &queued, &why) != 0) {
		if (why.text != NULL)
			reply(s, why.code, why.enhanced, "%s", why.text);
		else
			reply_write_error(s);
		free(why.text);
		return false;
	}
	const char *path, *error = "";
	size_t offset;
	int64_t size;
	struct queue_writer *w = NULL;
	if (queue_writer_content(k->writer, &path, &offset, &size, &error) == 0 &&
	    (w = queue_writer_open_id(s->cfg->queue_dir, &queued, k->id, &error)) != NULL &&
	    queue_writer_copy_content(w, path, offset, size, &error) == 0) {
		queue_writer_abort(k->writer);
		k->writer = w;
		queue_envelope_free(&queued);
		return true;
	}
	if (w != NULL)
		queue_writer_abort(w);
	queue_envelope_free(&queued);
	reply_write_error(s);
	log_error("%s: queue file write error: %s", k->id, error ? error : "unknown");
	return false;
}

/* smtpd_proxy_filter: the message to the filter instead of the queue;
 * its reply is the client's. What only a queue file could carry cannot
 * go with it, and the log says so. */
static void proxy_commit(struct session *s, struct message_sink *k)
{
	if (s->env.hold_reason || s->access_redirect || s->access_bcc || k->envelope_stale ||
	    s->envelope_stale)
		log_warn("%s: HOLD, REDIRECT and BCC are not supported with smtpd_proxy_filter: "
		         "ignored",
		         k->id);
	const char *subdir = "incoming";
	if (!k->buffered) {
		proxy_filter_end(s, NULL, 0, NULL, 0);
	} else if (s->milters != NULL) {
		(void)milter_finish(s, k, &subdir);
	} else {
		void *map;
		const char *data;
		size_t len;
		if (!held_content(s, k, &data, &len, &map))
			return;
		proxy_filter_end(s, data, len, NULL, 0);
		if (map)
			munmap(map, k->spilled);
	}
}

/* Queue a message that nothing refused, unless it is to be discarded or a
 * milter refuses it; reply. */
static void commit_message(struct session *s, struct message_sink *k)
{
	const char *error = k->write_error;
	/* An access table's or policy server's HOLD (the reason is in
	 * s->env, and in the queue file when it came before DATA). */
	const char *subdir = s->env.hold_reason ? "hold" : "incoming";
	if (s->access_discard) {
		/* As Postfix: the client hears that the message was accepted. */
		reply(s, 250, "2.0.0", "Ok: queued as %s", k->id);
		/* (the "discard:" line was logged when the table or server said so) */
		log_info("%s: removed: discarded at END-OF-MESSAGE: %s", k->id, s->access_discard);
	} else if (k->proxying) {
		proxy_commit(s, k);
	} else if (k->buffered && !milter_finish(s, k, &subdir)) {
		/* replied */
	} else if (!k->buffered && (k->envelope_stale || s->envelope_stale) &&
	           !rewrite_envelope(s, k)) {
		/* replied */
	} else if (k->write_failed || queue_writer_commit(k->writer, subdir, &error) != 0) {
		reply_write_error(s);
		log_error("%s: queue file write error: %s", k->id, error ? error : "unknown");
	} else {
		reply(s, 250, "2.0.0", "Ok: queued as %s", k->id);
		/* nrcpt: the recipients queued, after virtual alias expansion. */
		log_info("%s: from=<%s>, size=%lld, nrcpt=%zu (queued%s)", k->id, s->env.sender,
		         (long long)queue_writer_size(k->writer),
		         queue_writer_rcpt_count(k->writer),
		         strcmp(subdir, "hold") == 0 ? ", on hold" : "");
		if (strcmp(subdir, "incoming") == 0)
			notify_qmgr(s->cfg);
	}
}

/* Finish a message: commit it or say why not. Frees the sink. */
static void sink_finish(struct session *s, struct message_sink *k, bool bare_newlines)
{
	if (k->in_headers)
		sink_release_headers(s, k, k->headers.len, k->headers.len);
	if (k->checking) {
		struct str rest = STR_INIT;
		content_check_body_end(&k->check, &rest);
		sink_put(k, rest.data, rest.len);
		str_free(&rest);
		if (k->check.hold_reason && s->env.hold_reason == NULL)
			s->env.hold_reason = xstrdup(k->check.hold_reason);
		/* REDIRECT and BCC of header_checks and body_checks: as an
		 * access table's, but the envelope is in the queue file already
		 * (commit_message writes the file again). */
		for (int i = 0; i < 2; i++) {
			char *said = i == 0 ? k->check.redirect : k->check.bcc;
			char **slot = i == 0 ? &s->access_redirect : &s->access_bcc;
			if (said != NULL) {
				free(*slot);
				*slot = xstrdup(said);
				k->envelope_stale = true;
			}
		}
	}
	if (k->too_big) {
		reply(s, 552, "5.3.4", "Error: message size exceeds the limit of %lld bytes",
		      s->cfg->message_size_limit);
		log_info("%s: reject: message of %lld+ bytes from %s exceeds size limit", k->id,
		         k->size, session_client(s));
	} else if (bare_newlines) {
		reply(s, 550, "5.5.2",
		      "Error: bare <CR> or <LF> in the message; lines must end in <CR><LF>");
		log_info("%s: reject: bare <CR> or <LF> in DATA from %s", k->id, session_client(s));
	} else if (s->cfg->hopcount_limit > 0 && k->received_count >= s->cfg->hopcount_limit) {
		reply(s, 554, "5.4.6", "Error: too many hops (%d Received headers)",
		      k->received_count);
		log_info("%s: reject: mail loop (%d hops) from %s", k->id, k->received_count,
		         session_client(s));
	} else if (k->rewrite_failed) {
		reply(s, 451, "4.3.0", "Error: temporary lookup failure");
		log_warn(
		    "%s: a canonical_maps or masquerade_exceptions table lookup failed: message "
		    "from %s deferred",
		    k->id, session_client(s));
	} else if (k->check.verdict == CONTENT_FAILED) {
		reply(s, 451, "4.3.0", "Error: temporary lookup failure");
		log_warn("%s: header_checks or body_checks table lookup failed: message from %s "
		         "deferred",
		         k->id, session_client(s));
	} else if (k->check.verdict == CONTENT_REJECT) {
		/* (the "reject:" line was logged when the table said so) */
		reply(s, k->check.code, k->check.enhanced, "%s", k->check.text);
	} else if (k->check.verdict == CONTENT_DISCARD) {
		reply(s, 250, "2.0.0", "Ok: queued as %s", k->id);
		log_info("%s: removed: discarded at END-OF-MESSAGE by header_checks or body_checks",
		         k->id);
	} else if (policy_service_check_eod(s, k->size) != 0) {
		/* refused (replied and logged) */
	} else {
		commit_message(s, k);
	}
	sink_discard(k);
	session_reset_transaction(s);
}

void cmd_data(struct session *s)
{
	if (s->bdat) {
		reply(s, 503, "5.5.1", "Error: DATA after BDAT");
		return;
	}
	if (!s->in_transaction) {
		reply(s, 503, "5.5.1", "Error: need MAIL command");
		return;
	}
	if (s->env.rcpt_count == 0) {
		reply(s, 554, "5.5.1", "Error: no valid recipients");
		return;
	}
	struct refusal why = {0};
	struct message_sink *k = sink_open(s, &why);
	if (k == NULL && why.replied) {
		/* The proxy filter refused DATA: the transaction is over. */
		session_reset_transaction(s);
		return;
	}
	if (k == NULL) {
		if (why.text)
			reply(s, why.code, why.enhanced, "%s", why.text);
		else
			reply_write_error(s);
		free(why.text);
		return;
	}
	/* After the queue file is opened: the milters get its id in {i}. */
	if (smtpd_milter_data(s)) {
		sink_discard(k);
		session_reset_transaction(s);
		return;
	}
	reply(s, 354, NULL, "End data with <CR><LF>.<CR><LF>");
	if (stream_flush(s->stream) != STREAM_OK) {
		sink_discard(k);
		s->quit = true;
		return;
	}
	struct smtp_data_decoder dec;
	smtp_data_init(&dec);
	struct str decoded = STR_INIT;
	while (!dec.done) {
		const char *data;
		size_t len;
		enum stream_status st = stream_peek(s->stream, &data, &len);
		if (st != STREAM_OK) {
			log_info("%s: lost connection after DATA (%s) from %s", k->id,
			         stream_status_text(st), session_client(s));
			sink_discard(k);
			str_free(&decoded);
			s->quit = true;
			return;
		}
		size_t used = smtp_data_feed(&dec, data, len, &decoded);
		stream_consume(s->stream, used);
		sink_write(s, k, decoded.data, decoded.len);
		str_clear(&decoded);
	}
	str_free(&decoded);
	bool bare = (dec.bare_lf || dec.bare_cr) && s->cfg->bare_newline == BARE_REJECT;
	sink_finish(s, k, bare);
}

void data_abort_bdat(struct session *s)
{
	sink_discard(s->bdat);
	s->bdat = NULL;
}

/* Read and drop n bytes of chunk data; false if the connection failed. */
static bool skip_bytes(struct session *s, unsigned long long n)
{
	while (n > 0) {
		const char *data;
		size_t len;
		if (stream_peek(s->stream, &data, &len) != STREAM_OK)
			return false;
		size_t take = len < n ? len : (size_t)n;
		stream_consume(s->stream, take);
		n -= take;
	}
	return true;
}

void cmd_bdat(struct session *s, unsigned long long size, bool last)
{
	bool usable = s->in_transaction && s->env.rcpt_count > 0;
	if (!usable) {
		/* The chunk must still be read to stay in step with the client. */
		if (!skip_bytes(s, size)) {
			s->quit = true;
			return;
		}
		reply(s, 503, "5.5.1", "Error: %s",
		      s->in_transaction ? "no valid recipients" : "need MAIL command");
		return;
	}
	if (s->bdat == NULL) {
		struct refusal why = {0};
		s->bdat = sink_open(s, &why);
		if (s->bdat == NULL) {
			if (!skip_bytes(s, size))
				s->quit = true;
			if (why.text)
				reply(s, why.code, why.enhanced, "%s", why.text);
			else if (!why.replied) /* (the proxy filter's reply is sent) */
				reply_write_error(s);
			free(why.text);
			session_reset_transaction(s);
			return;
		}
		if (smtpd_milter_data(s)) {
			if (!skip_bytes(s, size))
				s->quit = true;
			session_reset_transaction(s); /* discards the sink */
			return;
		}
	}
	unsigned long long left = size;
	while (left > 0) {
		const char *data;
		size_t len;
		enum stream_status st = stream_peek(s->stream, &data, &len);
		if (st != STREAM_OK) {
			log_info("%s: lost connection in BDAT (%s) from %s", s->bdat->id,
			         stream_status_text(st), session_client(s));
			data_abort_bdat(s);
			s->quit = true;
			return;
		}
		size_t take = len < left ? len : (size_t)left;
		sink_write(s, s->bdat, data, take);
		stream_consume(s->stream, take);
		left -= take;
	}
	if (last) {
		struct message_sink *k = s->bdat;
		s->bdat = NULL;
		sink_finish(s, k, false);
	} else if (s->bdat->too_big) {
		reply(s, 552, "5.3.4", "Error: message size exceeds the limit of %lld bytes",
		      s->cfg->message_size_limit);
		data_abort_bdat(s);
		session_reset_transaction(s);
	} else {
		reply(s, 250, "2.0.0", "Ok: %llu octets received", size);
	}
}

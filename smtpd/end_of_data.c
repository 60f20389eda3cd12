/*
 * The end of a message smtpd received: what refuses it (its size, bare
 * newlines, a mail loop, a table that failed, header_checks and
 * body_checks, then the end-of-data policy servers, asked before the
 * milters see the message), else its commit. With milters, the held
 * message is shown to them after the final dot, edited as they say, and
 * only then written to the queue file (in incoming/, or hold/ for
 * quarantine). A content check's or end-of-data policy server's REDIRECT
 * or BCC writes the queue file again. Only after the queue file is
 * durable does the client hear 250, and qmgr is told. With
 * smtpd_proxy_filter the message ends at the filter instead, and the
 * filter's reply to the end of data is the client's.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "mail/content_check.h"
#include "mail/wakeup.h"
#include "milter/milter.h"
#include "milter/milter_message.h"
#include "smtpd/message_sink.h"
#include "smtpd/smtpd.h"
#include "util/alloc.h"
#include "util/log.h"

/* Tell qmgr there is new mail; if it is not running, the mail waits. */
static void notify_qmgr(const struct smtpd_settings *cfg)
{
	(void)mail_wakeup(cfg->qmgr_socket, false, 100);
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
void sink_finish(struct session *s, struct message_sink *k, bool bare_newlines)
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

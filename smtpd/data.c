/*
 * smtpd DATA and BDAT: the commands' checks, and the content read from
 * the client into a message sink (message_sink.h), which queues it or
 * says why not at the end (end_of_data.c). DATA's text is decoded by
 * lib/smtp/smtp_data.h, safe against SMTP smuggling: only
 * <CR><LF>.<CR><LF> ends it, and with smtpd_forbid_bare_newline a
 * message with a bare <CR> or <LF> is refused. BDAT's chunks are read by
 * their size, and a chunk that cannot be taken is still read, to stay in
 * step with the client.
 */
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_data.h"
#include "smtpd/message_sink.h"
#include "smtpd/smtpd.h"
#include "util/log.h"

/* Why DATA cannot be taken now (replied, and counted as an error as
 * Postfix counts it); false if it can. */
static bool data_refused(struct session *s)
{
	if (s->bdat)
		reply(s, 503, "5.5.1", "Error: DATA after BDAT");
	else if (!s->in_transaction)
		reply(s, 503, "5.5.1", "Error: need MAIL command");
	else if (s->env.rcpt_count == 0)
		reply(s, 554, "5.5.1", "Error: no valid recipients");
	else if (s->env.body != NULL && strcmp(s->env.body, "BINARYMIME") == 0)
		/* RFC 3030 section 3: binary content is sent with BDAT only. */
		reply(s, 503, "5.5.1", "Error: BODY=BINARYMIME requires BDAT");
	else
		return false;
	session_error(s);
	return true;
}

void cmd_data(struct session *s)
{
	if (data_refused(s))
		return;
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
		session_error(s);
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

/*
 * smtpd's message sink: where the content of one message goes while DATA
 * or BDAT reads it (data.c), and what the files that make it up share:
 * message_sink.c opens it (a queue file, or the proxy filter) and writes
 * or holds the bytes, message_headers.c holds the header section and
 * makes the header fields smtpd adds, queued_envelope.c makes the
 * envelope that is queued, end_of_data.c refuses or commits the message.
 * Internal to smtpd: included by those files and data.c only.
 */
#ifndef POSTERN_SMTPD_MESSAGE_SINK_H
#define POSTERN_SMTPD_MESSAGE_SINK_H

#include <stdbool.h>
#include <stddef.h>

#include "smtpd/smtpd.h"

/* Held content goes to the spill file, and a milter-edited body to the
 * queue file, in pieces of about this size. */
#define READ_CHUNK 65536

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

/* Why a message cannot be taken, when not for a queue file error
 * (replied: the reply is sent already). */
struct refusal {
	int code;
	char enhanced[8];
	char *text;
	bool replied;
};

/* message_sink.c: a sink for the transaction in s (the envelope filled
 * in, the queue file or the proxy filter's DATA opened, the Received
 * header written or held); or NULL, with the reply to send in *why, or
 * why->replied (the proxy filter's reply is sent), or neither (the queue
 * file could not be created, logged). */
struct message_sink *sink_open(struct session *s, struct refusal *why);
/* Content from the client: counted against message_size_limit, the
 * header section held until its end, the body through body_checks. */
void sink_write(struct session *s, struct message_sink *k, const char *data, size_t len);
/* Bytes as they are to be queued: to the queue file, the proxy filter,
 * or held (milters, or the proxy filter at the end). */
void sink_put(struct message_sink *k, const char *data, size_t len);
void sink_put_body(struct message_sink *k, const char *data, size_t len);
/* Drop the sink and its queue file (NULL: nothing). */
void sink_discard(struct message_sink *k);
/* 451 4.3.0 "queue file write error", a resource problem for notices. */
void reply_write_error(struct session *s);
/* The held content (*map_r: to munmap k->spilled bytes, or NULL); false
 * having replied 451 if it cannot be had. */
bool held_content(struct session *s, struct message_sink *k, const char **data_r, size_t *len_r,
                  void **map_r);

/* message_headers.c: our header fields (PREPENDed ones, then Received)
 * into out; whether the client's header addresses are rewritten; the
 * held header section scanned from offset from; and released once
 * complete (bytes up to header_len are headers, from body_from body). */
void build_received(struct session *s, struct message_sink *k, struct str *out);
bool rewrites_headers(const struct session *s);
void scan_header_lines(struct session *s, struct message_sink *k, size_t from);
void sink_release_headers(struct session *s, struct message_sink *k, size_t header_len,
                          size_t body_from);

/* queued_envelope.c: the envelope to queue for s's transaction into
 * out: 0, or -1 with the reason in *why (out is then empty). */
int queued_envelope(struct session *s, struct queue_envelope *out, struct refusal *why);

/* end_of_data.c: the message is complete (bare_newlines: DATA had bare
 * <CR> or <LF> and they are refused): refuse it or commit it, reply,
 * and end the transaction. Frees the sink. */
void sink_finish(struct session *s, struct message_sink *k, bool bare_newlines);

#endif

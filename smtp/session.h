/*
 * The inside of an SMTP client session, shared by session.c (connection,
 * greeting, EHLO, STARTTLS, AUTH, RSET, QUIT) and transaction.c (MAIL,
 * RCPT, DATA/BDAT). The rest of smtp sees only the functions in smtp.h.
 */
#ifndef POSTERN_SMTP_SESSION_H
#define POSTERN_SMTP_SESSION_H

#include "smtp/smtp.h"

/* Reply lines longer than this are a protocol error (RFC 5321 says 512). */
#define REPLY_LINE_MAX 4096
/* The longest server reply kept as a reason. */
#define REASON_MAX 1000

struct smtp_session {
	int fd;
	struct stream *stream;
	struct tls_session *tls;
	char *host;
	char *relay; /* host[addr]:port */
	char *tls_text;
	struct smtp_ehlo ehlo;
	bool esmtp;
	struct smtp_resp resp;
	struct str summary; /* the last reply, for reasons */
	struct str line;
	char *error; /* why the session failed */
	const char *error_status;
	bool error_final; /* the recipients bounce; no other server is tried */
	int64_t started_ms;
	bool rset_queued;           /* a kept session: RSET goes ahead of MAIL, pipelined */
	char *tls_cache_key;        /* the TLS session cache key, or NULL: not cached */
	unsigned char *tls_offered; /* the saved session offered, or NULL */
	size_t tls_offered_len;
};

/* Record why the session failed (and the status to report). */
void session_fail(struct smtp_session *s, const char *status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Read one complete reply into s->resp and s->summary; -1 on failure
 * with the session error set ("... while <stage>"). */
int session_read_reply(struct smtp_session *s, int timeout_ms, const char *stage);
/* Send what is queued; -1 with the session error set. */
int session_flush(struct smtp_session *s, int timeout_ms, const char *stage);
/* Queue one command line (CRLF added). */
void session_put_line(struct smtp_session *s, const char *text);
/* Send one command and read its reply. */
int session_command(struct smtp_session *s, const char *text, int timeout_ms, const char *stage);

/* tls_cache.c: the TLS session cache (smtp_tls_session_cache_database),
 * opened in each smtp process at first use. Before the handshake with
 * check made for t and the SNI name sni: set s->tls_cache_key and offer
 * the saved session in check->resume (kept in s->tls_offered). Not under
 * DANE (check->tlsa_count > 0): OpenSSL does not re-establish DANE
 * authentication on resumption. */
void smtp_tls_cache_offer(struct smtp_session *s, const struct smtp_target *t,
                          struct tls_peer_check *check, const char *sni);
/* The handshake failed: forget the session that was offered. */
void smtp_tls_cache_failed(struct smtp_session *s);
/* After the first reply read through TLS (a TLS 1.3 server's ticket has
 * come by then): save the session for the next connection. */
void smtp_tls_cache_save(struct smtp_session *s);

#endif

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
	bool rset_queued; /* a kept session: RSET goes ahead of MAIL, pipelined */
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

#endif

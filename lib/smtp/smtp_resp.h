/*
 * SMTP replies as a client reads them (RFC 5321 4.2): one or more lines
 * "NNN-text" ending with "NNN text", every line with the same code. A pure
 * parser fed one line at a time, so it can be fuzzed and reused; and the
 * EHLO keywords a client cares about.
 */
#ifndef POSTERN_SMTP_SMTP_RESP_H
#define POSTERN_SMTP_SMTP_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/str.h"

/* Limits against hostile servers. */
#define SMTP_RESP_MAX_LINES 100
#define SMTP_RESP_MAX_TEXT 8192

struct smtp_resp {
	int code;          /* 200..599 once complete */
	char enhanced[16]; /* "5.1.1" from the first line when present, else "" */
	struct str text;   /* the lines' texts, '\n' between them (printable ASCII only) */
	size_t lines;
};

enum smtp_resp_step { SMTP_RESP_MORE, SMTP_RESP_DONE, SMTP_RESP_BAD };

void smtp_resp_init(struct smtp_resp *r);
void smtp_resp_clear(struct smtp_resp *r);
void smtp_resp_free(struct smtp_resp *r);

/* Add one line (without its CRLF). MORE: a continuation line was taken;
 * DONE: the reply is complete; BAD: the line is not a valid reply line or
 * does not match the earlier ones (*error_r says why; r is unusable). */
enum smtp_resp_step smtp_resp_add_line(struct smtp_resp *r, const char *line, size_t len,
                                       const char **error_r);

/* "550 5.1.1 text of line one text of line two", at most max bytes. */
void smtp_resp_summary(const struct smtp_resp *r, struct str *out, size_t max);

/* The enhanced status to report: the server's own when its class matches
 * the reply code, else dflt. Returns a pointer into r, or dflt. */
const char *smtp_resp_status(const struct smtp_resp *r, const char *dflt);

/* The length of an enhanced status code "D.D{1,3}.D{1,3}" (class 2 to 5,
 * RFC 3463) at the start of s, followed by a space or the end; 0 if there
 * is none. */
size_t smtp_status_code_len(const char *s, size_t len);

/* True if the first word of the reply's first line (after the code; up
 * to a space, tab or '=') is word, case-insensitively: the name a server
 * gives in its greeting or EHLO reply. */
bool smtp_resp_first_word_is(const struct smtp_resp *r, const char *word);

/* soft_bounce: in each line of reply ("NNN text" or "NNN-text", lines
 * ending in LF or CRLF), a 5NN code becomes 4NN and an enhanced status
 * code 5.X.Y after it 4.X.Y, in place. */
void smtp_reply_soften(char *reply);

/* What an EHLO reply offers. */
struct smtp_ehlo {
	bool pipelining, eightbitmime, smtputf8, dsn, chunking, starttls, size;
	int64_t size_limit; /* 0: none announced */
	char *auth_mechs;   /* space-separated, upper case; NULL if no AUTH */
	unsigned xforward;  /* XFORWARD's attributes (smtp/xforward.h bits); 0: none */
};

void smtp_ehlo_parse(const struct smtp_resp *r, struct smtp_ehlo *e);
void smtp_ehlo_free(struct smtp_ehlo *e);
/* True if the space-separated list has mech (case-insensitive). */
bool smtp_ehlo_has_auth(const struct smtp_ehlo *e, const char *mech);

#endif

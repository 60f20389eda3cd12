/*
 * Content checks, as Postfix's header_checks and body_checks: each header
 * of a message (a logical line: folded lines joined with "\n") and each
 * body line is looked up in tables (regexp: tables, regexp_table(5)), and
 * the first table with an entry decides what happens to it:
 *
 *   REJECT [text]    the message is refused (550 5.7.1, or text's X.Y.Z)
 *   DEFER [text]     the message is refused for now (450 4.7.1)
 *   DISCARD [text]   accepted, then dropped
 *   HOLD [text]      queued on hold
 *   IGNORE           the line is deleted
 *   REPLACE text     the line is replaced by text
 *   PREPEND text     text is inserted before the line
 *   WARN/INFO [text] logged only
 *   REDIRECT addr    queued for addr instead of its recipients (the last one)
 *   BCC addr         a copy queued for addr too (the last one)
 *   DUNNO, OK        nothing
 *
 * After REJECT, DEFER or DISCARD the rest of the message is not looked at.
 *
 * The MIME structure is followed, as Postfix does: which tables a header
 * goes to depends on where it is and what it is.
 *   the message's own headers          header_maps; MIME headers (MIME-Version,
 *                                      Content-*) mime_header_maps
 *   headers of a multipart's parts     mime_header_maps
 *   headers of an attached message     nested_header_maps; MIME headers
 *   (message/rfc822)                   mime_header_maps
 *   everything else, part boundaries   body_maps
 * A multipart's boundaries are known from its Content-Type; at most
 * CONTENT_MIME_DEPTH multiparts nest, deeper ones are body. Only the first
 * body_size_limit bytes of the body go to body_maps (the headers of later
 * parts are still checked); body lines longer than CONTENT_LINE_LIMIT are
 * checked in pieces of that size.
 * The caller supplies the look-up and the log (library code does not log).
 */
#ifndef POSTERN_MAIL_CONTENT_CHECK_H
#define POSTERN_MAIL_CONTENT_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "util/str.h"

#define CONTENT_LINE_LIMIT 2048
#define CONTENT_MIME_DEPTH 20

enum content_verdict {
	CONTENT_ACCEPT,  /* queue the message (on hold if hold_reason is set) */
	CONTENT_REJECT,  /* reply code/enhanced/text, queue nothing */
	CONTENT_DISCARD, /* reply 250, queue nothing */
	CONTENT_FAILED,  /* a table could not be read: 451 4.3.0 */
};

struct content_check_config {
	char *const *header_maps; /* NULL-terminated table specs, or NULL */
	char *const *mime_header_maps;
	char *const *nested_header_maps;
	char *const *body_maps;
	long long body_size_limit;
	/* Only the actions that edit or log (IGNORE, REPLACE, PREPEND, WARN,
	 * INFO) are taken; the others (REJECT, DEFER, DISCARD, HOLD, REDIRECT,
	 * BCC) are noted as "unsupported" with the table's value, and the
	 * checks go on: smtp_header_checks on mail going out. */
	bool edit_only;
	/* 1 found (value set), 0 not found, -1 the table cannot be read. */
	int (*lookup)(void *ctx, const char *spec, const char *key, struct str *value);
	/* A decision for the log: action ("reject", "hold", "warning", ...,
	 * or "unknown" for a value that is no action), part ("header" or
	 * "body"), the line looked up, and the text of the action (or the
	 * table's value, for "unknown"). */
	void (*note)(void *ctx, const char *action, const char *part, const char *line,
	             const char *text);
	void *ctx;
};

struct content_check {
	const struct content_check_config *cfg;
	enum content_verdict verdict;
	int code;          /* CONTENT_REJECT: 4NN or 5NN */
	char enhanced[16]; /* CONTENT_REJECT: X.Y.Z */
	char *text;        /* CONTENT_REJECT: the reply text; DISCARD: why */
	char *hold_reason; /* HOLD: why (the first HOLD) */
	char *redirect;    /* REDIRECT: the address (the last REDIRECT), or NULL */
	char *bcc;         /* BCC: the address (the last BCC), or NULL */
	struct str partial;
	long long body_seen;
	bool body_done; /* past body_size_limit */
	/* The MIME structure (content_check.c). */
	bool in_body;                         /* the message's own headers are done */
	int state;                            /* body, part headers or nested headers */
	struct str header;                    /* the header being gathered there */
	int next_kind;                        /* what the headers so far say comes next */
	char *next_boundary;                  /* its boundary, for a multipart */
	char *boundaries[CONTENT_MIME_DEPTH]; /* of the multiparts we are in */
	size_t depth;
};

/* True if there is anything to check. */
bool content_check_wanted(const struct content_check_config *cfg);

void content_check_init(struct content_check *c, const struct content_check_config *cfg);
void content_check_free(struct content_check *c);

/* A run of complete header lines (each ending in LF or CRLF); what is
 * kept (or replaces it) is appended to out, with CRLF line ends. */
void content_check_headers(struct content_check *c, const char *data, size_t len, struct str *out);
/* Body bytes, in any pieces; what is kept is appended to out unchanged
 * (an incomplete last line is held until its end or body_end). */
void content_check_body(struct content_check *c, const char *data, size_t len, struct str *out);
/* The end of the message: flushes a held incomplete line. */
void content_check_body_end(struct content_check *c, struct str *out);

/* Where a message came from, for content_check_log_text. */
struct content_check_origin {
	const char *client; /* "name[addr]", or "local" */
	const char *sender;
	const char *rcpt;     /* the first recipient, or "" */
	const char *protocol; /* shown with helo; NULL: neither is shown */
	const char *helo;
};

/* The log text of a decision passed to note, in Postfix's form, for the
 * caller to log after the queue ID: "reject: header Subject: win from
 * CLIENT; from=<a> to=<b> proto=ESMTP helo=<h>: 5.7.1 text" (the line cut
 * at 200 characters, its controls as blanks). Returns true if it is a
 * warning: an "unknown" action ("header_checks: unknown action ...;
 * ignored"). */
bool content_check_log_text(const char *action, const char *part, const char *line,
                            const char *text, const struct content_check_origin *from,
                            struct str *out);

/* True once nothing more will change the verdict. */
static inline bool content_check_decided(const struct content_check *c)
{
	return c->verdict != CONTENT_ACCEPT;
}

#endif

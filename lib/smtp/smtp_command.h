/*
 * SMTP command lines (RFC 5321 section 4.1) and the arguments of the
 * commands that carry structure: MAIL FROM (SIZE RFC 1870, BODY RFC 6152
 * and RFC 3030, SMTPUTF8 RFC 6531, RET and ENVID RFC 3461, AUTH RFC 4954),
 * RCPT TO (NOTIFY and ORCPT RFC 3461, ORCPT utf-8 RFC 6533), BDAT
 * (RFC 3030) and AUTH (RFC 4954).
 *
 * Pure functions over a command line that the caller has already checked
 * for length, NUL, bare CR and LF. Parsers take the argument as returned
 * by smtp_command_parse() (NUL-terminated; trailing spaces are allowed)
 * and return 0 with a filled result (free with its _free function), or -1
 * with the reply to send in *reply and nothing left to free.
 *
 * The parsers know syntax, not policy: which extensions were offered,
 * size limits and whether a non-ASCII recipient is allowed in this
 * transaction are for the caller.
 */
#ifndef POSTERN_SMTP_SMTP_COMMAND_H
#define POSTERN_SMTP_SMTP_COMMAND_H

#include <stdbool.h>

#include "smtp/address.h"
#include "util/str.h"

enum smtp_verb {
	SMTP_VERB_UNKNOWN = 0,
	SMTP_VERB_HELO,
	SMTP_VERB_EHLO,
	SMTP_VERB_MAIL,
	SMTP_VERB_RCPT,
	SMTP_VERB_DATA,
	SMTP_VERB_BDAT,
	SMTP_VERB_RSET,
	SMTP_VERB_NOOP,
	SMTP_VERB_QUIT,
	SMTP_VERB_VRFY,
	SMTP_VERB_EXPN,
	SMTP_VERB_HELP,
	SMTP_VERB_STARTTLS,
	SMTP_VERB_AUTH,
	SMTP_VERB_ETRN,
	SMTP_VERB_XFORWARD, /* Postfix's (smtp/xforward.h) */
};

/* A failure reply: "code enhanced text", e.g. 501 "5.5.4" "Syntax: ...".
 * All strings are static. detail, if not NULL, says more for the log
 * (e.g. what was wrong with an address). */
struct smtp_reply {
	int code;
	const char *enhanced;
	const char *text;
	const char *detail;
};

/* Split a command line into its verb (case-insensitive; the verb ends at
 * a space or tab) and *arg_r, the rest of the line after the blanks that
 * follow the verb ("" if none). Anything that is not one of the verbs
 * above is SMTP_VERB_UNKNOWN (an empty line too). */
enum smtp_verb smtp_command_parse(const char *line, const char **arg_r);
/* "MAIL", "STARTTLS"...; "UNKNOWN" for SMTP_VERB_UNKNOWN. */
const char *smtp_verb_name(enum smtp_verb verb);

/* Append "code enhanced text" (no CRLF). */
void smtp_reply_format(const struct smtp_reply *reply, struct str *out);

/* MAIL FROM:<reverse-path> [parameters]. */
struct smtp_mail_params {
	char *address;       /* canonical (see address.h); "" for <> */
	struct address addr; /* the same, parsed */
	bool has_size;
	long long size;   /* SIZE=, 0 if absent; huge values clamped to LLONG_MAX */
	const char *body; /* "7BIT", "8BITMIME", "BINARYMIME", or NULL */
	bool smtputf8;    /* SMTPUTF8 */
	const char *ret;  /* "FULL", "HDRS", or NULL */
	char *envid;      /* ENVID, decoded (printable ASCII); NULL if absent */
	char *auth;       /* AUTH=, decoded ("<>" stays "<>"); NULL if absent */
};

/* arg is "FROM:<address> [KEYWORD[=VALUE] ...]"; spaces after "FROM:" are
 * tolerated, the angle brackets are required, a source route is
 * accepted and dropped. Replies: 501 5.5.4 syntax, 501 5.1.7 bad
 * address, 553 5.6.7 non-ASCII address without SMTPUTF8, 555 5.5.4
 * unknown parameter, 501 5.5.4 bad or repeated parameter. */
int smtp_parse_mail_from(const char *arg, struct smtp_mail_params *out, struct smtp_reply *reply);
/* The same, and when not strict (Postfix's strict_rfc821_envelopes = no,
 * its default) an address without angle brackets ("FROM: user@domain")
 * is taken up to the next blank, as Postfix's smtpd takes it. */
int smtp_parse_mail_from_envelope(const char *arg, bool strict, struct smtp_mail_params *out,
                                  struct smtp_reply *reply);
/* The same for a local submission (sendmail -bs): an address without a
 * domain is completed with @origin, as Postfix's append_at_myorigin. */
int smtp_parse_mail_from_local(const char *arg, const char *origin, struct smtp_mail_params *out,
                               struct smtp_reply *reply);
void smtp_mail_params_free(struct smtp_mail_params *p);
/* True if any parameter was given (they need EHLO). */
bool smtp_mail_params_has_extensions(const struct smtp_mail_params *p);

#define SMTP_NOTIFY_NEVER 0x1
#define SMTP_NOTIFY_SUCCESS 0x2
#define SMTP_NOTIFY_FAILURE 0x4
#define SMTP_NOTIFY_DELAY 0x8

/* RCPT TO:<forward-path> [parameters]. */
struct smtp_rcpt_params {
	char *address;         /* canonical; "postmaster" for <Postmaster> */
	struct address addr;   /* parsed; for <Postmaster> local "postmaster", domain "" */
	bool postmaster;       /* the <Postmaster> form (no domain) */
	unsigned notify_flags; /* SMTP_NOTIFY_*, 0 if absent */
	char *notify; /* "NEVER" or e.g. "SUCCESS,DELAY" (canonical order); NULL if absent */
	char *orcpt;  /* "rfc822;decoded" or "utf-8;decoded"; NULL if absent */
};

/* arg is "TO:<address> [NOTIFY=...] [ORCPT=addr-type;value]". The address
 * may hold UTF-8: the caller refuses it (553 5.6.7) unless the
 * transaction declared SMTPUTF8 (see address_is_ascii). Replies: 501
 * 5.5.4 syntax, 501 5.1.3 bad address, 555 5.5.4 unknown parameter, 501
 * 5.5.4 bad or repeated parameter. */
int smtp_parse_rcpt_to(const char *arg, struct smtp_rcpt_params *out, struct smtp_reply *reply);
/* The same, not strict as smtp_parse_mail_from_envelope. */
int smtp_parse_rcpt_to_envelope(const char *arg, bool strict, struct smtp_rcpt_params *out,
                                struct smtp_reply *reply);
/* The same for a local submission, as smtp_parse_mail_from_local ("postmaster"
 * alone is still the postmaster of RFC 5321). */
int smtp_parse_rcpt_to_local(const char *arg, const char *origin, struct smtp_rcpt_params *out,
                             struct smtp_reply *reply);
void smtp_rcpt_params_free(struct smtp_rcpt_params *p);

/* The largest BDAT chunk size accepted: 2^53. */
#define SMTP_BDAT_SIZE_MAX 9007199254740992ULL

/* "size [LAST]": size in decimal up to SMTP_BDAT_SIZE_MAX, LAST
 * case-insensitive. Reply: 501 5.5.4. */
int smtp_parse_bdat(const char *arg, unsigned long long *size_r, bool *last_r,
                    struct smtp_reply *reply);

/* AUTH mechanism [initial-response]. */
struct smtp_auth_params {
	char *mechanism;        /* upper-cased */
	char *initial_response; /* base64 as sent; "" for "="; NULL if absent */
};

/* The mechanism is 1..20 of A-Z a-z 0-9 '-' '_'; the initial response
 * must be valid base64 (padded) or "=". Replies: 501 5.5.4 syntax, 501
 * 5.5.2 bad base64. */
int smtp_parse_auth(const char *arg, struct smtp_auth_params *out, struct smtp_reply *reply);
void smtp_auth_params_free(struct smtp_auth_params *p);

#endif

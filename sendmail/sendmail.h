/*
 * sendmail: the sendmail(8)-compatible front end that runs as the invoking
 * user. Internal interfaces between its files:
 *   sendmail.c  options, modes (mailq, newaliases, flush, -bs ...), main
 *   addrlist.c  RFC 5322 address lists (-t headers, arguments, -f)
 *   message.c   reading the message from stdin, the header section, Bcc
 *               removal and the headers added when missing
 *   submit.c    handing a message to postdrop; finding helper programs
 *   smtp.c      -bs: an SMTP conversation on stdin and stdout
 * postdrop.c is a separate program (the set-gid helper); it shares only
 * lib/mail/dropfile.h with these files.
 */
#ifndef POSTERN_SENDMAIL_SENDMAIL_H
#define POSTERN_SENDMAIL_SENDMAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "conf/conf.h"
#include "mail/dropfile.h"
#include "util/str.h"

/* What every mode needs to know. */
struct sendmail {
	struct conf *conf;
	char *config_dir;
	bool config_is_default; /* postdrop is told about any other directory */
	const char *argv0;
	const char *myorigin;
	const char *myhostname;
	long long size_limit; /* message_size_limit; 0: none */
	uid_t uid;
	char *login;     /* the invoking user's name */
	char *full_name; /* -F, $NAME or the password file; may be "" */
	bool verbose;
};

/* ---- sendmail.c ---- */

/* A fresh drop envelope with the submitter's fields (uid, user, time,
 * full name) filled in; postdrop replaces uid, user and time anyway. */
void sendmail_envelope_init(const struct sendmail *sm, struct drop_envelope *env);

/* ---- addrlist.c ---- */

struct addrlist {
	char **items;
	size_t count;
	size_t cap;
};

/* Split an RFC 5322 address list (a header value, folded or not, or a
 * command-line argument) into the addr-specs of its mailboxes, groups
 * flattened, display names and comments dropped, in order. An addr-spec
 * is kept as written (quoted local parts stay quoted); "<>" gives "".
 * Empty list members are skipped. 0 or -1 with *error_r; out is appended
 * to either way (free with addrlist_free). */
int addrlist_parse(const char *text, size_t len, struct addrlist *out, const char **error_r);
void addrlist_free(struct addrlist *list);

/* One addr-spec to the canonical queue form: an address without a domain
 * gets "@origin". "" stays "" (the null address). *utf8_r is set if the
 * address is not ASCII. 0 with *canon_r (malloc'd), or -1 with *error_r. */
int address_qualify(const char *spec, const char *origin, char **canon_r, bool *utf8_r,
                    const char **error_r);

/* ---- message.c ---- */

/* Read the message from fd: LF, CRLF or a lone CR end a line and are
 * written as CRLF; a final line without one gets it; a leading mbox
 * "From " line is dropped; with dot_ends, a line of a single "." ends the
 * input. Fails if the result grows past limit (0: none). 0, or -1 with
 * *error_r. */
int message_read(int fd, bool dot_ends, long long limit, struct str *out, const char **error_r);

/* The header section of a CRLF message. */
struct header_field {
	size_t start;    /* offset of the field's first byte */
	size_t len;      /* bytes up to and including the CRLF of its last line */
	size_t name_len; /* bytes of the name (before the colon) */
};

struct header_section {
	struct header_field *fields;
	size_t count;
	size_t cap;
	size_t end;     /* offset where the header fields end */
	bool has_blank; /* an empty line follows them (the body starts after it) */
};

/* Find the header fields: lines "name:" and their continuation lines from
 * the start, up to an empty line or the first line that is neither. */
void header_section_scan(const char *text, size_t len, struct header_section *hs);
void header_section_free(struct header_section *hs);
bool header_field_is(const char *text, const struct header_field *f, const char *name);

/* How a message is finished before it is queued. */
struct message_options {
	bool extract;           /* -t: collect To/Cc/Bcc recipients */
	bool remove_bcc;        /* drop Bcc and Resent-Bcc fields */
	const char *from_addr;  /* for a missing From: ("" sender: MAILER-DAEMON) */
	const char *full_name;  /* display name for a missing From: */
	const char *msgid_host; /* right side of a missing Message-ID */
};

/* Finish msg in place: remove Bcc if asked, add From, Date and
 * Message-ID when missing (at the end of the header section). With
 * extract, the addr-specs of the recipient fields (Resent-To/Cc/Bcc if
 * any Resent- field is present, else To/Cc/Bcc) are appended to rcpts.
 * 0, or -1 with *error_r (a recipient field that does not parse). */
int message_finish(struct str *msg, const struct message_options *opts, struct addrlist *rcpts,
                   const char **error_r);

/* A display name as a header phrase: atoms as they are, else a quoted
 * string, or RFC 2047 encoded words when not ASCII. */
void format_phrase(const char *name, struct str *out);

/* ---- submit.c ---- */

/* Hand one message to postdrop. Returns 0 (EX_OK) or the sysexits status
 * to exit with, having printed why. */
int submit_message(const struct sendmail *sm, const struct drop_envelope *env,
                   const struct str *content);

/* Ask qmgr, through postdrop (which may reach public/), to flush the
 * queue. Returns an exit status. */
int submit_flush(const struct sendmail *sm);

/* The path of a sibling program: the directory of argv0, of this
 * executable, then dir. NULL if none is executable. malloc'd. */
char *find_program(const char *argv0, const char *name, const char *dir);

/* Print "sendmail: fatal: ..." and exit with status. */
void sendmail_fatal(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));
void sendmail_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- smtp.c ---- */

/* -bs: serve SMTP on stdin/stdout until QUIT or end of input. Returns an
 * exit status. */
int smtp_session_run(const struct sendmail *sm);

#endif

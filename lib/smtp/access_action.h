/*
 * What an access(5) action says: the value of an smtpd access table entry,
 * or the action= of a Postfix SMTPD policy server's reply, which uses the
 * same words. A pure parser over the text, so that smtpd's access tables
 * and its policy services read an action one way, and a hostile policy
 * server's reply can be fuzzed. Words are case-insensitive, as Postfix's.
 *
 *   OK, or 2NN [text]              ACCESS_OK
 *   DUNNO                          ACCESS_DUNNO
 *   REJECT [X.Y.Z] [text]          ACCESS_REFUSE: reject_code, 5.7.1
 *   DEFER [X.Y.Z] [text]           ACCESS_REFUSE: defer_code, 4.7.1
 *   4NN/5NN [X.Y.Z] text           ACCESS_REFUSE: that code, 4.7.1/5.7.1
 *   DEFER_IF_PERMIT [X.Y.Z] [text] ACCESS_DEFER_IF_PERMIT: defer_code, 4.7.1
 *   DEFER_IF_REJECT [X.Y.Z] [text] ACCESS_DEFER_IF_REJECT: defer_code, 4.7.1
 *   DISCARD [text]                 ACCESS_DISCARD
 *   HOLD [text]                    ACCESS_HOLD
 *   PREPEND name: value            ACCESS_PREPEND (text: the header field)
 *   WARN [text]                    ACCESS_WARN
 *   FILTER transport:destination   ACCESS_FILTER (text: the content filter)
 *   REDIRECT, BCC ...              ACCESS_IGNORED (Postern cannot do them),
 *                                  as is a PREPEND without a header field or
 *                                  a FILTER without transport:destination
 *   anything else                  ACCESS_INVALID
 *
 * The enhanced status code is the one the text starts with, if any (as
 * Postfix's dsn_split), with its class made the reply code's.
 */
#ifndef POSTERN_SMTP_ACCESS_ACTION_H
#define POSTERN_SMTP_ACCESS_ACTION_H

#include <stdbool.h>
#include <stddef.h>

enum access_kind {
	ACCESS_DUNNO, /* no decision: the next check goes on */
	ACCESS_OK,    /* accept: no later check */
	ACCESS_REFUSE,
	ACCESS_DEFER_IF_PERMIT, /* defer, unless a later check refuses */
	ACCESS_DEFER_IF_REJECT, /* a later 5NN refusal defers instead */
	ACCESS_DISCARD,         /* accept, and drop the message after DATA */
	ACCESS_HOLD,            /* put the message on hold; the checks go on */
	ACCESS_PREPEND,         /* add the header field text; the checks go on */
	ACCESS_WARN,            /* log text; the checks go on */
	ACCESS_FILTER,          /* send the message to content filter text; the checks go on */
	ACCESS_REDIRECT,        /* deliver the message to address text alone; the checks go on */
	ACCESS_BCC,             /* send a copy to address text too; the checks go on */
	ACCESS_IGNORED,         /* an action Postern cannot take (error says why) */
	ACCESS_INVALID,         /* not an action (error says why) */
};

struct access_action {
	enum access_kind kind;
	int code;          /* ACCESS_REFUSE, ACCESS_DEFER_IF_*: 4NN or 5NN */
	char enhanced[16]; /* and its "X.Y.Z", of code's class */
	const char *text;  /* the rest of the value (or a default); never NULL */
	size_t text_len;
	const char *word; /* the action word as given, into the value */
	size_t word_len;
	const char *error; /* ACCESS_IGNORED, ACCESS_INVALID: static text */
};

/* Read value (NUL-terminated) into *a, whose pointers point into value or
 * to static text. reject_code and defer_code are access_map_reject_code
 * and access_map_defer_code. */
void access_action_parse(const char *value, int reject_code, int defer_code,
                         struct access_action *a);

/* Whether text (len bytes) is one address as REDIRECT and BCC take it:
 * user@domain, printable ASCII (or UTF-8) without spaces, '<', '>' or
 * ',', at most 254 bytes. */
bool access_one_address(const char *text, size_t len);

/* Whether text (len bytes) is a header field "name: value" that may be
 * added to a message: a name of printable ASCII other than ':', then ':',
 * and no control character but tab. */
bool access_header_valid(const char *text, size_t len);

#endif

/*
 * Postfix's reply templates for blocklist refusals (rbl_reply_maps,
 * default_rbl_reply): the $names a template may use, its expansion (one
 * level of util/var_expand.h, these names only) and the reply it gives:
 * "4NN text" or "5NN text", the text starting with an enhanced status
 * code or not (X.7.1 then; its class is always the reply's). Pure: smtpd
 * fills in the values at each refusal, mailctl check tries a template
 * with sample ones.
 */
#ifndef POSTERN_SMTP_RBL_REPLY_H
#define POSTERN_SMTP_RBL_REPLY_H

#include "util/str.h"

/* The names, as Postfix's: $client, $client_address, ... */
enum rbl_reply_var {
	RBL_CLIENT,
	RBL_CLIENT_ADDRESS,
	RBL_CLIENT_NAME,
	RBL_REVERSE_CLIENT_NAME,
	RBL_HELO_NAME,
	RBL_CLASS,
	RBL_CODE,
	RBL_DOMAIN,
	RBL_REASON,
	RBL_TXT,
	RBL_WHAT,
	RBL_RECIPIENT,
	RBL_RECIPIENT_DOMAIN,
	RBL_RECIPIENT_NAME,
	RBL_SENDER,
	RBL_SENDER_DOMAIN,
	RBL_SENDER_NAME,
	RBL_REPLY_VARS
};

/* The text of a reply line after "NNN X.Y.Z ", with room for its code
 * and CRLF in a 512-byte line (RFC 5321 section 4.5.3.1.5). */
#define RBL_REPLY_TEXT_MAX 480

struct rbl_reply {
	int code;
	char enhanced[16];
	char text[RBL_REPLY_TEXT_MAX + 1];
};

/* Expand template with values (indexed by enum rbl_reply_var; not
 * expanded further) into *r: 0, or -1 with why in error: an unknown
 * name, a bad reference, no 4NN/5NN code and space at the start, a CR or
 * LF in the result. Control characters in the text become '?', which is
 * cut to RBL_REPLY_TEXT_MAX. */
int rbl_reply_expand(const char *template, const char *const values[RBL_REPLY_VARS],
                     struct rbl_reply *r, struct str *error);

/* Check a template as rbl_reply_expand would take it, with sample values
 * ($rbl_code 554): 0, or -1 with why in error. */
int rbl_reply_check(const char *template, struct str *error);

#endif

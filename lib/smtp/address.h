/*
 * RFC 5321 mailbox syntax (section 4.1.2), with the RFC 6531 (SMTPUTF8)
 * extension to UTF-8:
 *   Mailbox    = Local-part "@" ( Domain / address-literal )
 *   Local-part = Dot-string / Quoted-string
 *   Domain     = LDH labels (1..63 octets each, 255 in all), or with
 *                SMTPUTF8 labels that also hold UTF-8 (U-labels)
 *   address-literal = "[" IPv4 "]" / "[IPv6:" IPv6 "]"
 * Limits: local part 64 octets as sent, mailbox 254 octets (a path of
 * 256 with its angle brackets). Pure functions over bytes.
 *
 * An address has a canonical text form, which is what the queue stores:
 * "local@domain" with the local part quoted (minimally) only when it is
 * not a Dot-string, the ASCII letters of the domain lower-cased, and an
 * IPv6 literal's tag written "IPv6:". address_parse() of a canonical
 * form gives the same address back.
 */
#ifndef POSTERN_SMTP_ADDRESS_H
#define POSTERN_SMTP_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>

#include "util/str.h"

#define ADDRESS_LOCAL_MAX 64
#define ADDRESS_DOMAIN_MAX 255
#define ADDRESS_MAILBOX_MAX 254

struct address {
	char *local;  /* unquoted local part; "" for the null address <> */
	char *domain; /* canonical domain (see above); "" for the null address */
};

/* Parse a mailbox (the text between the angle brackets of a path, after
 * any source route). Empty text is the null address. Without
 * smtputf8_allowed any non-ASCII byte is an error. 0 with *out filled
 * (free with address_free), or -1 with *error_r and *out empty. */
int address_parse(const char *text, size_t len, bool smtputf8_allowed, struct address *out,
                  const char **error_r);
void address_free(struct address *addr);

bool address_is_null(const struct address *addr);
bool address_domain_is_ascii(const struct address *addr);
/* True if both the local part and the domain are ASCII. */
bool address_is_ascii(const struct address *addr);

/* Append the canonical form ("" for the null address). */
void address_format(const struct address *addr, struct str *out);
/* The canonical form as a new string. */
char *address_to_string(const struct address *addr);
/* An addr-spec as a header field has it (lib/mail/addr_list.h), in the
 * form tables are asked with: *canonical_r is its canonical form (to be
 * freed) when it has an '@', NULL for a bare local part (used as it is).
 * -1 for one with an '@' that is not a valid mailbox (left alone). */
int address_header_canonical(const char *spec, char **canonical_r);

/* True if text (len bytes) has an '@' outside quoted strings: it names a
 * domain, as against a bare Local-part ("root", "\"a@b\""). */
bool address_has_at(const char *text, size_t len);

/* True if an unquoted local part must be quoted to be a valid Local-part
 * (it is not a Dot-string). */
bool address_local_needs_quoting(const char *local, size_t len);
/* Append local as a Local-part: as is if it is a Dot-string, else as a
 * Quoted-string with '"' and '\' escaped. */
void address_quote_local(const char *local, size_t len, struct str *out);
/* Parse text that must be exactly one Local-part (Dot-string or
 * Quoted-string) and append its unquoted form to out. 0 or -1. */
int address_unquote_local(const char *text, size_t len, bool smtputf8_allowed, struct str *out,
                          const char **error_r);

/* Check a Domain or address literal as in a mailbox. 0 or -1. */
int address_check_domain(const char *text, size_t len, bool smtputf8_allowed, const char **error_r);

/* The HELO/EHLO argument. strict: a host name (LDH labels; '_' allowed as
 * many real hosts use it; not all-numeric, no trailing dot) or an address
 * literal. Lenient (what a Postfix-like smtpd accepts by default): any
 * non-blank text without control characters. */
bool helo_syntax_ok(const char *text, size_t len, bool strict);

#endif

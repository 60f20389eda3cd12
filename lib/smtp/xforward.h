/*
 * Postfix's XFORWARD extension (XFORWARD_README): an SMTP client that
 * passes mail on (an after-queue content filter giving it back, or the
 * MTA giving it to the filter) tells the server about the ORIGINAL
 * client, so that the mail is logged and recorded with it.
 *
 *   EHLO reply:  250-XFORWARD NAME ADDR PROTO HELO IDENT SOURCE PORT LOGIN
 *   command:     XFORWARD 1*( SP attribute-name "=" attribute-value )
 *
 * Attribute names are case-insensitive; values are xtext (RFC 3461),
 * "[UNAVAILABLE]" (or "[TEMPUNAVAIL]") when the client does not know
 * them. NAME (host name), ADDR (IPv4 or IPv6 address, "IPv6:" prefix
 * allowed), PORT (digits), PROTO (up to 64 characters), HELO, IDENT (the
 * message's id on the up-stream host), SOURCE (LOCAL or REMOTE) are
 * Postfix's; LOGIN (the original client's SASL login) is Postern's.
 *
 * Pure functions: the server's command parser (fuzzed), the client's EHLO
 * keyword parser and command builder. What the server does with the
 * attributes is smtpd's (smtpd/xforward.c); what the client sends, smtp's.
 */
#ifndef POSTERN_SMTP_XFORWARD_H
#define POSTERN_SMTP_XFORWARD_H

#include <stdbool.h>
#include <stddef.h>

/* The attributes, as bits; the index of a bit is its value's slot. */
enum xforward_attr {
	XFORWARD_NAME = 1 << 0,
	XFORWARD_ADDR = 1 << 1,
	XFORWARD_PORT = 1 << 2,
	XFORWARD_PROTO = 1 << 3,
	XFORWARD_HELO = 1 << 4,
	XFORWARD_IDENT = 1 << 5,
	XFORWARD_SOURCE = 1 << 6,
	XFORWARD_LOGIN = 1 << 7,
};
#define XFORWARD_ATTR_COUNT 8
#define XFORWARD_ALL ((1u << XFORWARD_ATTR_COUNT) - 1)
/* Those that describe the client: when one is forwarded, all of them
 * are (the others as unknown), as Postfix's smtpd_xforward_preset. */
#define XFORWARD_CLIENT_ATTRS                                                                      \
	(XFORWARD_NAME | XFORWARD_ADDR | XFORWARD_PORT | XFORWARD_PROTO | XFORWARD_HELO |          \
	 XFORWARD_LOGIN)
/* Longest value (as sent, encoded) a server takes, as Postfix's. */
#define XFORWARD_VALUE_MAX 255
/* Longest command line a client sends, CRLF included (RFC 5321). */
#define XFORWARD_LINE_MAX 512
/* What the server's EHLO reply says after "XFORWARD". */
#define XFORWARD_KEYWORDS "NAME ADDR PROTO HELO IDENT SOURCE PORT LOGIN"

/* The name of the attribute in slot i ("NAME"...), NULL past the last. */
const char *xforward_attr_name(unsigned i);
/* The bit of the attribute named by len bytes at name (any case), or 0. */
unsigned xforward_attr_lookup(const char *name, size_t len);

/* A set of attributes: given has the bits of those present; value[i] is
 * the decoded value of slot i (malloc'd) when its bit is in given, ""
 * for one the client said is unavailable, NULL otherwise. */
struct xforward_attrs {
	unsigned given;
	char *value[XFORWARD_ATTR_COUNT];
};

void xforward_attrs_init(struct xforward_attrs *a);
void xforward_attrs_free(struct xforward_attrs *a);
/* The value of attribute bit attr, or NULL if not given. */
const char *xforward_attrs_get(const struct xforward_attrs *a, unsigned attr);
/* Move src's values into dst, replacing dst's for the same attributes
 * (later XFORWARD commands win); src is left empty. */
void xforward_attrs_merge(struct xforward_attrs *dst, struct xforward_attrs *src);

/* Server: the argument of one XFORWARD command (after the verb; blanks
 * separate the pairs). All or nothing: 0 with out filled (init'd here),
 * or -1 with *error_r (malloc'd) the text of the 501 5.5.4 reply, as
 * Postfix words it ("Bad XFORWARD attribute name: FOO", "Bad ADDR
 * syntax: x", "Error: attribute=value expected", "Error: attribute value
 * too long") and out empty. A value that is not valid xtext is taken as
 * it is (Postfix's compatibility with clients that did not encode);
 * non-printable bytes become '?', and so do characters that could
 * confuse header fields and logs (space, <>()\";@; not in LOGIN, whose
 * value may be an address). SOURCE is stored as "LOCAL" or "REMOTE"
 * ([UNAVAILABLE] is LOCAL, as with Postfix). */
int xforward_parse(const char *arg, struct xforward_attrs *out, char **error_r);

/* Client: the attributes announced by an EHLO reply's XFORWARD line
 * (text after the keyword, len bytes), as bits; unknown names ignored. */
unsigned xforward_keywords_parse(const char *args, size_t len);

/* Client: the XFORWARD command lines (without CRLF) that send values
 * (indexed by slot; NULL or "" is sent as [UNAVAILABLE]) for the
 * attributes in attrs, in slot order, as few lines as fit in
 * XFORWARD_LINE_MAX each. A value whose xtext form is longer than
 * XFORWARD_VALUE_MAX goes as [UNAVAILABLE] (a server would refuse the
 * whole command). Returns a NULL-terminated malloc'd array of malloc'd
 * lines (none when attrs is 0); free with xforward_commands_free. */
char **xforward_commands(const char *const values[XFORWARD_ATTR_COUNT], unsigned attrs);
void xforward_commands_free(char **lines);

#endif

/*
 * Address rewriting at receipt, as Postfix's cleanup does it before
 * anything else looks at the addresses: canonical(5) mapping
 * (sender_canonical_maps, recipient_canonical_maps, canonical_maps) and
 * address masquerading (masquerade_domains), for the envelope sender and
 * recipients and for the addresses in the sender and recipient fields of
 * the header section (lib/mail/addr_header.h). smtpd and pickup rewrite
 * the envelope before virtual alias expansion and automatic BCC, and the
 * header section before it is queued; smtpd may first complete the
 * incomplete header addresses of remote clients with a domain of their
 * own (remote_header_rewrite_domain).
 *
 * Each address goes, in this order, through
 *   sender_canonical_maps     (sender addresses; sender_canonical_classes)
 *   recipient_canonical_maps  (recipient addresses;
 *                              recipient_canonical_classes)
 *   canonical_maps            (both; canonical_classes)
 *   masquerading              (masquerade_classes)
 * where a class is one of envelope_sender, envelope_recipient,
 * header_sender, header_recipient. A table is searched with generic(5)'s
 * key order (lib/mail/generic_map.h: user+ext@domain, user@domain, the
 * bare user for local domains, @domain), an unmatched extension going
 * into the result; a result "@domain" keeps the user. Each table set is
 * asked again with its own result until the result is the address it
 * was asked (in any case) or no key matches, at most
 * CANONICAL_NESTING_MAX times, as Postfix does. The null sender is never
 * rewritten.
 *
 * Masquerading strips the subdomains of an address's domain below the
 * first masquerade_domains entry that is the domain or a parent of it:
 * with "example.com", user@host.example.com becomes user@example.com; an
 * entry that is the domain itself leaves it alone; "!sub.example.com"
 * leaves sub.example.com and its subdomains alone when it comes first.
 * The local parts in masquerade_exceptions (names, or tables with the
 * lower-cased local part as key) are never masqueraded.
 *
 * A recipient that is rewritten and came without an ORCPT keeps its
 * original address as ORCPT (RFC 3461), as Postfix records the original
 * recipient. A table that cannot be read, or a value that is not an
 * address, is an error: the mail is to wait until the table is fixed.
 */
#ifndef POSTERN_MAIL_CANONICAL_H
#define POSTERN_MAIL_CANONICAL_H

#include <stdbool.h>
#include <stddef.h>

#include "conf/conf.h"
#include "mail/queue.h"
#include "util/addr_set.h"
#include "util/str.h"

#define CANONICAL_NESTING_MAX 10

/* The classes of address (the words of the *_classes parameters). */
enum canonical_class {
	CANONICAL_ENVELOPE_SENDER = 1 << 0,
	CANONICAL_ENVELOPE_RECIPIENT = 1 << 1,
	CANONICAL_HEADER_SENDER = 1 << 2,
	CANONICAL_HEADER_RECIPIENT = 1 << 3,
};

/* The class words in words (NULL-terminated, or NULL for none) as a mask
 * of enum canonical_class: 0, or -1 with *bad_r the unknown word. */
int canonical_classes_parse(char *const *words, unsigned *classes_r, const char **bad_r);

/* local_header_rewrite_clients: which SMTP clients' header sections are
 * rewritten (mail from sendmail always is). */
enum canonical_header_clients {
	CANONICAL_CLIENTS_INET_INTERFACES = 1 << 0, /* permit_inet_interfaces */
	CANONICAL_CLIENTS_MYNETWORKS = 1 << 1,      /* permit_mynetworks */
	CANONICAL_CLIENTS_SASL = 1 << 2,            /* permit_sasl_authenticated */
	CANONICAL_CLIENTS_ALL = 1 << 3,             /* static:all */
};

/* The words of local_header_rewrite_clients as a mask of enum
 * canonical_header_clients: 0, or -1 with *bad_r the unknown word. */
int canonical_header_clients_parse(char *const *words, unsigned *clients_r, const char **bad_r);

struct canonical_settings {
	char *const *canonical_maps; /* table specs, NULL-terminated (or NULL) */
	char *const *sender_maps;    /* sender_canonical_maps */
	char *const *recipient_maps; /* recipient_canonical_maps */
	unsigned canonical_classes;  /* masks of enum canonical_class */
	unsigned sender_classes;
	unsigned recipient_classes;
	char *const *masquerade_domains;
	unsigned masquerade_classes;
	char *const *masquerade_exceptions; /* names, and table specs */
	/* For the table look-ups, as generic_map_settings has them. */
	char *const *mydestination;
	const char *myorigin;
	const char *delimiter;
	const struct addr_set *own_addrs; /* may be NULL */
};

struct canonical;

/* The settings (and the strings they point to) must outlive the result. */
struct canonical *canonical_new(const struct canonical_settings *settings);
/* The settings from conf (which must outlive the result), with this
 * host's addresses (conf/own_addresses.h) when anything is to be
 * rewritten. NULL with *error_r (static) when a *_classes parameter has a
 * word that is not a class, or this host's addresses cannot be had. */
struct canonical *canonical_from_conf(const struct conf *conf, const char **error_r);
void canonical_free(struct canonical *c);
/* This host's addresses as the settings have them (NULL when not known):
 * smtpd's permit_inet_interfaces. */
const struct addr_set *canonical_own_addrs(const struct canonical *c);

/* True if addresses of some class in classes (a mask) may be rewritten:
 * a table or masquerade_domains applies to it. */
bool canonical_wanted(const struct canonical *c, unsigned classes);

/* Rewrite address (canonical form, lib/smtp/address.h, or a bare local
 * part) as one of class cls. 1 with the new address in *out (replacing
 * its contents), 0 when it stays as it is, -1 with *error_r (valid until
 * the next call) when a table cannot be read or gives no address. */
int canonical_rewrite(struct canonical *c, enum canonical_class cls, const char *address,
                      struct str *out, const char **error_r);

/* out (not initialised) becomes in with its sender and recipients
 * rewritten (a rewritten recipient without an ORCPT gets its original
 * address as ORCPT). 0, or -1 with *error_r (valid until the next call)
 * when out is left empty. */
int canonical_rewrite_envelope(struct canonical *c, const struct queue_envelope *in,
                               struct queue_envelope *out, const char **error_r);

/* Rewrite the header section at the start of in[0..len) into out, as
 * addr_header_rewrite (lib/mail/addr_header.h) does: 1 when an address
 * changed, 0 when none did, -1 with *error_r. With domain (not NULL) an
 * address without a domain ("root") is first made local@domain (Postfix's
 * append_at_myorigin with $myorigin for local mail, its
 * remote_header_rewrite_domain for remote clients), then mapped and
 * masqueraded as any other; a bare local part that is not valid with the
 * domain stays as it is. */
int canonical_rewrite_header(struct canonical *c, const char *domain, const char *in, size_t len,
                             bool at_end, struct str *out, size_t *used_r, const char **error_r);

#endif

/*
 * Postfix's generic(5) address mapping (smtp_generic_maps): one address
 * in, at most one address out, applied by the smtp client to the
 * envelope and the header addresses of mail that leaves by SMTP, so that
 * a host whose own addresses are not valid on the Internet
 * (root@localhost.localdomain, user@box.local) sends valid ones.
 *
 * Table search order, as generic(5) has it: for user+ext@domain
 * (recipient_delimiter "+") the keys are
 *     user+ext@domain, user@domain,
 *     user+ext, user      (only when domain is myorigin, is in
 *                          mydestination, or is [address] of this host:
 *                          inet_interfaces or proxy_interfaces)
 *     @domain
 * each tried in every table before the next key, lower-cased. A regexp:
 * or cidr: table is only asked the whole address (as it was written, not
 * lower-cased), as Postfix asks its pattern tables. An address without a
 * domain (a bare "root" in a header) is looked up as root@myorigin.
 *
 * The result: its first address (a value listing more is cut to the
 * first, as Postfix does); "@otherdomain" is the original user in
 * otherdomain; a result without a domain gets @myorigin. When the match
 * was on a key without the extension, the extension is added to the
 * result's local part only when propagate is set (Postfix's
 * propagate_unmatched_extensions, whose default does not include
 * generic). The result is returned in canonical form (smtp/address.h); a
 * value that is not an address is an error, as is a table that cannot be
 * opened or read: the mail must wait until the table is fixed rather
 * than go out with addresses that were meant to be rewritten.
 *
 * Tables are opened on first use and kept; lib/table notices a rebuilt
 * LMDB file.
 *
 * canonical(5) has the same key order and results: lib/mail/canonical.h
 * looks its tables up here, with propagate set (Postfix's default
 * propagate_unmatched_extensions has "canonical").
 */
#ifndef POSTERN_MAIL_GENERIC_MAP_H
#define POSTERN_MAIL_GENERIC_MAP_H

#include <stdbool.h>

#include "util/addr_set.h"
#include "util/str.h"

struct generic_map_settings {
	char *const *maps;          /* table specs, searched in this order */
	char *const *mydestination; /* local domains (with myorigin) */
	const char *myorigin;
	const char *delimiter; /* recipient_delimiter; "" or NULL for none */
	bool propagate;        /* an unmatched extension goes into the result */
	/* This host's addresses: user@[address] is local too. May be NULL. */
	const struct addr_set *own_addrs;
};

struct generic_map;

/* The settings (and the strings they point to) must outlive the map. */
struct generic_map *generic_map_new(const struct generic_map_settings *settings);
void generic_map_free(struct generic_map *gm);

/* True if the settings name at least one table. */
bool generic_map_enabled(const struct generic_map *gm);

/* Map address (canonical form "local@domain", or a bare local part).
 * 1 with the new address (canonical form) in *out (replacing its
 * contents), 0 when no key matched (or the address is empty), -1 with
 * *error_r (valid until the next call) when a table could not be opened
 * or read or its value is not an address. */
int generic_map_lookup(struct generic_map *gm, const char *address, struct str *out,
                       const char **error_r);

#endif

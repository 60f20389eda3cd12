/*
 * Server certificates chosen by the name a client sends with TLS SNI
 * (tls_server_sni_maps, as Postfix 3.4's): a table maps a host name, or
 * ".domain" for every name below domain, to PEM files. Every certificate
 * and key the table names is read at start, while the process may still
 * read keys only root can (before the privilege drop); at a handshake the
 * client's name picks its certificate from memory: "mail.example.com",
 * then ".example.com", then ".com", without regard to case. No name, or
 * no match, leaves the context's own (default) certificate; a name that
 * is not a valid host name fails the handshake (alert unrecognized_name).
 */
#ifndef POSTERN_TLS_TLS_SNI_H
#define POSTERN_TLS_TLS_SNI_H

#include <stdbool.h>
#include <stddef.h>

#include "tls/tls.h"

/* The longest host name (RFC 1035) and label. */
#define TLS_SNI_NAME_MAX 255
#define TLS_SNI_LABEL_MAX 63

/* Whether the len bytes at name are a host name as Postfix's
 * valid_hostname() takes one: dot-separated labels of letters, digits,
 * '-' and '_' (no '-' first or last in a label), at most 63 bytes a label
 * and 255 in all, not only digits and dots (an address literal), no empty
 * label (so no leading, trailing or double dot). Pure. */
bool tls_sni_name_valid(const char *name, size_t len);

/* The next, less specific look-up key after key, in the same string:
 * "mail.example.com" gives ".example.com", which gives ".com", which
 * gives NULL. Pure. */
const char *tls_sni_parent(const char *key);

struct tls_sni;

/* Called for each table entry that cannot be used (a key that is not a
 * host name or ".domain", a file that cannot be read, a key that does not
 * match its certificate), with a message naming the table, the key and
 * the file. That entry is left out: its names get what a parent domain's
 * entry or the default certificate gives. */
typedef void tls_sni_report_fn(const char *message, void *ctx);

/* Read every entry of the table spec names (one whose entries can be
 * listed: lmdb, texthash, inline). Value: PEM file names separated by
 * white space or commas; the first holds the private key (and may hold
 * the certificate and its chain too), the others the certificate and its
 * chain, the server's certificate first. Entries with the same value
 * share one copy. NULL with *error_r (static) when the table cannot be
 * opened or listed. */
struct tls_sni *tls_sni_load(const char *spec, tls_sni_report_fn *report, void *report_ctx,
                             const char **error_r);
/* How many names (table keys) have a certificate. */
size_t tls_sni_count(const struct tls_sni *sni);
/* The table key (lower case) whose certificate name gets, or NULL for the
 * default certificate. name must be valid (tls_sni_name_valid). */
const char *tls_sni_match(const struct tls_sni *sni, const char *name);

/* Choose the certificate by SNI in every handshake on ctx (a server
 * context) from now on. sni must outlive ctx. */
void tls_sni_attach(struct tls_sni *sni, struct tls_context *ctx);
void tls_sni_free(struct tls_sni *sni);

/* For a server (smtpd, pop3d) before its privilege drop: load the table
 * spec names ("": none) and attach it to ctx, logging each unusable entry
 * and, when the table cannot be read, that every client gets the
 * default certificate. */
void tls_sni_setup(struct tls_context *ctx, const char *spec);

#endif

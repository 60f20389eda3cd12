/*
 * DNS blocklist (DNSBL) sites as an administrator lists them, in the form
 * of Postfix's reject_rbl_client: "DOMAIN", or "DOMAIN=FILTER" where
 * FILTER is an IPv4 address each of whose octets is a number or, in
 * brackets, a set of numbers and ranges separated by ';'
 * ("zen.spamhaus.org=127.0.0.[2..11]", "bl.example=127.0.0.[2;4;10..12]").
 * A site without a filter lists a client with any answer in 127.0.0.0/8
 * (RFC 5782). The same sites serve domain blocklists (RHSBL, such as
 * Spamhaus DBL), queried with a domain name instead of an address.
 * Parsing and matching only: the look-ups are the caller's
 * (dns_reverse_name_under or dnsbl_domain_name_under builds the name to
 * query).
 */
#ifndef POSTERN_DNS_DNSBL_H
#define POSTERN_DNS_DNSBL_H

#include <stdbool.h>
#include <stdint.h>

struct dnsbl_site {
	char *domain;         /* lower case, without a final dot */
	char *filter;         /* the FILTER text as given, or NULL */
	uint8_t octet[4][32]; /* the values each answer octet may have (bitmaps) */
};

/* Parse one entry: 0, or -1 with *error_r (static text). site is cleared
 * first; free it with dnsbl_site_free (also after a failure). */
int dnsbl_site_parse(const char *entry, struct dnsbl_site *site, const char **error_r);
void dnsbl_site_free(struct dnsbl_site *site);

/* True if the A record address (4 bytes) lists the client. */
bool dnsbl_site_match(const struct dnsbl_site *site, const unsigned char address[4]);

/* The name under which a domain blocklist (RFC 5782 section 2.2) lists
 * name: "example.com.dbl.example" for example.com under dbl.example, the
 * domain itself (not reversed), lower case, without a final dot. NULL if
 * name is nothing to look up: no dot in it, an address (literal or all
 * numeric labels), an empty or over-long label, characters other than
 * letters, digits, '-' and '_', or a query name over 253 characters.
 * Free with free(). */
char *dnsbl_domain_name_under(const char *name, const char *domain);

#endif

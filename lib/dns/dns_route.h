/*
 * RFC 5321 section 5 routing: from a destination domain to the ordered
 * list of addresses to try. MX records sorted by preference, random order
 * among equal preferences; a domain without MX records is its own mail
 * host (A/AAAA); a null MX (RFC 7505) means the domain takes no mail.
 * Loop prevention, as Postfix does it: an MX host named myhostname, or
 * (once the addresses are known) one with an address of this host
 * (own_addrs), is this host, and it and every MX host of its preference
 * or worse are dropped; when that leaves nothing, mail for the domain
 * loops back to this host (or, when better MX hosts gave no address, the
 * primary relay cannot be found). The domain's own addresses (no MX) or
 * a [host]'s with one of this host's addresses loop too. Temporary DNS
 * failures and NXDOMAIN are told apart so the caller can defer or bounce.
 *
 * The A and AAAA records of the MX hosts are asked for together, best
 * hosts first, and only of as many hosts as can still fill max_targets:
 * a host whose look-ups fail or time out takes a place too. The whole
 * routing takes at most twice the per-query time limit (the MX look-up,
 * then the address look-ups); what was found by then is used, and when
 * nothing was because time ran out, the result is a temporary failure.
 */
#ifndef POSTERN_DNS_DNS_ROUTE_H
#define POSTERN_DNS_DNS_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include "dns/dns.h"
#include "util/addr_set.h"

enum dns_route_status {
	ROUTE_OK,
	ROUTE_NULL_MX,    /* bounce 5.1.10 */
	ROUTE_NOT_FOUND,  /* NXDOMAIN or no address at all: bounce 5.1.2 / 5.4.4 */
	ROUTE_TEMPFAIL,   /* defer 4.4.3 */
	ROUTE_LOOP,       /* this host is the best MX: bounce 5.4.6 */
	ROUTE_NO_PRIMARY, /* this host is an MX, the better ones have no address: defer 4.4.4 */
};

/* One address to try. */
struct dns_target {
	char *host;       /* MX host or the domain itself */
	char *address;    /* printable IPv4 or IPv6 address */
	int preference;   /* MX preference (0 without MX) */
	bool mx_secure;   /* the MX answer (or the domain's own answer) was validated */
	bool addr_secure; /* the address answer was validated */
	char *canon;      /* host after CNAMEs when the address answer followed any, else NULL */
};

struct dns_route {
	enum dns_route_status status;
	char *error; /* for anything but ROUTE_OK */
	struct dns_target *targets;
	size_t count;
	/* This host was one of the mail hosts (by name or address) and was
	 * dropped, with the hosts at its preference or worse: Postfix then
	 * sends the mail nowhere else (no fallback relay). */
	bool self_mx;
};

enum dns_family_pref {
	DNS_PREFER_ANY,
	DNS_PREFER_IPV4,
	DNS_PREFER_IPV6,
	DNS_ONLY_IPV4,
	DNS_ONLY_IPV6
};

/* "any", "ipv4", "ipv6" (preferences) -> enum; -1 if unknown. The caller
 * maps inet_protocols to the ONLY_ values. */
int dns_family_pref_parse(const char *text);

struct dns_route_request {
	const char *domain;
	bool use_mx;            /* false: [host] next hop, addresses only */
	const char *myhostname; /* for loop prevention (may be NULL) */
	/* This host's addresses, for loop prevention (NULL: no such check) */
	const struct addr_set *own_addrs;
	enum dns_family_pref family;
	int timeout_ms;     /* per query; the routing takes at most twice that */
	size_t max_targets; /* 0: no limit */
};

/* Never fails as a call: route->status says what came of it. */
void dns_route_resolve(struct dns_resolver *r, const struct dns_route_request *req,
                       struct dns_route *route);
void dns_route_free(struct dns_route *route);

/* Sort MX records by preference, shuffling equal preferences with
 * random_fn(ctx) (any integer). Pure apart from random_fn. */
void dns_mx_sort(struct dns_rr *mx, size_t count, unsigned (*random_fn)(void *), void *ctx);

#endif

/*
 * The forms of a next hop, as relayhost and the transport table write
 * them: "domain" (MX look-up), "host:port" (MX look-up, other port),
 * "[host]" and "[host]:port" (no MX look-up), with an IPv4 or IPv6
 * address allowed inside the brackets ("[ipv6:2001:db8::1]" too).
 * LMTP's (Postfix's lmtp(8)) add a socket type in front and never look
 * up MX records: "unix:path" (a UNIX-domain socket; a relative path is
 * relative to the queue directory, as "unix:private/dovecot-lmtp"), and
 * "inet:" followed by one of the forms above, which "inet:" may be left
 * out of.
 */
#ifndef POSTERN_SMTP_NEXTHOP_H
#define POSTERN_SMTP_NEXTHOP_H

#include <stdbool.h>

struct nexthop {
	char *host;   /* without brackets or a final dot */
	char *port;   /* never NULL */
	bool use_mx;  /* false for the [bracketed] form and for addresses */
	bool literal; /* host is an IP address */
	char *path;   /* LMTP "unix:path": the socket path as written; else NULL */
};

/* 0, or -1 with *error_r (static) for a malformed next hop. */
int nexthop_parse(const char *text, const char *default_port, struct nexthop *nh,
                  const char **error_r);
/* An LMTP next hop: "unix:path" (host "", port "", path set; the path
 * must be non-empty and without control characters), else "inet:" and
 * one of nexthop_parse's forms or that form alone, without MX look-up.
 * 0, or -1 with *error_r (static). */
int nexthop_parse_lmtp(const char *text, const char *default_port, struct nexthop *nh,
                       const char **error_r);
void nexthop_free(struct nexthop *nh);

#endif

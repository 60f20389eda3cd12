/*
 * Where an address would be delivered, the way qmgr routes it (see
 * qmgr/transport.c): transport_maps first (the address, its domain, then
 * each parent domain as ".parent"; "transport:nexthop", an empty part
 * keeping the default); then local for mydestination, virtual mailbox
 * domains and addresses without a domain; smtp for everything else, to
 * relayhost if set, else to the domain. qmgr routes mail with it; smtpd
 * and pickup use it for the milter macros {mail_mailer}, {mail_host},
 * {rcpt_mailer} and {rcpt_host}; as in Postfix, the next hop of local mail
 * is myhostname.
 */
#ifndef POSTERN_MAIL_ROUTE_H
#define POSTERN_MAIL_ROUTE_H

#include "util/str.h"

struct mail_route_settings {
	char *const *mydestination;
	char *const *virtual_domains; /* virtual_mailbox_domains */
	const char *relayhost;
	const char *myhostname;
	const char *transport_maps; /* "" for none */
	/* Look key up in the table spec: 1 found (value set), 0 not found,
	 * -1 failure (the address then gets the default route). */
	int (*lookup)(const char *spec, const char *key, struct str *value);
};

/* The transport ("local", "smtp", "error"...) and next hop of address.
 * 0, or -1 when a transport_maps lookup failed (the default route is
 * filled in; qmgr defers rather than use it). */
int mail_route(const struct mail_route_settings *rs, const char *address, struct str *transport,
               struct str *nexthop);

#endif

/*
 * Where an address would be delivered, the way qmgr routes it (see
 * qmgr/transport.c), as Postfix's trivial-rewrite resolves it. Each
 * address is of one class, with its transport ("transport[:nexthop]", as
 * in transport_maps): local (mydestination, or no domain):
 * local_transport; virtual (virtual_mailbox_domains): virtual_transport;
 * relay (relay_domains): relay_transport; default (everything else):
 * default_transport. transport_maps (the address, its domain, then each
 * parent domain as ".parent"; an empty part keeps the class's) comes
 * first. qmgr routes mail with it; smtpd and pickup use it for the
 * milter macros {mail_mailer}, {mail_host}, {rcpt_mailer} and
 * {rcpt_host}; as in Postfix, the next hop of local mail is myhostname.
 *
 * With a sender (mail_route_sender), sender_dependent_default_transport_maps
 * (the sender, then @domain; DUNNO or empty: none) takes default_transport's
 * place for the default class, below transport_maps as in Postfix.
 *
 * The next hop of an smtp transport of the relay and default classes is,
 * in Postfix's order: a transport_maps next hop, the class parameter's,
 * the sender's entry in sender_dependent_relayhost_maps (with a sender:
 * mail_route_sender), relayhost, the recipient domain. (A transport_maps
 * entry naming a transport without a next hop keeps Postern's rule: smtp
 * goes on down that list, any other transport leaves it empty, which
 * qmgr takes as the recipient domain.) The keys of tables indexed by
 * sender, and the order in which smtp looks up smtp_sasl_password_maps,
 * are here too (mail_keys_*), so that both programs search the way
 * Postfix does.
 */
#ifndef POSTERN_MAIL_ROUTE_H
#define POSTERN_MAIL_ROUTE_H

#include "util/str.h"

struct mail_route_settings {
	char *const *mydestination;
	char *const *virtual_domains; /* virtual_mailbox_domains */
	char *const *relay_domains;
	const char *relayhost;
	const char *myhostname;
	const char *transport_maps; /* "" for none */
	/* sender_dependent_relayhost_maps, "" or NULL for none; only
	 * mail_route_sender looks it up. */
	const char *sender_relay_maps;
	/* sender_dependent_default_transport_maps (the same): the sender's
	 * default_transport, for the default class only. */
	const char *sender_transport_maps;
	/* The transports of the classes, "transport[:nexthop]":
	 * local_transport, virtual_transport, relay_transport and
	 * default_transport; NULL: local, local, smtp, smtp. */
	const char *local_transport;
	const char *virtual_transport;
	const char *relay_transport;
	const char *default_transport;
	/* Whether transport delivers to a next hop host (qmgr: its
	 * master.conf service runs smtp). A class transport without a next
	 * hop of its own that does gets the rule above (the recipient domain
	 * in the local and virtual classes); one that does not gets none
	 * (local: myhostname; error: qmgr's default text). NULL: every
	 * transport but local and error. */
	bool (*smtp_transport)(const char *transport);
	/* Look key up in the table spec: 1 found (value set), 0 not found,
	 * -1 failure (the address then gets the default route). */
	int (*lookup)(const char *spec, const char *key, struct str *value);
};

/* The transport ("local", "smtp", "error"...) and next hop of address.
 * 0, or -1 when a transport_maps lookup failed (the class's route is
 * filled in; qmgr defers rather than use it). */
int mail_route(const struct mail_route_settings *rs, const char *address, struct str *transport,
               struct str *nexthop);

/* The same for mail from sender (the envelope sender, "" for the null
 * sender; NULL: none): the sender's entry in sender_relay_maps
 * (mail_keys_sender with the null sender as "<>") comes before relayhost.
 * An entry of DUNNO or an empty one is no entry. The parameter that named
 * the transport ("transport_maps", "default_transport"...) in *param_r
 * when param_r is not NULL. -1 when a look-up in any table failed
 * (the class's route is filled in). */
int mail_route_sender(const struct mail_route_settings *rs, const char *sender, const char *address,
                      struct str *transport, struct str *nexthop, const char **param_r);

/* Split "transport[:nexthop]" (a transport_maps value, or local_transport
 * and the like) at its first colon, each part without surrounding
 * white space. */
void mail_route_split(const char *value, struct str *transport, struct str *nexthop);

/* The keys a table is searched with, in order, lower case, each once. */
#define MAIL_KEYS_MAX 8
struct mail_keys {
	char *key[MAIL_KEYS_MAX];
	size_t count;
};

/* Add key (lower-cased) unless it is empty, already there or the list is
 * full. */
void mail_keys_add(struct mail_keys *k, const char *key);
/* The keys of a sender address, as Postfix's mail_addr_find tries them
 * for sender_dependent_relayhost_maps and smtp_sasl_password_maps: the
 * address, then "@domain". The null sender ("") gives null_key, or
 * nothing when null_key is NULL. (Postfix's other forms, the address
 * without its extension and the bare local part of a local address, are
 * not tried.) */
void mail_keys_sender(struct mail_keys *k, const char *sender, const char *null_key);
/* The keys smtp looks up in smtp_sasl_password_maps, in the order of
 * Postfix's smtp(8): with sender-dependent authentication (sender not
 * NULL) the keys of the sender (none for the null sender); then the
 * remote server's host name (the MX host, or the host of a [host] next
 * hop; no brackets, no port); then the next hop as written in relayhost
 * or the transport table ("[host]:port", "domain"...). */
void mail_keys_sasl(struct mail_keys *k, const char *sender, const char *host, const char *nexthop);
void mail_keys_free(struct mail_keys *k);

#endif

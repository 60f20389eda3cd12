/*
 * Virtual alias expansion (virtual_alias_maps, virtual_alias_domains): the
 * recipient rewriting Postfix's cleanup does when mail is received. smtpd
 * asks it at RCPT whether a recipient can be taken, and smtpd and pickup
 * pass every envelope through it before it is written into the queue, so
 * qmgr only ever sees the final recipients.
 *
 * A table value is a list of addresses separated by commas or white space
 * (angle brackets are dropped; an address without a domain gets
 * @myorigin). For an address user+ext@domain (recipient_delimiter "+") the
 * keys are tried in this order, each in every table of virtual_alias_maps
 * before the next key, all lower-cased:
 *     user+ext@domain, user@domain,
 *     user+ext, user          (only when domain is in mydestination)
 *     @domain                 (a catch-all)
 * When the match was on the key without its extension, "+ext" is added to
 * the local part of every address of the value (Postfix's
 * propagate_unmatched_extensions). Each resulting address is expanded
 * again, depth first; an address whose value contains the address itself
 * stops there (so "a@x  a@x, b@x" keeps a copy for a@x). An address that
 * comes back while it is being expanded is a loop (4.4.6); nesting deeper
 * than recursion_limit or more than expansion_limit resulting addresses
 * (4.6.0) fail too. These are temporary, as in Postfix: a mistake in a
 * table must not lose mail, so the recipient waits in the queue until the
 * table is fixed. An address in a virtual alias domain that no key
 * matches is unknown (5.1.1, "User unknown in virtual alias table").
 *
 * virtual_alias_domains lists domain names and table specs (anything with
 * a ':' or '/'); a domain is a virtual alias domain when it is named, or
 * when one of those tables has the domain itself as a key (Postfix's
 * default, virtual_alias_domains = $virtual_alias_maps).
 *
 * Tables are opened on first use and kept; lib/table notices a rebuild. A
 * table that cannot be opened or read is a temporary failure.
 */
#ifndef POSTERN_MAIL_VIRTUAL_ALIAS_H
#define POSTERN_MAIL_VIRTUAL_ALIAS_H

#include <stddef.h>

#include "conf/conf.h"
#include "mail/queue.h"

struct virtual_alias_settings {
	char *const *maps;          /* virtual_alias_maps: table specs */
	char *const *domains;       /* virtual_alias_domains: names and table specs */
	char *const *mydestination; /* where the bare "user" keys apply */
	const char *myorigin;       /* the domain of a result without one */
	const char *delimiter;      /* recipient_delimiter, "" for none */
	long long recursion_limit;  /* deepest nesting (at most 2000) */
	long long expansion_limit;  /* most addresses from one recipient */
};

struct virtual_alias;

/* The settings' strings must outlive the result (they are not copied). */
struct virtual_alias *virtual_alias_new(const struct virtual_alias_settings *settings);
/* The settings from main.conf (conf must outlive the result). */
struct virtual_alias *virtual_alias_from_conf(const struct conf *conf);
void virtual_alias_free(struct virtual_alias *va);

enum virtual_alias_outcome {
	VIRTUAL_ALIAS_UNCHANGED = 0, /* no key matched: the address itself */
	VIRTUAL_ALIAS_EXPANDED = 1,  /* addresses holds the result */
	VIRTUAL_ALIAS_TEMPFAIL = -1, /* a table could not be read: try later */
	VIRTUAL_ALIAS_FAILED = -2,   /* unknown (for good) */
	VIRTUAL_ALIAS_DEFERRED = -3, /* a loop or over a limit: the table needs fixing */
};

struct virtual_alias_expansion {
	char **addresses; /* the final recipients, without duplicates */
	size_t count;
	char status[8]; /* on failure: "5.1.1", "4.4.6", "4.6.0" or "4.3.0" */
	char *reason;   /* on failure: why (it names the address it is about, unless that
	                   is the one given) */
};

/* Expand one address; x is filled (free it with
 * virtual_alias_expansion_free whatever the outcome). */
enum virtual_alias_outcome virtual_alias_expand(struct virtual_alias *va, const char *address,
                                                struct virtual_alias_expansion *x);
void virtual_alias_expansion_free(struct virtual_alias_expansion *x);

/* 1 if domain is a virtual alias domain, 0 if not, -1 with *error_r if a
 * table could not be read. */
int virtual_alias_is_domain(struct virtual_alias *va, const char *domain, const char **error_r);

/* Add the addresses of x (an expansion of r) to out, as the rewrite
 * below does: ORCPT is r's, or its own address when it has none; NOTIFY
 * is r's; addresses out already has are not added again. */
void virtual_alias_add_expansion(struct queue_envelope *out, const struct queue_rcpt *r,
                                 const struct virtual_alias_expansion *x);

/* A recipient that could not be expanded (permanently). */
struct virtual_alias_failure {
	char *address;
	char *orcpt;
	char *notify;
	char status[8];
	char *reason;
};

/* out (not initialised) becomes in with every recipient replaced by its
 * expansion; an expanded recipient that came without an ORCPT gets its
 * original address as ORCPT ("rfc822;ADDRESS", or "utf-8;" for a UTF-8
 * address), its NOTIFY goes to each result, and an address that is
 * already a recipient is not added again. Recipients that fail
 * permanently are left out and listed in *failed_r (free with
 * virtual_alias_failures_free). A recipient whose expansion loops or goes
 * over a limit (VIRTUAL_ALIAS_DEFERRED) stays as it is, marked
 * valias_pending: the mail is queued and qmgr defers that recipient until
 * its expansion works. Returns 0, or -1 with *reason_r (a fresh string)
 * when a table cannot be read, when out is left empty. */
int virtual_alias_rewrite_envelope(struct virtual_alias *va, const struct queue_envelope *in,
                                   struct queue_envelope *out,
                                   struct virtual_alias_failure **failed_r, size_t *failed_count_r,
                                   char **reason_r);
void virtual_alias_failures_free(struct virtual_alias_failure *failed, size_t count);

#endif

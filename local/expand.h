/*
 * Internal interface of the expansion of one recipient of a local domain
 * (local_deliver_local, local.h): the state all its steps share, and the
 * steps that call one another across its files. Only they include it.
 *   expand.c          the driver: results, duplicates, loops, forwards
 *   expand_alias.c    alias_maps look-ups, the expansion of a name
 *   expand_target.c   the targets of an alias or a file, and their owners
 *   expand_forward.c  a system user's ~/.forward, and :include: files
 *   expand_mailbox.c  a user's mailbox, and names that are nobody's
 */
#ifndef POSTERN_LOCAL_EXPAND_H
#define POSTERN_LOCAL_EXPAND_H

#include <pwd.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "conf/conf.h"
#include "local/local.h"
#include "mail/aliases.h"
#include "util/str.h"

#define MAX_DEPTH 20

enum context_kind { CTX_ALIAS, CTX_FORWARD, CTX_INCLUDE };

/* Whose privileges the targets of one alias, .forward or include get. */
struct owner {
	enum context_kind kind;
	struct local_creds creds;
	char *user; /* owned; creds.user points here */
	char *home; /* owned */
	char *sender;
};

/* An address to forward, and the envelope sender of its copy. */
struct forward_rcpt {
	char *sender;
	char *address;
};

/* The expansion of one recipient. */
struct expansion {
	struct local_service *svc;
	const struct conf *conf;
	const struct local_message *msg;
	const char *address;                /* the recipient, lower-cased */
	const char *domain;                 /* its domain, or myhostname */
	const struct local_pass_rcpt *pass; /* as the queue file has it */
	struct local_recipient rcpt;        /* the same, for commands */
	struct local_result *result;
	bool have_result;
	char **done; /* keys of deliveries made */
	size_t done_count;
	struct forward_rcpt *fwd;
	size_t fwd_count;
	const char *chain[MAX_DEPTH + 2];
	int depth;
	size_t outcomes; /* deliveries made (and forwards queued) */
	/* verify: how the recipient expands (NULL: it is not an alias or a
	 * .forward) and the destinations that would be delivered to */
	const char *verify_via;
	struct str verify_to;
};

/* ---- expand.c ---- */

/* Keep the worst outcome (true if this one is it); log this one. */
bool outcome(struct expansion *ex, const char *what, const char *state, const char *status,
             const char *reason);
/* The same for a delivery's result r, which is freed (a pass's relay is
 * kept for qmgr when r is the worst). */
void outcome_result(struct expansion *ex, const char *what, struct local_result *r);
/* True the first time key is seen in this expansion. */
bool first_time(struct expansion *ex, const char *key);
/* True if key is being expanded already (a loop). */
bool chain_has(const struct expansion *ex, const char *key);
/* Describe the chain plus key for a loop message. */
char *chain_text(const struct expansion *ex, const char *key);
/* Push key onto the chain: false (after a bounce) if too deep. */
bool chain_push(struct expansion *ex, const char *key);
/* Add address to the copies forwarded from sender (an address once). */
void forward_add(struct expansion *ex, const char *sender, const char *address);

/* ---- expand_alias.c ---- */

/* 1 found (targets, and the table's index), 0 not an alias, -1 error. */
int alias_lookup(struct expansion *ex, const char *name, struct alias_target **targets,
                 size_t *count, size_t *table_r, const char **error_r);
/* Expand name, a local part of a local domain, that the targets of parent
 * gave (NULL: the recipient's own): an alias, else a system user, else an
 * unknown name. noalias (a \name target): the user's mailbox only. */
void expand_name(struct expansion *ex, const char *name, const struct owner *parent, bool noalias);

/* ---- expand_target.c ---- */

/* Free what o holds. */
void owner_free(struct owner *o);
/* The identity for the commands and files of the system user pw: pw, or
 * default_privs for root. 0 or -1 with *error_r. */
int owner_for_user(const struct conf *conf, const struct passwd *pw, struct owner *o,
                   const char **error_r);
/* The identity for files and commands of something owned by uid: that
 * user, or default_privs for root. In an unprivileged instance: ourselves.
 * 0 or -1 with *error_r. */
int owner_for_uid(const struct conf *conf, uid_t uid, struct owner *o, const char **error_r);
/* Deliver to, or expand further, each of targets in turn, as o. */
void handle_targets(struct expansion *ex, const struct alias_target *targets, size_t count,
                    const struct owner *o);

/* ---- expand_forward.c ---- */

/* A system user: .forward (unless noforward) or the mailbox. */
void deliver_user(struct expansion *ex, const char *name, const char *sender, bool noforward);
/* Expand the :include: file path, read as parent, for its owner. */
void handle_include(struct expansion *ex, const char *path, const struct owner *parent);

/* ---- expand_mailbox.c ---- */

/* The mailbox of pw, which name led to. */
void deliver_mailbox(struct expansion *ex, const struct passwd *pw, const char *name,
                     const char *sender);
/* name is neither an alias nor a system user: fallback_transport_maps
 * (by the name), fallback_transport, else luser_relay (forwarded to), else
 * a bounce, as in Postfix. */
void deliver_unknown(struct expansion *ex, const char *name, const char *sender);

#endif

/*
 * The MTA side of the milter protocol: a chain of filters that smtpd and
 * pickup consult at each stage of a session, in the configured order.
 *
 * Configuration (Postfix's syntax): a list of filters, each "unix:/path",
 * "inet:host:port" (or "local:/path"), or a group
 *   { inet:host:port, connect_timeout=5s, command_timeout=5s,
 *     content_timeout=5s, default_action=accept, protocol=6 }
 * that overrides the settings of that one filter.
 *
 * Every event returns a verdict. A filter that cannot be reached, times
 * out, closes the connection or breaks the protocol is dropped for the
 * rest of the session and its default_action answers for it from then on
 * (tempfail, reject, accept, or quarantine). Nothing here logs: each
 * decision is handed to the program's log callback as one line.
 */
#ifndef POSTERN_MILTER_MILTER_H
#define POSTERN_MILTER_MILTER_H

#include <stdbool.h>
#include <stddef.h>

#include "mail/queue.h"
#include "milter/milter_message.h"
#include "milter/milter_proto.h"

enum milter_action {
	MILTER_CONTINUE,
	MILTER_ACCEPT,     /* accept without further filtering */
	MILTER_REJECT,     /* 5xx */
	MILTER_TEMPFAIL,   /* 4xx */
	MILTER_DISCARD,    /* accept, then throw the message away */
	MILTER_QUARANTINE, /* accept into the hold queue (end of message only) */
	MILTER_SHUTDOWN,   /* 421 and end the session */
};

struct milter_verdict {
	enum milter_action action;
	/* The SMTP reply for REJECT/TEMPFAIL/SHUTDOWN: one or more lines joined
	 * by CRLF ("550 5.7.1 text"), malloc'd; NULL for the default text. */
	char *reply;
	/* QUARANTINE: the reason (malloc'd). */
	char *reason;
	/* The filter that decided (owned by the chain), or NULL. */
	const char *milter;
};
void milter_verdict_clear(struct milter_verdict *v);

/* Settings that apply to every filter unless its group overrides them. */
struct milter_defaults {
	int protocol;                      /* milter_protocol */
	long long connect_ms;              /* milter_connect_timeout */
	long long command_ms;              /* milter_command_timeout */
	long long content_ms;              /* milter_content_timeout */
	enum milter_action default_action; /* TEMPFAIL, REJECT, ACCEPT or QUARANTINE */
	/* Macro names per stage (space/comma separated), from main.conf. */
	const char *macros[MILTER_STAGE_COUNT];
};

/* "tempfail", "reject", "accept" or "quarantine": 0, or -1 if unknown. */
int milter_parse_action(const char *text, enum milter_action *action_r);

struct milter_spec {
	char *address;
	int protocol;
	long long connect_ms, command_ms, content_ms;
	enum milter_action default_action;
};
/* Parse a filter list (see above) into specs: 0 or -1 with *error_r (a
 * static message). Pure; a fuzz target covers it. */
int milter_specs_parse(const char *text, const struct milter_defaults *d,
                       struct milter_spec **specs_r, size_t *count_r, const char **error_r);
void milter_specs_free(struct milter_spec *specs, size_t count);

/* Macro values: the program answers by bare name ("j", "client_addr"...;
 * a milter's "{client_addr}" is asked for without the braces), NULL if it
 * has none. */
typedef const char *milter_macro_fn(void *ctx, const char *name);
/* One line per decision and per failure ("milter unix:/x: MAIL: reject:
 * 550 5.7.1 ..."): the program logs it with its queue id and client. */
typedef void milter_log_fn(void *ctx, bool warning, const char *line);

struct milter_chain;

/* Nothing is connected yet; NULL with *error_r if the list is malformed. */
struct milter_chain *milter_chain_new(const char *list, const struct milter_defaults *d,
                                      milter_macro_fn *macro, milter_log_fn *log, void *ctx,
                                      const char **error_r);
/* Send QUIT to every filter still connected and free everything. */
void milter_chain_free(struct milter_chain *c);
bool milter_chain_empty(const struct milter_chain *c);

/* Session events. family is '4', '6' or 'L' (local, port 0). Each
 * returns the verdict of the first filter that did not say continue. */
void milter_connect(struct milter_chain *c, const char *hostname, char family, const char *addr,
                    unsigned port, struct milter_verdict *v);
void milter_helo(struct milter_chain *c, const char *helo, struct milter_verdict *v);
/* argv: the address in angle brackets, then ESMTP parameters. */
void milter_mail(struct milter_chain *c, char *const *argv, struct milter_verdict *v);
void milter_rcpt(struct milter_chain *c, char *const *argv, struct milter_verdict *v);
/* A recipient the program rejected: sent only to the filters that asked
 * for SMFIP_RCPT_REJ, with the program's {rcpt_*} macros describing the
 * rejection; their replies are logged and change nothing. */
void milter_rcpt_rejected(struct milter_chain *c, char *const *argv);
void milter_data(struct milter_chain *c, struct milter_verdict *v);
void milter_unknown(struct milter_chain *c, const char *line, struct milter_verdict *v);
/* The whole message, after the client's final dot: headers, end of
 * headers, body, end of message, for each filter in turn; each filter's
 * edits are applied to msg and env before the next one sees the message.
 * Quarantine from any filter is kept in v (unless a later one rejects). */
void milter_message(struct milter_chain *c, struct milter_message *msg, struct queue_envelope *env,
                    struct milter_verdict *v);
/* The transaction ended without a message (RSET, rejection, lost client). */
void milter_abort(struct milter_chain *c);

#endif

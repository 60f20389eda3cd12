/*
 * Delivery status notifications (RFC 3464): a complete RFC 5322 message,
 * multipart/report; report-type=delivery-status, with three parts:
 *   1. text/plain, a human-readable explanation in the style of Postfix's
 *      bounce ("This is the mail system at host ...") with one line per
 *      recipient;
 *   2. message/delivery-status, the per-message and per-recipient fields;
 *   3. the original message as message/rfc822, or its header as
 *      text/rfc822-headers (see dsn_build for which), cut at a size limit.
 * The result has CRLF line ends and is ready to be queued with a null
 * envelope sender. Boundaries are chosen so they occur in none of the parts.
 * Text that comes from peers (diagnostics, addresses) is sanitised: control
 * characters become spaces, long diagnostic lines are folded.
 */
#ifndef POSTERN_MAIL_DSN_H
#define POSTERN_MAIL_DSN_H

#include <stddef.h>
#include <stdint.h>

#include "conf/bounce_template.h"
#include "mail/queue.h"
#include "util/str.h"

enum dsn_action {
	DSN_ACTION_FAILED,
	DSN_ACTION_DELAYED,
	DSN_ACTION_DELIVERED,
	DSN_ACTION_RELAYED,
	DSN_ACTION_EXPANDED,
	/* What would happen (sendmail -bv, as Postfix reports it). */
	DSN_ACTION_DELIVERABLE,
	DSN_ACTION_UNDELIVERABLE,
};

struct dsn_rcpt {
	const char *final_rcpt; /* the address, without "rfc822;" */
	const char *orcpt;      /* "type;address" as received with ORCPT, or NULL */
	enum dsn_action action;
	const char *status;     /* "5.1.1": class 2, 4 or 5, then .n.n */
	const char *remote_mta; /* host name, or NULL */
	const char
	    *diagnostic;      /* "smtp; 550 5.1.1 ..." (a bare text gets "x-postern; "), or NULL */
	int64_t last_attempt; /* unix seconds, 0 if none */
	int64_t retry_until;  /* for delayed: unix seconds, 0 if none */
};

struct dsn_report {
	const struct queue_envelope *env; /* id, arrival, sender, envid, ret */
	const char *reporting_mta;        /* this host's name */
	const struct dsn_rcpt *rcpts;
	size_t rcpt_count;
	const void *content; /* the original message (CRLF or LF line ends) */
	size_t content_len;
	size_t content_limit;   /* at most this many bytes of it are returned */
	int64_t now;            /* for Date: and the Message-ID; 0 means time(NULL) */
	const char *postmaster; /* contact named in the text; NULL means "postmaster" */
	/* Who the report goes to (its To:); NULL means the envelope sender. Set
	 * for a double bounce: a report about a notification that could not be
	 * delivered, sent to the postmaster although its sender is null. */
	const char *notify_to;
	/* bounce_template_file, expanded (NULL: the built-in texts): the
	 * template of the report's kind gives its From, Subject (with
	 * postmaster_copy, a copy for the postmaster or a double bounce: its
	 * Postmaster-Subject), Charset and the text before the recipients'
	 * lines. */
	const struct bounce_templates *templates;
	bool postmaster_copy;
	/* A report the sender asked for (sendmail -v): the verification
	 * report's kind, whatever the actions. */
	bool requested;
};

/* Build the notification into out (appended). The kind, and so the
 * Subject, is a verification report ("Mail Delivery Status Report", the
 * text "Enclosed is the mail delivery report that you requested", the
 * message's header) if any recipient is deliverable or undeliverable, else
 * "failed" if any recipient failed ("Undelivered Mail Returned
 * to Sender"), else "delayed" if any is delayed ("Delayed Mail (still being
 * retried)"), else "Successful Mail Delivery Report". The full original
 * message is returned only for a failure report whose envelope RET is not
 * "HDRS"; otherwise only its header. Content is cut at the last line end
 * within content_limit. Returns 0, or -1 with *error_r (static) if the
 * report would go to the null sender (never notify about a notification;
 * notify_to overrides), notify_to is empty, there are no
 * recipients, or a status, address or host name is malformed. */
int dsn_build(const struct dsn_report *report, struct str *out, const char **error_r);

/* The RFC 5322 date for t (UTC), e.g. "Sun, 22 Nov 2026 22:08:48 +0000". */
void dsn_format_date(int64_t t, struct str *out);

#endif

/*
 * Postfix's SMTPD access policy delegation protocol (SMTPD_POLICY_README),
 * the parts that are pure functions over bytes:
 *
 *   where a policy server listens: "inet:host:port" ("inet:[v6addr]:port")
 *   or "unix:path" (a relative path is under queue_directory, as Postfix's
 *   "unix:private/policy");
 *
 *   a request: "name=value" lines, then an empty line, e.g.
 *     request=smtpd_access_policy
 *     protocol_state=RCPT
 *     ...
 *     <empty line>
 *
 *   the reply: "name=value" lines, of which "action" counts (an access(5)
 *   action, smtp/access_action.h), then an empty line:
 *     action=DEFER_IF_PERMIT Greylisted
 *     <empty line>
 *
 * A reply is bounded (POLICY_REPLY_LINE_MAX bytes a line,
 * POLICY_REPLY_LINES_MAX lines): a server that sends more, a line that is
 * not name=value, a NUL byte or no action is in error.
 */
#ifndef POSTERN_POLICY_POLICY_PROTO_H
#define POSTERN_POLICY_POLICY_PROTO_H

#include <stdbool.h>
#include <stddef.h>

#include "util/str.h"

#define POLICY_REPLY_LINE_MAX 4096 /* bytes of one line, without its LF */
#define POLICY_REPLY_LINES_MAX 64  /* lines of one reply, without the empty one */

struct policy_endpoint {
	bool is_unix;
	char *path; /* unix: the socket */
	char *host; /* inet: host name or address (without brackets) */
	char *port;
};

/* Parse spec; queue_dir makes a relative unix: path absolute. 0, or -1
 * with a static *error_r. */
int policy_endpoint_parse(const char *spec, const char *queue_dir, struct policy_endpoint *ep,
                          const char **error_r);
void policy_endpoint_free(struct policy_endpoint *ep);

/* Append "name=value\n" to req; a CR, LF or NUL in value (which would end
 * the line or the request early) becomes '?'. */
void policy_request_add(struct str *req, const char *name, const char *value);
/* The empty line that ends a request. */
void policy_request_end(struct str *req);

/* Look for a whole reply at the start of buf: 1 with the action's value in
 * *action (lines may end in CRLF) and *used_r the bytes the reply took;
 * 0 if more bytes are needed; -1 with a static *error_r if buf does not
 * start a valid reply. */
int policy_reply_parse(const char *buf, size_t len, struct str *action, size_t *used_r,
                       const char **error_r);

#endif

/*
 * A client of one SMTPD policy server (policy_proto.h): one request and
 * its reply at a time, over a connection that is kept for the requests
 * that follow, as Postfix keeps it (smtpd_policy_service_max_idle,
 * _max_ttl, _request_limit), and that is made again when the server has
 * closed it meanwhile. Connecting, sending and reading the reply each get
 * limits.timeout_ms. Nothing here logs: a failed request returns -1 with
 * why, the connection is closed, and the caller decides whether to ask
 * again.
 */
#ifndef POSTERN_POLICY_POLICY_CLIENT_H
#define POSTERN_POLICY_POLICY_CLIENT_H

#include "policy/policy_proto.h"
#include "util/str.h"

struct policy_limits {
	long long timeout_ms;    /* connect, write, read the reply (each) */
	long long max_idle_ms;   /* an unused connection is made again after this */
	long long max_ttl_ms;    /* a connection is made again once this old */
	long long request_limit; /* requests on one connection; 0: no limit */
};

struct policy_client;

/* A client of the server at ep (copied); it connects at the first request. */
struct policy_client *policy_client_new(const struct policy_endpoint *ep);
void policy_client_free(struct policy_client *c);
/* Send request (whole, with its empty line) and read the reply: 0 with
 * the action's value in *action, or -1 with *error_r (valid until the
 * next call) when the server could not be reached, timed out, closed the
 * connection or answered something that is not a reply. */
int policy_client_ask(struct policy_client *c, const struct str *request,
                      const struct policy_limits *limits, struct str *action, const char **error_r);
/* Close the connection (the next request makes a new one). */
void policy_client_close(struct policy_client *c);

#endif

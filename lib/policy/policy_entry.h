/*
 * One entry of smtpd_policy_services as Postfix 3's check_policy_service
 * takes it: a server's endpoint ("inet:127.0.0.1:10023",
 * "unix:private/policy"), or the endpoint with settings of its own in
 * braces, "{ inet:127.0.0.1:10023, timeout=10s, default_action=DUNNO }":
 * timeout, max_idle, max_ttl, request_limit, try_limit, retry_delay,
 * default_action and policy_context, each in place of the
 * smtpd_policy_service_ parameter of the same name for that server.
 */
#ifndef POSTERN_POLICY_POLICY_ENTRY_H
#define POSTERN_POLICY_POLICY_ENTRY_H

#include "policy/policy_client.h"

struct policy_settings {
	struct policy_limits limits;
	long long try_limit;
	long long retry_delay_ms;
	char *default_action; /* malloc'd */
	char *policy_context; /* malloc'd */
};

struct policy_entry {
	char *endpoint; /* the endpoint as written, for policy_endpoint_parse */
	struct policy_settings settings;
};

/* Parse text, the settings not named in it copied from defaults. 0, or -1
 * with *error_r (static, valid until the next call) naming what is wrong:
 * unbalanced braces, no endpoint, an unknown name, a value that is not a
 * time or a number, a timeout under 1s or a try_limit under 1. The
 * endpoint itself is not checked here. */
int policy_entry_parse(const char *text, const struct policy_settings *defaults,
                       struct policy_entry *e, const char **error_r);
void policy_entry_free(struct policy_entry *e);
void policy_settings_free(struct policy_settings *s);

#endif

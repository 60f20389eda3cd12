/*
 * Tests of smtpd_policy_services entries: a bare endpoint takes the
 * defaults; braces set each of Postfix's per-server settings, with or
 * without spaces around commas and '=', a trailing comma allowed; every
 * malformed entry refused with its reason.
 */
#include <string.h>

#include "policy/policy_entry.h"
#include "util/testing.h"

static const struct policy_settings defaults = {
    .limits = {.timeout_ms = 100000,
               .max_idle_ms = 300000,
               .max_ttl_ms = 1000000,
               .request_limit = 0},
    .try_limit = 2,
    .retry_delay_ms = 1000,
    .default_action = "451 4.3.5 Server configuration problem",
    .policy_context = "",
};

TEST(bare)
{
	struct policy_entry e;
	const char *error;
	CHECK(policy_entry_parse(" inet:127.0.0.1:10023 ", &defaults, &e, &error) == 0);
	CHECK_STR(e.endpoint, "inet:127.0.0.1:10023");
	CHECK(e.settings.limits.timeout_ms == 100000 && e.settings.try_limit == 2);
	CHECK_STR(e.settings.default_action, defaults.default_action);
	policy_entry_free(&e);
}

TEST(braces)
{
	struct policy_entry e;
	const char *error;
	CHECK(policy_entry_parse("{ unix:private/policy, timeout=10s, max_idle = 2m,max_ttl=1h, "
	                         "request_limit=5, try_limit=3, retry_delay=0s, "
	                         "default_action=DUNNO, policy_context=sub mission, }",
	                         &defaults, &e, &error) == 0);
	CHECK_STR(e.endpoint, "unix:private/policy");
	CHECK(e.settings.limits.timeout_ms == 10000);
	CHECK(e.settings.limits.max_idle_ms == 120000);
	CHECK(e.settings.limits.max_ttl_ms == 3600000);
	CHECK(e.settings.limits.request_limit == 5);
	CHECK(e.settings.try_limit == 3);
	CHECK(e.settings.retry_delay_ms == 0);
	CHECK_STR(e.settings.default_action, "DUNNO");
	CHECK_STR(e.settings.policy_context, "sub mission");
	policy_entry_free(&e);
	CHECK(policy_entry_parse("{inet:[::1]:9998}", &defaults, &e, &error) == 0);
	CHECK_STR(e.endpoint, "inet:[::1]:9998");
	CHECK(e.settings.try_limit == 2);
	policy_entry_free(&e);
}

TEST(errors)
{
	static const struct {
		const char *entry, *why;
	} bad[] = {
	    {"", "no endpoint"},
	    {"{ }", "endpoint must come first"},
	    {"{ timeout=1s, inet:h:1 }", "endpoint must come first"},
	    {"{ inet:h:1, timeout=1s", "no closing brace"},
	    {"inet:h:1 }", "brace not at the start"},
	    {"{ inet:h:1, { timeout=1s } }", "nested braces"},
	    {"{ inet:h:1, timeout }", "expected name=value"},
	    {"{ inet:h:1, colour=blue }", "unknown setting \"colour\""},
	    {"{ inet:h:1, timeout=soon }", "timeout: not a time"},
	    {"{ inet:h:1, timeout=0s }", "timeout must be at least 1s"},
	    {"{ inet:h:1, try_limit=0 }", "try_limit must be at least 1"},
	    {"{ inet:h:1, request_limit=-1 }", "request_limit: not a whole number"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct policy_entry e;
		const char *error = NULL;
		CHECK(policy_entry_parse(bad[i].entry, &defaults, &e, &error) == -1);
		CHECK(error != NULL && strstr(error, bad[i].why) != NULL);
		if (error == NULL || strstr(error, bad[i].why) == NULL)
			fprintf(stderr, "  entry \"%s\": %s\n", bad[i].entry,
			        error ? error : "(none)");
	}
}

int main(void)
{
	RUN(bare);
	RUN(braces);
	RUN(errors);
	return TESTING_DONE();
}

/*
 * smtpd_policy_services entries, with Postfix 3's per-server settings in
 * braces (see policy_entry.h).
 */
#include "policy/policy_entry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/params.h"
#include "util/alloc.h"

static char entry_error[300];

static const char *fail(const char *fmt, const char *arg)
{
	snprintf(entry_error, sizeof(entry_error), fmt, arg);
	return entry_error;
}

static char *trimmed(const char *start, const char *end)
{
	while (start < end && (*start == ' ' || *start == '\t' || *start == '\n'))
		start++;
	while (end > start && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n'))
		end--;
	return xstrndup(start, (size_t)(end - start));
}

/* name=value into s; NULL, or the error. */
static const char *set_one(struct policy_settings *s, const char *name, const char *value)
{
	const char *why;
	long long n;
	static const char *const times[] = {"timeout", "max_idle", "max_ttl", "retry_delay"};
	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		if (strcmp(name, times[i]) != 0)
			continue;
		if (param_parse_time(value, &n, &why) != 0)
			return fail("%s: not a time", name);
		if (i == 0 && n < 1)
			return fail("%s must be at least 1s", name);
		long long *slot[] = {&s->limits.timeout_ms, &s->limits.max_idle_ms,
		                     &s->limits.max_ttl_ms, &s->retry_delay_ms};
		*slot[i] = n * 1000;
		return NULL;
	}
	if (strcmp(name, "request_limit") == 0 || strcmp(name, "try_limit") == 0) {
		if (param_parse_int(value, &n, &why) != 0 || n < 0)
			return fail("%s: not a whole number", name);
		if (name[0] == 't' && n < 1)
			return fail("%s must be at least 1", name);
		*(name[0] == 't' ? &s->try_limit : &s->limits.request_limit) = n;
		return NULL;
	}
	char **text = strcmp(name, "default_action") == 0   ? &s->default_action
	              : strcmp(name, "policy_context") == 0 ? &s->policy_context
	                                                    : NULL;
	if (text == NULL)
		return fail(
		    "unknown setting \"%.100s\" (timeout, max_idle, max_ttl, request_limit, "
		    "try_limit, retry_delay, default_action, policy_context)",
		    name);
	free(*text);
	*text = xstrdup(value);
	return NULL;
}

int policy_entry_parse(const char *text, const struct policy_settings *defaults,
                       struct policy_entry *e, const char **error_r)
{
	memset(e, 0, sizeof(*e));
	e->settings = *defaults;
	e->settings.default_action = xstrdup(defaults->default_action);
	e->settings.policy_context = xstrdup(defaults->policy_context);
	const char *start = text, *end = text + strlen(text);
	while (start < end && (*start == ' ' || *start == '\t'))
		start++;
	while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (start == end || *start != '{') {
		if (memchr(start, '{', (size_t)(end - start)) ||
		    memchr(start, '}', (size_t)(end - start))) {
			*error_r = fail("%s", "a brace not at the start and end of the entry");
			goto bad;
		}
		e->endpoint = xstrndup(start, (size_t)(end - start));
		if (*e->endpoint == '\0') {
			*error_r = fail("%s", "no endpoint");
			goto bad;
		}
		return 0;
	}
	if (end - start < 2 || end[-1] != '}') {
		*error_r = fail("%s", "no closing brace");
		goto bad;
	}
	const char *p = start + 1, *inner_end = end - 1;
	if (memchr(p, '{', (size_t)(inner_end - p)) || memchr(p, '}', (size_t)(inner_end - p))) {
		*error_r = fail("%s", "nested braces");
		goto bad;
	}
	for (int item = 0; p <= inner_end; item++) {
		const char *comma = memchr(p, ',', (size_t)(inner_end - p));
		const char *stop = comma != NULL ? comma : inner_end;
		char *piece = trimmed(p, stop);
		p = stop + 1;
		if (item == 0) {
			e->endpoint = piece;
			if (*piece == '\0' || strchr(piece, '=') != NULL) {
				*error_r = fail("%s", "the endpoint must come first in the braces");
				goto bad;
			}
			continue;
		}
		if (*piece == '\0') {
			free(piece);
			continue; /* a trailing comma */
		}
		char *eq = strchr(piece, '=');
		if (eq == NULL) {
			*error_r = fail("\"%.100s\": expected name=value", piece);
			free(piece);
			goto bad;
		}
		char *name = trimmed(piece, eq), *value = trimmed(eq + 1, piece + strlen(piece));
		const char *why = set_one(&e->settings, name, value);
		free(name);
		free(value);
		free(piece);
		if (why != NULL) {
			*error_r = why;
			goto bad;
		}
	}
	return 0;
bad:
	policy_entry_free(e);
	return -1;
}

void policy_settings_free(struct policy_settings *s)
{
	free(s->default_action);
	free(s->policy_context);
	s->default_action = s->policy_context = NULL;
}

void policy_entry_free(struct policy_entry *e)
{
	free(e->endpoint);
	e->endpoint = NULL;
	policy_settings_free(&e->settings);
}

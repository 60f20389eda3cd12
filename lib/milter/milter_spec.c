/*
 * Parsing the filter list of smtpd_milters / non_smtpd_milters (Postfix's
 * syntax, see milter.h): plain addresses and { address, name=value, ... }
 * groups that override one filter's settings.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "conf/params.h"
#include "milter/milter.h"
#include "util/alloc.h"

int milter_parse_action(const char *text, enum milter_action *action_r)
{
	static const struct {
		const char *name;
		enum milter_action action;
	} names[] = {{"tempfail", MILTER_TEMPFAIL},
	             {"reject", MILTER_REJECT},
	             {"accept", MILTER_ACCEPT},
	             {"quarantine", MILTER_QUARANTINE}};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(text, names[i].name) == 0) {
			*action_r = names[i].action;
			return 0;
		}
	return -1;
}

static bool valid_address(const char *a)
{
	const char *rest;
	if (strncmp(a, "unix:", 5) == 0 || strncmp(a, "local:", 6) == 0) {
		rest = strchr(a, ':') + 1;
		return *rest == '/';
	}
	if (strncmp(a, "inet:", 5) == 0) {
		rest = a + 5;
		const char *colon = strrchr(rest, ':');
		return colon != NULL && colon != rest && colon[1] != '\0';
	}
	return false;
}

static void spec_init(struct milter_spec *s, const struct milter_defaults *d, const char *address)
{
	s->address = xstrdup(address);
	s->protocol = d->protocol;
	s->connect_ms = d->connect_ms;
	s->command_ms = d->command_ms;
	s->content_ms = d->content_ms;
	s->default_action = d->default_action;
}

/* One "name=value" setting inside a group. */
static int apply_setting(struct milter_spec *s, const char *item, const char **error_r)
{
	const char *eq = strchr(item, '=');
	if (eq == NULL) {
		*error_r = "milter setting without '=' (expected name=value)";
		return -1;
	}
	size_t nlen = (size_t)(eq - item);
	const char *value = eq + 1;
	while (nlen > 0 && isspace((unsigned char)item[nlen - 1]))
		nlen--;
	while (isspace((unsigned char)*value))
		value++;
	long long secs;
	const char *why;
	long long *timeout = NULL;
	if (nlen == 15 && strncmp(item, "connect_timeout", nlen) == 0)
		timeout = &s->connect_ms;
	else if (nlen == 15 && strncmp(item, "command_timeout", nlen) == 0)
		timeout = &s->command_ms;
	else if (nlen == 15 && strncmp(item, "content_timeout", nlen) == 0)
		timeout = &s->content_ms;
	if (timeout) {
		if (param_parse_time(value, &secs, &why) != 0) {
			*error_r = "bad milter timeout value";
			return -1;
		}
		*timeout = secs * 1000;
		return 0;
	}
	if (nlen == 14 && strncmp(item, "default_action", nlen) == 0) {
		if (milter_parse_action(value, &s->default_action) != 0) {
			*error_r =
			    "milter default_action is not tempfail, reject, accept or quarantine";
			return -1;
		}
		return 0;
	}
	if (nlen == 8 && strncmp(item, "protocol", nlen) == 0) {
		uint32_t a, p;
		if (strlen(value) != 1 || !milter_offer(value[0] - '0', &a, &p)) {
			*error_r = "milter protocol is not 2, 3, 4 or 6";
			return -1;
		}
		s->protocol = value[0] - '0';
		return 0;
	}
	*error_r = "unknown milter setting (connect_timeout, command_timeout, content_timeout, "
	           "default_action, protocol)";
	return -1;
}

static bool separator(char c)
{
	return c == ',' || isspace((unsigned char)c);
}

int milter_specs_parse(const char *text, const struct milter_defaults *d,
                       struct milter_spec **specs_r, size_t *count_r, const char **error_r)
{
	struct milter_spec *specs = NULL;
	size_t count = 0, cap = 0;
	const char *p = text;
	for (;;) {
		while (separator(*p))
			p++;
		if (*p == '\0')
			break;
		if (count == cap) {
			cap = cap ? cap * 2 : 4;
			specs = xreallocarray(specs, cap, sizeof(*specs));
		}
		struct milter_spec *s = &specs[count];
		if (*p == '{') {
			const char *close = strchr(p, '}');
			if (close == NULL) {
				*error_r = "milter group without a closing '}'";
				goto fail;
			}
			char *group = xstrndup(p + 1, (size_t)(close - p - 1));
			p = close + 1;
			/* Items are separated by commas; the first is the address. */
			char *save = NULL;
			char *item = strtok_r(group, ",", &save);
			bool first = true;
			int rc = 0;
			for (; item && rc == 0; item = strtok_r(NULL, ",", &save)) {
				while (isspace((unsigned char)*item))
					item++;
				size_t n = strlen(item);
				while (n > 0 && isspace((unsigned char)item[n - 1]))
					item[--n] = '\0';
				if (first) {
					if (!valid_address(item)) {
						*error_r = "bad milter address (unix:/path or "
						           "inet:host:port)";
						rc = -1;
						break;
					}
					spec_init(s, d, item);
					count++;
					first = false;
				} else if (*item) {
					rc = apply_setting(s, item, error_r);
				}
			}
			free(group);
			if (first) {
				*error_r = "empty milter group";
				goto fail;
			}
			if (rc != 0)
				goto fail;
			continue;
		}
		const char *start = p;
		while (*p && !separator(*p) && *p != '{' && *p != '}')
			p++;
		if (*p == '}') {
			*error_r = "'}' without '{' in the milter list";
			goto fail;
		}
		char *addr = xstrndup(start, (size_t)(p - start));
		if (!valid_address(addr)) {
			free(addr);
			*error_r = "bad milter address (unix:/path or inet:host:port)";
			goto fail;
		}
		spec_init(s, d, addr);
		free(addr);
		count++;
	}
	*specs_r = specs;
	*count_r = count;
	return 0;
fail:
	milter_specs_free(specs, count);
	return -1;
}

void milter_specs_free(struct milter_spec *specs, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(specs[i].address);
	free(specs);
}

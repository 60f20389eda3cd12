/*
 * The policy delegation protocol's requests, replies and endpoints
 * (policy_proto.h).
 */
#include "policy/policy_proto.h"

#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

int policy_endpoint_parse(const char *spec, const char *queue_dir, struct policy_endpoint *ep,
                          const char **error_r)
{
	memset(ep, 0, sizeof(*ep));
	if (strncmp(spec, "unix:", 5) == 0) {
		const char *path = spec + 5;
		if (*path == '\0') {
			*error_r = "unix: needs a socket path";
			return -1;
		}
		ep->is_unix = true;
		ep->path = path[0] == '/' ? xstrdup(path) : xasprintf("%s/%s", queue_dir, path);
		return 0;
	}
	if (strncmp(spec, "inet:", 5) != 0) {
		*error_r = "not inet:host:port or unix:path";
		return -1;
	}
	const char *hp = spec + 5;
	const char *colon = strrchr(hp, ':');
	if (colon == NULL || colon == hp || colon[1] == '\0') {
		*error_r = "inet: needs host:port";
		return -1;
	}
	size_t host_len = (size_t)(colon - hp);
	if (hp[0] == '[') {
		if (host_len < 3 || hp[host_len - 1] != ']') {
			*error_r = "inet: bad [address]";
			return -1;
		}
		ep->host = xstrndup(hp + 1, host_len - 2);
	} else {
		ep->host = xstrndup(hp, host_len);
	}
	ep->port = xstrdup(colon + 1);
	return 0;
}

void policy_endpoint_free(struct policy_endpoint *ep)
{
	free(ep->path);
	free(ep->host);
	free(ep->port);
	memset(ep, 0, sizeof(*ep));
}

void policy_request_add(struct str *req, const char *name, const char *value)
{
	str_append_cstr(req, name);
	str_append_char(req, '=');
	for (const char *p = value ? value : ""; *p; p++)
		str_append_char(req, *p == '\r' || *p == '\n' ? '?' : *p);
	str_append_char(req, '\n');
}

void policy_request_end(struct str *req)
{
	str_append_char(req, '\n');
}

int policy_reply_parse(const char *buf, size_t len, struct str *action, size_t *used_r,
                       const char **error_r)
{
	bool found = false;
	size_t at = 0;
	str_clear(action);
	if (len == 0)
		return 0; /* nothing yet (buf may be NULL) */
	for (size_t lines = 0;; lines++) {
		const char *line = buf + at;
		size_t left = len - at;
		const char *nl =
		    memchr(line, '\n',
		           left < POLICY_REPLY_LINE_MAX + 2 ? left : POLICY_REPLY_LINE_MAX + 2);
		if (nl == NULL) {
			if (left > POLICY_REPLY_LINE_MAX + 1) {
				*error_r = "reply line too long";
				return -1;
			}
			if (memchr(line, '\0', left)) {
				*error_r = "NUL byte in the reply";
				return -1;
			}
			return 0;
		}
		size_t line_len = (size_t)(nl - line);
		at += line_len + 1;
		if (line_len > 0 && line[line_len - 1] == '\r')
			line_len--;
		if (line_len > POLICY_REPLY_LINE_MAX) {
			*error_r = "reply line too long";
			return -1;
		}
		if (memchr(line, '\0', line_len)) {
			*error_r = "NUL byte in the reply";
			return -1;
		}
		if (line_len == 0) {
			if (!found) {
				*error_r = lines == 0 ? "empty reply" : "reply without an action";
				return -1;
			}
			*used_r = at;
			return 1;
		}
		if (lines >= POLICY_REPLY_LINES_MAX) {
			*error_r = "too many lines in the reply";
			return -1;
		}
		const char *eq = memchr(line, '=', line_len);
		if (eq == NULL || eq == line) {
			*error_r = "reply line is not name=value";
			return -1;
		}
		size_t name_len = (size_t)(eq - line);
		if (!found && name_len == 6 && memcmp(line, "action", 6) == 0) {
			found = true;
			str_append(action, eq + 1, line_len - name_len - 1);
		}
	}
}

/*
 * Next hops: parsing the forms listed in nexthop.h, SMTP's and LMTP's.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp/nexthop.h"
#include "util/alloc.h"

static bool valid_port(const char *p)
{
	if (*p == '\0' || strlen(p) > 5)
		return false;
	long v = 0;
	for (const char *c = p; *c; c++) {
		if (*c < '0' || *c > '9')
			return false;
		v = v * 10 + (*c - '0');
	}
	return v > 0 && v < 65536;
}

static bool valid_host(const char *h)
{
	if (*h == '\0' || strlen(h) > 253)
		return false;
	for (const char *c = h; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '-' || *c == '.' || *c == '_' || *c == ':'))
			return false;
	return true;
}

int nexthop_parse(const char *text, const char *default_port, struct nexthop *nh,
                  const char **error_r)
{
	memset(nh, 0, sizeof(*nh));
	char *host = NULL;
	const char *port = NULL;
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (close == NULL) {
			*error_r = "missing ']' in next hop";
			return -1;
		}
		host = xstrndup(text + 1, (size_t)(close - text - 1));
		if (close[1] == ':')
			port = close + 2;
		else if (close[1] != '\0') {
			free(host);
			*error_r = "junk after ']' in next hop";
			return -1;
		}
		nh->use_mx = false;
		if (strncasecmp(host, "ipv6:", 5) == 0)
			memmove(host, host + 5, strlen(host + 5) + 1);
	} else {
		const char *colon = strrchr(text, ':');
		host = colon ? xstrndup(text, (size_t)(colon - text)) : xstrdup(text);
		port = colon ? colon + 1 : NULL;
		nh->use_mx = true;
	}
	unsigned char buf[16];
	nh->literal = inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
	if (nh->literal)
		nh->use_mx = false;
	if (!valid_host(host) || (!nh->literal && strchr(host, ':') != NULL)) {
		free(host);
		*error_r = "invalid host in next hop";
		return -1;
	}
	if (port && !valid_port(port)) {
		free(host);
		*error_r = "invalid port in next hop";
		return -1;
	}
	size_t len = strlen(host);
	if (len > 1 && host[len - 1] == '.')
		host[len - 1] = '\0';
	nh->host = host;
	nh->port = xstrdup(port ? port : default_port);
	return 0;
}

int nexthop_parse_lmtp(const char *text, const char *default_port, struct nexthop *nh,
                       const char **error_r)
{
	if (strncasecmp(text, "unix:", 5) == 0) {
		memset(nh, 0, sizeof(*nh));
		const char *path = text + 5;
		if (*path == '\0') {
			*error_r = "empty socket path in next hop";
			return -1;
		}
		for (const char *c = path; *c; c++) {
			if ((unsigned char)*c < 0x20 || *c == 0x7f) {
				*error_r = "invalid socket path in next hop";
				return -1;
			}
		}
		nh->host = xstrdup("");
		nh->port = xstrdup("");
		nh->path = xstrdup(path);
		return 0;
	}
	if (strncasecmp(text, "inet:", 5) == 0)
		text += 5;
	if (nexthop_parse(text, default_port, nh, error_r) != 0)
		return -1;
	nh->use_mx = false;
	return 0;
}

void nexthop_free(struct nexthop *nh)
{
	free(nh->host);
	free(nh->port);
	free(nh->path);
	memset(nh, 0, sizeof(*nh));
}

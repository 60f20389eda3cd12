/*
 * Network address lists and matching; IPv4-mapped IPv6 addresses match
 * IPv4 entries.
 */
#include "util/cidr.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

struct cidr {
	int family;
	unsigned char addr[16];
	int prefix;
};

struct cidr_list {
	struct cidr *items;
	size_t count;
};

static int parse_one(const char *word, struct cidr *out)
{
	char *text = xstrdup(word);
	char *slash = strchr(text, '/');
	int prefix = -1;
	if (slash) {
		*slash = '\0';
		char *end;
		long p = strtol(slash + 1, &end, 10);
		if (slash[1] == '\0' || *end != '\0' || p < 0 || p > 128) {
			free(text);
			return -1;
		}
		prefix = (int)p;
	}
	char *host = text;
	size_t len = strlen(host);
	if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
		host[len - 1] = '\0';
		host++;
	}
	int rc = -1;
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, host, out->addr) == 1) {
		out->family = AF_INET;
		out->prefix = prefix < 0 ? 32 : prefix;
		rc = out->prefix <= 32 ? 0 : -1;
	} else if (inet_pton(AF_INET6, host, out->addr) == 1) {
		out->family = AF_INET6;
		out->prefix = prefix < 0 ? 128 : prefix;
		rc = 0;
	}
	free(text);
	return rc;
}

struct cidr_list *cidr_list_parse(char *const *words, char **bad_r)
{
	struct cidr_list *list = xcalloc(1, sizeof(*list));
	size_t n = 0;
	while (words[n])
		n++;
	list->items = xcalloc(n + 1, sizeof(struct cidr));
	for (size_t i = 0; i < n; i++) {
		if (parse_one(words[i], &list->items[list->count]) != 0) {
			*bad_r = xstrdup(words[i]);
			cidr_list_free(list);
			return NULL;
		}
		list->count++;
	}
	return list;
}

void cidr_list_free(struct cidr_list *list)
{
	if (list == NULL)
		return;
	free(list->items);
	free(list);
}

static bool prefix_equal(const unsigned char *a, const unsigned char *b, int bits)
{
	int bytes = bits / 8, rest = bits % 8;
	if (memcmp(a, b, (size_t)bytes) != 0)
		return false;
	if (rest == 0)
		return true;
	unsigned char mask = (unsigned char)(0xFF << (8 - rest));
	return (a[bytes] & mask) == (b[bytes] & mask);
}

bool cidr_list_match(const struct cidr_list *list, const char *addr)
{
	unsigned char buf[16];
	int family;
	if (inet_pton(AF_INET, addr, buf) == 1) {
		family = AF_INET;
	} else if (inet_pton(AF_INET6, addr, buf) == 1) {
		static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		family = AF_INET6;
		if (memcmp(buf, mapped, 12) == 0) {
			memmove(buf, buf + 12, 4);
			family = AF_INET;
		}
	} else {
		return false;
	}
	for (size_t i = 0; i < list->count; i++)
		if (list->items[i].family == family &&
		    prefix_equal(list->items[i].addr, buf, list->items[i].prefix))
			return true;
	return false;
}

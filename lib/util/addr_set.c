/*
 * Sets of IP addresses (see addr_set.h): a small array, searched in full
 * (a host has a handful of addresses), without duplicates.
 */
#include "util/addr_set.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "util/alloc.h"

struct addr_entry {
	int family;              /* AF_INET or AF_INET6 */
	unsigned char bytes[16]; /* 4 used for AF_INET */
};

struct addr_set {
	struct addr_entry *entries;
	size_t count, cap;
};

static char addr_set_error[512];

static const char *format_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static const char *format_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(addr_set_error, sizeof(addr_set_error), fmt, ap);
	va_end(ap);
	return addr_set_error;
}

struct addr_set *addr_set_new(void)
{
	return xcalloc(1, sizeof(struct addr_set));
}

void addr_set_free(struct addr_set *set)
{
	if (set == NULL)
		return;
	free(set->entries);
	free(set);
}

size_t addr_set_count(const struct addr_set *set)
{
	return set->count;
}

/* An IPv4-mapped IPv6 address becomes the IPv4 address. */
static void normalize(struct addr_entry *e)
{
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (e->family == AF_INET6 && memcmp(e->bytes, mapped, sizeof(mapped)) == 0) {
		e->family = AF_INET;
		memmove(e->bytes, e->bytes + 12, 4);
		memset(e->bytes + 4, 0, 12);
	}
}

static bool entry_equal(const struct addr_entry *a, const struct addr_entry *b)
{
	return a->family == b->family &&
	       memcmp(a->bytes, b->bytes, a->family == AF_INET ? 4 : 16) == 0;
}

static bool find(const struct addr_set *set, const struct addr_entry *e)
{
	for (size_t i = 0; i < set->count; i++)
		if (entry_equal(&set->entries[i], e))
			return true;
	return false;
}

static void add_entry(struct addr_set *set, struct addr_entry e)
{
	normalize(&e);
	if (find(set, &e))
		return;
	if (set->count == set->cap) {
		set->cap = set->cap ? set->cap * 2 : 8;
		set->entries = xreallocarray(set->entries, set->cap, sizeof(*set->entries));
	}
	set->entries[set->count++] = e;
}

static bool add_sockaddr(struct addr_set *set, const struct sockaddr *sa)
{
	struct addr_entry e = {0};
	if (sa->sa_family == AF_INET) {
		e.family = AF_INET;
		memcpy(e.bytes, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		e.family = AF_INET6;
		memcpy(e.bytes, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
	} else {
		return false;
	}
	add_entry(set, e);
	return true;
}

/* Parse a printable address, with or without [brackets] (and "ipv6:"
 * inside them) and a %scope; false if it is not one. */
static bool parse(const char *text, struct addr_entry *e)
{
	char buf[INET6_ADDRSTRLEN + 8];
	size_t len = strlen(text);
	if (len >= 2 && text[0] == '[' && text[len - 1] == ']') {
		text++;
		len -= 2;
		if (len > 5 && strncasecmp(text, "ipv6:", 5) == 0) {
			text += 5;
			len -= 5;
		}
	}
	const char *scope = memchr(text, '%', len);
	if (scope != NULL)
		len = (size_t)(scope - text);
	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, text, len);
	buf[len] = '\0';
	memset(e, 0, sizeof(*e));
	if (inet_pton(AF_INET, buf, e->bytes) == 1)
		e->family = AF_INET;
	else if (inet_pton(AF_INET6, buf, e->bytes) == 1)
		e->family = AF_INET6;
	else
		return false;
	normalize(e);
	return true;
}

int addr_set_add_address(struct addr_set *set, const char *text, const char **error_r)
{
	struct addr_entry e;
	if (!parse(text, &e)) {
		*error_r = format_error("not an IP address: \"%.100s\"", text);
		return -1;
	}
	add_entry(set, e);
	return 0;
}

int addr_set_add_host(struct addr_set *set, const char *host, const char **error_r)
{
	struct addr_entry e;
	if (parse(host, &e)) {
		add_entry(set, e);
		return 0;
	}
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *ai = NULL;
	int rc = getaddrinfo(host, NULL, &hints, &ai);
	if (rc != 0) {
		*error_r = format_error("host %.300s: %s", host,
		                        rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return -1;
	}
	bool found = false;
	for (const struct addrinfo *a = ai; a != NULL; a = a->ai_next)
		found |= a->ai_addr != NULL && add_sockaddr(set, a->ai_addr);
	freeaddrinfo(ai);
	if (!found) {
		*error_r = format_error("host %.300s has no IP address", host);
		return -1;
	}
	return 0;
}

int addr_set_add_interfaces(struct addr_set *set, const char **error_r)
{
	struct ifaddrs *list = NULL;
	if (getifaddrs(&list) != 0) {
		*error_r = format_error("cannot list the network interfaces: %s", strerror(errno));
		return -1;
	}
	for (const struct ifaddrs *i = list; i != NULL; i = i->ifa_next)
		if (i->ifa_addr != NULL && (i->ifa_flags & IFF_UP))
			(void)add_sockaddr(set, i->ifa_addr);
	freeifaddrs(list);
	return 0;
}

bool addr_set_contains(const struct addr_set *set, const char *address)
{
	struct addr_entry e;
	return set != NULL && parse(address, &e) && find(set, &e);
}

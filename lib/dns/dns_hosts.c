/*
 * The hosts file's names for addresses (dns.h: dns_hosts_load): the
 * reverse half of what the system resolver's "files" source does.
 * libunbound answers the forward half (ub_ctx_hosts) but gives no PTR
 * records from the file. The file is read once, as libunbound reads it,
 * so a look-up per connection costs no I/O.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"
#include "util/alloc.h"

struct dns_hosts_entry {
	unsigned char addr[16];
	size_t len; /* 4 or 16 */
	char *name;
};

struct dns_hosts {
	struct dns_hosts_entry *items;
	size_t count, cap;
};

/* The address in binary form, with its length; 0 if it is not one. */
static size_t address_bytes(const char *text, unsigned char out[16])
{
	if (inet_pton(AF_INET, text, out) == 1)
		return 4;
	if (inet_pton(AF_INET6, text, out) == 1)
		return 16;
	return 0;
}

struct dns_hosts *dns_hosts_load(const char *path)
{
	struct dns_hosts *h = xcalloc(1, sizeof(*h));
	FILE *f = path && *path ? fopen(path, "re") : NULL;
	if (f == NULL)
		return h;
	char line[1024];
	while (fgets(line, sizeof(line), f) != NULL) {
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		char *save = NULL;
		char *addr = strtok_r(line, " \t\r\n", &save);
		char *first = addr ? strtok_r(NULL, " \t\r\n", &save) : NULL;
		unsigned char bytes[16];
		size_t len = first ? address_bytes(addr, bytes) : 0;
		if (len == 0)
			continue;
		if (h->count == h->cap) {
			h->cap = h->cap ? h->cap * 2 : 16;
			h->items = xreallocarray(h->items, h->cap, sizeof(*h->items));
		}
		struct dns_hosts_entry *e = &h->items[h->count++];
		memcpy(e->addr, bytes, len);
		e->len = len;
		e->name = xstrdup(first);
	}
	fclose(f);
	return h;
}

const char *dns_hosts_name(const struct dns_hosts *h, const char *address)
{
	unsigned char want[16];
	size_t len = h ? address_bytes(address, want) : 0;
	for (size_t i = 0; len > 0 && i < h->count; i++)
		if (h->items[i].len == len && memcmp(h->items[i].addr, want, len) == 0)
			return h->items[i].name;
	return NULL;
}

void dns_hosts_free(struct dns_hosts *h)
{
	if (h == NULL)
		return;
	for (size_t i = 0; i < h->count; i++)
		free(h->items[i].name);
	free(h->items);
	free(h);
}

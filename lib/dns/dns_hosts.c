/*
 * The hosts file's name for an address (dns.h: dns_hosts_name): the
 * reverse half of what the system resolver's "files" source does.
 * libunbound answers the forward half (ub_ctx_hosts) but gives no PTR
 * records from the file.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"
#include "util/alloc.h"

/* The address in binary form, with its length; 0 if it is not one. */
static size_t address_bytes(const char *text, unsigned char out[16])
{
	if (inet_pton(AF_INET, text, out) == 1)
		return 4;
	if (inet_pton(AF_INET6, text, out) == 1)
		return 16;
	return 0;
}

char *dns_hosts_name(const char *path, const char *address)
{
	unsigned char want[16], have[16];
	size_t len = address_bytes(address, want);
	if (path == NULL || *path == '\0' || len == 0)
		return NULL;
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return NULL;
	char line[1024];
	char *name = NULL;
	while (name == NULL && fgets(line, sizeof(line), f) != NULL) {
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		char *save = NULL;
		char *addr = strtok_r(line, " \t\r\n", &save);
		char *first = addr ? strtok_r(NULL, " \t\r\n", &save) : NULL;
		if (first != NULL && address_bytes(addr, have) == len &&
		    memcmp(have, want, len) == 0)
			name = xstrdup(first);
	}
	fclose(f);
	return name;
}

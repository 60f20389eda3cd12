/*
 * Address extensions: where the base of a local part ends (extension.h).
 */
#include "mail/extension.h"

#include <string.h>
#include <strings.h>

#include "util/alloc.h"

size_t extension_base_len(const char *local, size_t len, const char *delimiters)
{
	if (delimiters == NULL || *delimiters == '\0' || len < 2)
		return len;
	size_t i = 1;
	while (i < len && strchr(delimiters, local[i]) == NULL)
		i++;
	if (i >= len)
		return len;
	if (local[i] == '-') {
		if (len >= 6 && strncasecmp(local, "owner-", 6) == 0)
			return len;
		if (len >= 8 && strncasecmp(local + len - 8, "-request", 8) == 0)
			return len;
	}
	return i;
}

char *extension_strip(const char *address, const char *delimiters)
{
	const char *at = strrchr(address, '@');
	size_t local_len = at ? (size_t)(at - address) : strlen(address);
	size_t base = extension_base_len(address, local_len, delimiters);
	if (base == local_len)
		return NULL;
	return xasprintf("%.*s%s", (int)base, address, at ? at : "");
}

/*
 * libFuzzer target: socket map replies as a server sends them — the
 * netstring length before ':' and the reply inside (socketmap_reply.h).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "table/socketmap_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	const char *colon = memchr(text, ':', size);
	if (colon != NULL) {
		long len = socketmap_netstring_length(text, (size_t)(colon - text));
		size_t rest = size - (size_t)(colon - text) - 1;
		if (len >= 0 && (size_t)len < rest) {
			const char *value;
			size_t value_len;
			enum socketmap_status st =
			    socketmap_reply_parse(colon + 1, (size_t)len, &value, &value_len);
			if (st != SOCKETMAP_INVALID && value + value_len > colon + 1 + len)
				__builtin_trap();
		}
	}
	return 0;
}

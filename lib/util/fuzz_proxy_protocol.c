/*
 * libFuzzer target: HAProxy PROXY headers, versions 1 and 2, as a load
 * balancer (or anyone reaching the port) sends them (proxy_protocol.h).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util/proxy_protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_header h;
	const char *error = NULL;
	enum proxy_result r = proxy_protocol_parse(data, size, &h, &error);
	if (r == PROXY_DONE && (h.len > size || h.len < PROXY_MIN_LEN))
		__builtin_trap();
	if (r == PROXY_BAD && error == NULL)
		__builtin_trap();
	if (r == PROXY_DONE && h.proxied &&
	    (memchr(h.client_addr, '\0', sizeof(h.client_addr)) == NULL ||
	     h.client_port[0] == '\0'))
		__builtin_trap();
	if (size >= PROXY_MIN_LEN)
		(void)proxy_protocol_v2_wanted(data, size);
	return 0;
}

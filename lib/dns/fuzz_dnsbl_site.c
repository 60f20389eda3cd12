/* Fuzz target: DNS blocklist site entries ("DOMAIN[=FILTER]"), then a
 * match of the parsed filter against the input's first four bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dnsbl.h"
#include "util/alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *entry = xstrndup((const char *)data, size);
	struct dnsbl_site site;
	const char *error = NULL;
	if (dnsbl_site_parse(entry, &site, &error) == 0) {
		unsigned char addr[4] = {127, 0, 0, 2};
		memcpy(addr, data, size < 4 ? size : 4);
		(void)dnsbl_site_match(&site, addr);
		if (site.domain == NULL || site.domain[0] == '\0')
			abort();
	} else if (error == NULL) {
		abort();
	}
	dnsbl_site_free(&site);
	free(entry);
	return 0;
}

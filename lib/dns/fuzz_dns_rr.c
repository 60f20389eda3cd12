/* Fuzz target: DNS rdata parsing for every type the resolver reads (the
 * first byte picks the type). */
#include <stdint.h>
#include <stdlib.h>

#include "dns/dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int types[] = {DNS_TYPE_A,   DNS_TYPE_PTR,  DNS_TYPE_MX,
	                            DNS_TYPE_TXT, DNS_TYPE_AAAA, DNS_TYPE_TLSA};
	if (size == 0)
		return 0;
	struct dns_rr rr;
	int type = types[data[0] % 6];
	if (dns_rr_parse(type, data + 1, size - 1, &rr) == 0) {
		if ((type == DNS_TYPE_MX || type == DNS_TYPE_PTR) && rr.name == NULL)
			abort();
		dns_rr_free(&rr);
	}
	return 0;
}

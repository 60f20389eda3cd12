/* Fuzz target: the TLS policy table value parser (an admin's table, but
 * parsed by smtp for every delivery). Checks that a parse either fails
 * with a message or gives a consistent policy. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/tls_policy.h"
#include "tls/tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	struct tls_policy p = {0};
	char *error = NULL;
	int rc = tls_policy_parse(text, "hostname", "nexthop:dot-nexthop", &p, &error);
	if (rc != 0 && error == NULL)
		abort();
	if (rc == 0) {
		if (error != NULL || p.level > TLS_LEVEL_FINGERPRINT)
			abort();
		bool named = p.level == TLS_LEVEL_VERIFY || p.level == TLS_LEVEL_SECURE;
		if (named != (p.match_count > 0))
			abort();
		/* The fingerprint level, and only it, has fingerprints, all
		 * of one size, and their digest. */
		bool fingerprint = p.level == TLS_LEVEL_FINGERPRINT;
		if (fingerprint != (p.fingerprint_count > 0) ||
		    fingerprint != (p.fingerprint_digest != NULL))
			abort();
		for (size_t i = 0; i < p.fingerprint_count; i++)
			if (p.fingerprints[i].len != p.fingerprints[0].len ||
			    p.fingerprints[i].len < 16 ||
			    p.fingerprints[i].len > TLS_FINGERPRINT_MAX)
				abort();
		if ((p.min_version == 0) != (p.max_version == 0) || p.min_version > p.max_version)
			abort();
	}
	free(error);
	tls_policy_free(&p);
	free(text);
	return 0;
}

/*
 * libFuzzer target: smtpd_policy_services entries with settings in braces
 * (policy_entry.h), as main.conf and master.conf -o give them.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy_entry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	struct policy_settings defaults = {.limits.timeout_ms = 1000,
	                                   .try_limit = 1,
	                                   .default_action = "DUNNO",
	                                   .policy_context = ""};
	struct policy_entry e;
	const char *error = NULL;
	if (policy_entry_parse(text, &defaults, &e, &error) == 0) {
		if (e.endpoint == NULL || e.settings.try_limit < 1 ||
		    e.settings.limits.timeout_ms < 1000)
			abort();
		policy_entry_free(&e);
	} else if (error == NULL) {
		abort();
	}
	free(text);
	return 0;
}

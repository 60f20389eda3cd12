/*
 * receive_override_options and content_filter (see receive_options.h).
 */
#include "mail/receive_options.h"

#include <ctype.h>
#include <string.h>

#include "util/word_flags.h"

static const struct word_flag options[] = {
    {"no_unknown_recipient_checks", RECEIVE_NO_UNKNOWN_RECIPIENT_CHECKS},
    {"no_address_mappings", RECEIVE_NO_ADDRESS_MAPPINGS},
    {"no_header_body_checks", RECEIVE_NO_HEADER_BODY_CHECKS},
    {"no_milters", RECEIVE_NO_MILTERS},
};

int receive_options_parse(char *const *list, unsigned *flags_r, const char **bad_r)
{
	return word_flags_parse(list, options, sizeof(options) / sizeof(options[0]), flags_r,
	                        bad_r);
}

bool content_filter_valid(const char *text)
{
	size_t len = strcspn(text, ":");
	if (len == 0 || text[len] != ':')
		return false;
	/* A service name: master.conf's first column for a unix service. */
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		if (!isalnum(c) && c != '-' && c != '_' && c != '.')
			return false;
	}
	for (const char *p = text + len + 1; *p; p++)
		if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p))
			return false;
	return true;
}

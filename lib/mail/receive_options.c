/*
 * receive_override_options and content_filter (see receive_options.h).
 */
#include "mail/receive_options.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

static const struct {
	const char *name;
	unsigned flag;
} options[] = {
    {"no_unknown_recipient_checks", RECEIVE_NO_UNKNOWN_RECIPIENT_CHECKS},
    {"no_address_mappings", RECEIVE_NO_ADDRESS_MAPPINGS},
    {"no_header_body_checks", RECEIVE_NO_HEADER_BODY_CHECKS},
    {"no_milters", RECEIVE_NO_MILTERS},
};

int receive_options_parse(const char *text, unsigned *flags_r, const char **bad_r, int *bad_len_r)
{
	static const char separators[] = " \t\r\n,";
	unsigned flags = 0;
	const char *p = text;
	for (;;) {
		p += strspn(p, separators);
		if (*p == '\0')
			break;
		size_t len = strcspn(p, separators);
		size_t i = 0;
		for (; i < sizeof(options) / sizeof(options[0]); i++)
			if (strlen(options[i].name) == len &&
			    strncasecmp(options[i].name, p, len) == 0)
				break;
		if (i == sizeof(options) / sizeof(options[0])) {
			*bad_r = p;
			*bad_len_r = len > 64 ? 64 : (int)len;
			return -1;
		}
		flags |= options[i].flag;
		p += len;
	}
	*flags_r = flags;
	return 0;
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

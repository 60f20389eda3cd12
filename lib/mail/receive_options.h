/*
 * receive_override_options and content_filter, as Postfix reads them: what
 * smtpd and pickup leave out when mail is received (typically on the
 * service a content filter gives mail back to, or the one in front of
 * it), and the "transport:nexthop" a content filter is named by.
 */
#ifndef POSTERN_MAIL_RECEIVE_OPTIONS_H
#define POSTERN_MAIL_RECEIVE_OPTIONS_H

#include <stdbool.h>

enum receive_option {
	/* smtpd: no 550 5.1.1 for unknown local, virtual or relay recipients */
	RECEIVE_NO_UNKNOWN_RECIPIENT_CHECKS = 1 << 0,
	/* no canonical mapping, masquerading, virtual alias expansion or
	 * automatic BCC at receipt */
	RECEIVE_NO_ADDRESS_MAPPINGS = 1 << 1,
	/* no header_checks, mime_header_checks, nested_header_checks, body_checks */
	RECEIVE_NO_HEADER_BODY_CHECKS = 1 << 2,
	/* no smtpd_milters / non_smtpd_milters */
	RECEIVE_NO_MILTERS = 1 << 3,
};

/* The options in list (receive_override_options' words); 0 with the
 * flags, or -1 with *bad_r the unknown name. */
int receive_options_parse(char *const *list, unsigned *flags_r, const char **bad_r);

/* Whether text is a content filter "transport:nexthop" (the next hop may
 * be empty; the transport, a master.conf service name, may not). */
bool content_filter_valid(const char *text);

#endif

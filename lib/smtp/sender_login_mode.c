/*
 * The words of smtpd_reject_sender_login_mismatch (sender_login_mode.h).
 */
#include "smtp/sender_login_mode.h"

#include <stddef.h>
#include <strings.h>

bool sender_login_mode_parse(const char *value, enum sender_login_mode *mode_r)
{
	static const struct {
		const char *name;
		enum sender_login_mode mode;
	} modes[] = {{"no", SENDER_LOGIN_OFF},
	             {"", SENDER_LOGIN_OFF},
	             {"authenticated", SENDER_LOGIN_AUTHENTICATED},
	             {"unauthenticated", SENDER_LOGIN_UNAUTHENTICATED},
	             {"yes", SENDER_LOGIN_BOTH},
	             {"known", SENDER_LOGIN_KNOWN}};
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strcasecmp(value, modes[i].name) == 0) {
			*mode_r = modes[i].mode;
			return true;
		}
	return false;
}

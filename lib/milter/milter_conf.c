/*
 * main.conf's milter parameters (milter_conf.h).
 */
#include "milter/milter_conf.h"

#include <string.h>

int milter_defaults_from_conf(const struct conf *conf, struct milter_defaults *d,
                              const char **error_r)
{
	memset(d, 0, sizeof(*d));
	d->protocol = (int)conf_get_int(conf, "milter_protocol");
	uint32_t a, p;
	if (!milter_offer(d->protocol, &a, &p)) {
		*error_r = "milter_protocol: not 2, 3, 4 or 6";
		return -1;
	}
	d->connect_ms = conf_get_time(conf, "milter_connect_timeout") * 1000;
	d->command_ms = conf_get_time(conf, "milter_command_timeout") * 1000;
	d->content_ms = conf_get_time(conf, "milter_content_timeout") * 1000;
	if (milter_parse_action(conf_get(conf, "milter_default_action"), &d->default_action) != 0) {
		*error_r = "milter_default_action: not tempfail, reject, accept or quarantine";
		return -1;
	}
	static const char *const names[MILTER_STAGE_COUNT] = {
	    "milter_connect_macros",       "milter_helo_macros",
	    "milter_mail_macros",          "milter_rcpt_macros",
	    "milter_data_macros",          "milter_end_of_data_macros",
	    "milter_end_of_header_macros", "milter_unknown_command_macros"};
	for (int i = 0; i < MILTER_STAGE_COUNT; i++)
		d->macros[i] = conf_get(conf, names[i]);
	return 0;
}

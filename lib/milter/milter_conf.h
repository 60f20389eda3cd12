/*
 * The milter settings of main.conf (milter_protocol, the timeouts,
 * milter_default_action and the per-stage macro lists) as milter
 * defaults, for smtpd and pickup.
 */
#ifndef POSTERN_MILTER_MILTER_CONF_H
#define POSTERN_MILTER_MILTER_CONF_H

#include "conf/conf.h"
#include "milter/milter.h"

/* 0, or -1 with *error_r naming the bad parameter. d's strings belong to conf. */
int milter_defaults_from_conf(const struct conf *conf, struct milter_defaults *d,
                              const char **error_r);

#endif

/*
 * Start-up steps every Postern program shares: which configuration
 * directory to use (-c DIR, else $POSTERN_CONFIG, else the built-in
 * default), loading main.conf with its diagnostics logged, and pointing the
 * log at syslog or at maillog_file.
 */
#ifndef POSTERN_SERVER_PROGRAM_H
#define POSTERN_SERVER_PROGRAM_H

#include <stdbool.h>

#include "conf/conf.h"

/* The configuration directory: option if non-NULL, else the environment, else default. */
const char *program_config_dir(const char *option);

/* Load main.conf; warnings are logged, errors are logged and fatal. */
struct conf *program_load_conf(const char *config_dir);

/* Send log lines where main.conf says (maillog_file or syslog). A service
 * started by master with maillog_file set finds the log file on its stderr
 * (POSTERN_LOG_STDERR in the environment), so it can log after dropping
 * privileges. With
 * also_stderr, lines are copied to stderr for a person watching. */
void program_setup_logging(const struct conf *conf, bool also_stderr);

/* True when this process runs without root: an unprivileged instance. */
bool program_unprivileged(void);

#endif

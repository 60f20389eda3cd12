/*
 * Start-up steps shared by every program: config directory, main.conf,
 * logging destination.
 */
#include "server/program.h"

#include <stdlib.h>
#include <unistd.h>

#include "util/log.h"

const char *program_config_dir(const char *option)
{
	if (option != NULL && *option != '\0')
		return option;
	const char *env = getenv("POSTERN_CONFIG");
	if (env != NULL && *env != '\0')
		return env;
	return POSTERN_CONFIG_DIR;
}

struct conf *program_load_conf(const char *config_dir)
{
	struct diag_list diags;
	diag_list_init(&diags);
	struct conf *conf = conf_load(config_dir, &diags);
	for (size_t i = 0; i < diags.count; i++) {
		if (diags.items[i].severity == DIAG_WARNING)
			log_warn("%s", diags.items[i].text);
		else
			log_error("%s", diags.items[i].text);
	}
	bool failed = conf == NULL || diag_has_errors(&diags);
	diag_list_free(&diags);
	if (failed)
		log_fatal("%s/main.conf has errors; fix them (mailctl check lists them all)",
		          config_dir);
	return conf;
}

void program_setup_logging(const struct conf *conf, bool also_stderr)
{
	const char *file = conf_get(conf, "maillog_file");
	if (*file != '\0' && getenv("POSTERN_LOG_STDERR") != NULL) {
		/* Started by master, which passed its log file as our stderr. */
		log_to_file("-");
	} else if (*file != '\0') {
		if (log_to_file(file) != 0)
			log_fatal("open maillog_file %s: %m", file);
	} else {
		log_to_syslog(conf_get(conf, "syslog_name"));
	}
	log_also_stderr(also_stderr);
}

bool program_unprivileged(void)
{
	return geteuid() != 0;
}

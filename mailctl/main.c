/*
 * mailctl: start, stop, reload and inspect Postern; check and print its
 * configuration. Usage: mailctl [-c DIR] [--json] COMMAND [args].
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailctl/mailctl.h"
#include "mailctl/map.h"
#include "mailctl/queue.h"
#include "mailctl/user.h"
#include "mailctl/verify.h"
#include "server/program.h"
#include "util/log.h"

static const struct {
	const char *name;
	int (*run)(struct mailctl *m, int argc, char **argv);
	const char *help;
} commands[] = {
    {"start", cmd_start, "start [-f]          start master (-f: in the foreground)"},
    {"stop", cmd_stop, "stop                stop master and every service"},
    {"reload", cmd_reload, "reload              re-read main.conf and master.conf"},
    {"status", cmd_status, "status              services, processes, restarts, uptime"},
    {"check", cmd_check, "check               validate the configuration and its paths"},
    {"config", cmd_config,
     "config [-n|-d|-x] [NAME...]  print parameters\n"
     "  config -e NAME=VALUE...|-X NAME...  set or remove them in main.conf\n"
     "  config -b [FILE]    the notification templates, expanded"},
    {"version", cmd_version, "version             print the version"},
    {"user", cmd_user,
     "user add ADDRESS [--quota SIZE]|passwd ADDRESS|del ADDRESS|list|rebuild  virtual users"},
    {"map", cmd_map, "map build FILE...|query FILE KEY...  compile and query lookup tables"},
    {"alias", cmd_alias, "alias rebuild|query NAME...  compile alias_database, query alias_maps"},
    {"queue", cmd_queue,
     "queue list|show ID|delete|hold|release|requeue|flush [ID...|ALL] [--sender ADDR]\n"
     "        [--recipient ADDR] [--older-than AGE] [--mailq]  inspect and control queued mail\n"
     "queue shape [--sender] [--parent] [--top N] [QUEUE...]  waiting mail by domain and age"},
    {"verify", cmd_verify,
     "verify list|delete ADDRESS...  the address verification cache (address_verify_map)"},
};

void mailctl_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("mailctl: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static int usage(FILE *out, int status)
{
	fprintf(out, "usage: mailctl [-c CONFIG_DIR] [--json] COMMAND [ARGS]\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %s\n", commands[i].help);
	return status;
}

int main(int argc, char **argv)
{
	log_init("mailctl");
	struct mailctl m = {0};
	const char *config_option = NULL;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
			config_option = argv[++i];
		} else if (strcmp(argv[i], "--json") == 0) {
			m.json = true;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			return usage(stdout, 0);
		} else if (strcmp(argv[i], "-v") == 0) {
			log_set_verbose(true);
		} else {
			mailctl_error("unknown option %s", argv[i]);
			return usage(stderr, 2);
		}
	}
	if (i >= argc)
		return usage(stderr, 2);
	m.config_dir = program_config_dir(config_option);
	/* --json may also follow the command name. */
	int sub_argc = 0;
	char **sub_argv = calloc((size_t)(argc - i + 1), sizeof(char *));
	if (sub_argv == NULL)
		return 1;
	for (int j = i; j < argc; j++) {
		if (j > i && strcmp(argv[j], "--json") == 0)
			m.json = true;
		else
			sub_argv[sub_argc++] = argv[j];
	}
	for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
		if (strcmp(commands[k].name, sub_argv[0]) == 0) {
			int rc = commands[k].run(&m, sub_argc, sub_argv);
			free(sub_argv);
			return rc;
		}
	mailctl_error("unknown command \"%s\"", sub_argv[0]);
	free(sub_argv);
	return usage(stderr, 2);
}

/*
 * mailctl: the one administration command. Each group of subcommands lives
 * in its own file; main.c parses the common options and dispatches.
 */
#ifndef POSTERN_MAILCTL_MAILCTL_H
#define POSTERN_MAILCTL_MAILCTL_H

#include <stdbool.h>

struct mailctl {
	const char *config_dir;
	bool json;
};

/* Each returns the exit status. argv[0] is the subcommand name. */
int cmd_start(struct mailctl *m, int argc, char **argv);
int cmd_stop(struct mailctl *m, int argc, char **argv);
int cmd_reload(struct mailctl *m, int argc, char **argv);
int cmd_status(struct mailctl *m, int argc, char **argv);
int cmd_check(struct mailctl *m, int argc, char **argv);
int cmd_config(struct mailctl *m, int argc, char **argv);
/* config_edit.c: mailctl config -e (set) and -X (remove, when remove). */
int config_edit(struct mailctl *m, bool remove, char **args, int count);
int cmd_version(struct mailctl *m, int argc, char **argv);

/* Print "mailctl: message" to stderr. */
void mailctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif

/*
 * master.conf: one service per line,
 *
 *   name  type  private  unpriv  chroot  wakeup  maxproc  command [args...]
 *
 * '#' comments; a line starting with white space continues the previous
 * one; '-' in a column takes its default.
 *   name     inet: "port", "host:port" or "[v6]:port"; unix/pass: socket name
 *   type     inet | unix | pass
 *   private  y (socket in private/, default) | n (public/); inet: n or -
 *   unpriv   y (run as mail_owner, default) | n (run as root) | user[:group]
 *   chroot   n (default) | y (chroot to queue_directory) | an absolute path
 *   wakeup   0 or - (none) | seconds between wake-up requests from master
 *   maxproc  process limit; 0 means no limit; - is default_process_limit
 *   command  the program (relative to daemon_directory unless absolute),
 *            then its arguments; "-o name=value" overrides a main.conf value
 * Each error names file:line.
 */
#ifndef POSTERN_CONF_MASTERCONF_H
#define POSTERN_CONF_MASTERCONF_H

#include <stdbool.h>
#include <stddef.h>

#include "conf/diag.h"

enum service_type { SERVICE_INET, SERVICE_UNIX, SERVICE_PASS };

enum service_privilege {
	SERVICE_UNPRIV_DEFAULT, /* 'y' or '-': the mail_owner user */
	SERVICE_ROOT,           /* 'n': stays root (only when said so) */
	SERVICE_USER,           /* an explicit user[:group] in user_spec */
};

struct service_def {
	char *name;
	enum service_type type;
	bool private_socket;
	enum service_privilege privilege;
	char *user_spec;   /* SERVICE_USER only: "user" or "user:group" */
	bool chroot_queue; /* 'y': chroot to queue_directory */
	char *chroot_path; /* an explicit chroot directory, or NULL */
	int wakeup;        /* seconds; 0 = none */
	int max_proc;      /* 0 = no limit; -1 = default_process_limit */
	char **argv;       /* command and arguments, NULL-terminated */
	int argc;
	char *file; /* where it was defined */
	int line;
};

struct service_list {
	struct service_def *items;
	size_t count;
	size_t cap;
};

void service_list_init(struct service_list *list);
void service_list_free(struct service_list *list);

/* Parse master.conf text, appending services to list. 0, or -1 if any
 * error was added to diags (services from good lines are still added).
 * Duplicate name+type is an error. */
int masterconf_parse_text(const char *filename, const char *text, size_t len,
                          struct service_list *list, struct diag_list *diags);
int masterconf_load_file(const char *path, struct service_list *list, struct diag_list *diags);

const char *service_type_name(enum service_type type);
/* True if both entries describe the same service in every field but file/line. */
bool service_def_equal(const struct service_def *a, const struct service_def *b);
/* Deep copy. */
void service_def_copy(struct service_def *dst, const struct service_def *src);
void service_def_free(struct service_def *def);

#endif

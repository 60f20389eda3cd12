/*
 * Delivery to a command: a |command of an alias, .forward or :include:
 * file, or a system user's mailbox_command (mailbox_command.c). In a child
 * that already has the owner's privileges (child.c), the command runs in
 * its own process group, in the owner's home directory (or /), as Postfix
 * runs it: split at spaces and run directly when it has no character a
 * shell would treat specially (PLAIN_CHARS; one that is not found on the
 * PATH may be a shell builtin and goes to the shell), else as
 * "/bin/sh -c COMMAND". Its environment is only what local sets, as
 * Postfix's local sets it: PATH (_PATH_DEFPATH), HOME, USER, LOGNAME,
 * SHELL, SENDER, RECIPIENT, LOCAL, DOMAIN, and when they have a value
 * EXTENSION, ORIGINAL_RECIPIENT and the client's CLIENT_* and
 * SASL_USERNAME; in each value the characters not in
 * command_expansion_filter become '_'. It inherits no descriptor but its
 * standard input, output and error. Its standard input is the message
 * (a From_ line, Return-Path and Delivered-To, LF line ends); its output
 * (stdout and stderr) is kept, up to COMMAND_OUTPUT_KEEP bytes, for the reason.
 * The exit status is read as sysexits(3): 0 delivered; EX_TEMPFAIL and
 * EX_OSERR deferred; others bounced with the matching status code. A
 * command still running after command_time_limit is killed with its
 * process group and deferred; so is one that dies of a signal (the
 * running, output and exit codes are lib/mail/command_run's, shared with
 * the pipe agent). The command
 * is not started when qmgr has gone away (local_child_abandoned).
 */
#include <errno.h>
#include <paths.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "local/local.h"
#include "mail/command_run.h"
#include "mail/lf_lines.h"
#include "util/alloc.h"

struct command_job {
	const struct local_message *msg;
	const struct local_command *cmd;
	const struct local_headers *h;
};

/* The command's standard input, made ahead of time in LF form. */
struct command_input {
	struct str *text;
	struct lf_lines lf;
};

static int input_piece(void *arg, const char *data, size_t len, const char **error_r)
{
	(void)error_r;
	struct command_input *in = arg;
	lf_lines_put(&in->lf, data, len, in->text);
	return 0;
}

/* The environment of the command, as Postfix's local sets it. */
struct command_env {
	char **vars; /* NAME=value, NULL-terminated */
	size_t count;
	const char *filter;
};

/* Add NAME=value, unless value is NULL; characters of value not in the
 * filter become '_' (the value may come from the network). */
static void env_add(struct command_env *e, const char *name, const char *value)
{
	if (value == NULL)
		return;
	char *var = xasprintf("%s=%s", name, value);
	for (char *p = var + strlen(name) + 1; *(p += strspn(p, e->filter)) != '\0'; p++)
		*p = '_';
	e->vars = xreallocarray(e->vars, e->count + 2, sizeof(char *));
	e->vars[e->count++] = var;
	e->vars[e->count] = NULL;
}

static const char *nonempty(const char *s)
{
	return s && s[0] ? s : NULL;
}

static char **command_environment(const struct command_job *job, const char *home)
{
	const struct local_command *c = job->cmd;
	const struct queue_envelope *env = job->msg->env;
	struct command_env e = {.filter = c->filter ? c->filter : ""};
	e.vars = xcalloc(2, sizeof(char *));
	e.vars[e.count++] = xstrdup("PATH=" _PATH_DEFPATH);
	env_add(&e, "HOME", home);
	env_add(&e, "USER", c->user);
	env_add(&e, "LOGNAME", c->user);
	env_add(&e, "SHELL", c->shell);
	env_add(&e, "SENDER", job->h->return_path);
	env_add(&e, "RECIPIENT", c->rcpt->address);
	env_add(&e, "LOCAL", c->rcpt->local);
	env_add(&e, "DOMAIN", c->rcpt->domain);
	env_add(&e, "EXTENSION", nonempty(c->rcpt->extension));
	env_add(&e, "ORIGINAL_RECIPIENT", nonempty(c->rcpt->original));
	if (env != NULL) {
		env_add(&e, "CLIENT_HOSTNAME", nonempty(env->client_name));
		env_add(&e, "CLIENT_ADDRESS", nonempty(env->client_addr));
		env_add(&e, "CLIENT_HELO", nonempty(env->helo));
		env_add(&e, "CLIENT_PROTOCOL", nonempty(env->protocol));
		env_add(&e, "SASL_USERNAME", nonempty(env->auth_user));
	}
	return e.vars;
}

/* Characters of a command that can run without a shell (and space, tab). */
#define PLAIN_CHARS "0123456789!@%-_=+:,./abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ \t"

/* Run command directly when a shell would only split it into words. */
static void exec_plain(const char *command)
{
	if (command[strspn(command, PLAIN_CHARS)] != '\0' ||
	    command[strspn(command, " \t")] == '\0')
		return;
	char **argv = xcalloc(strlen(command) / 2 + 2, sizeof(char *));
	size_t n = 0;
	for (const char *p = command; *(p += strspn(p, " \t")) != '\0'; p += strcspn(p, " \t"))
		argv[n++] = xstrndup(p, strcspn(p, " \t"));
	execvp(argv[0], argv);
	/* not found on the PATH: perhaps a shell builtin ("exit 75") */
	if (errno != ENOENT || strchr(argv[0], '/') != NULL) {
		fprintf(stderr, "cannot execute %s: %s\n", argv[0], strerror(errno));
		_exit(EX_OSERR);
	}
}

/* In the command's process (command_run has set its descriptors). */
static void exec_command(void *arg)
{
	const struct command_job *job = arg;
	const struct local_command *c = job->cmd;
	const char *home = c->home && c->home[0] == '/' ? c->home : "/";
	if (chdir(home) != 0 && chdir("/") != 0)
		_exit(EX_OSERR);
	environ = command_environment(job, home);
	exec_plain(c->command);
	execl(_PATH_BSHELL, "sh", "-c", c->command, (char *)NULL);
	fprintf(stderr, "cannot execute %s: %s\n", _PATH_BSHELL, strerror(errno));
	_exit(EX_OSERR);
}

static void report_exit(int report_fd, const struct local_command *c, int wstatus, bool timed_out,
                        struct str *output)
{
	struct str text = STR_INIT;
	const char *state = "bounced", *status = "5.3.0";
	if (timed_out) {
		state = "deferred";
		status = "4.3.0";
		str_printf(&text, "command time limit of %llds exceeded: %s",
		           c->time_limit_ms / 1000, c->command);
	} else if (WIFSIGNALED(wstatus)) {
		state = "deferred";
		status = "4.3.0";
		str_printf(&text, "command died of signal %d: %s", WTERMSIG(wstatus), c->command);
	} else if (WEXITSTATUS(wstatus) == 0) {
		local_child_report(report_fd, "delivered", "2.0.0", "delivered to command");
		str_free(&text);
		return;
	} else {
		int code = WEXITSTATUS(wstatus);
		const char *name, *meaning;
		status = command_exit_status(code, &name, &meaning);
		if (status[0] == '4')
			state = "deferred";
		str_printf(&text, "command failed with exit status %d%s%s%s: %s", code,
		           name ? " (" : "", name ? name : "", name ? ")" : "", c->command);
	}
	if (output->len > 0)
		str_printf(&text, ": %s", str_cstr(output));
	local_child_report(report_fd, state, status, str_cstr(&text));
	str_free(&text);
}

static void command_child(void *arg, int report_fd)
{
	const struct command_job *job = arg;
	const struct local_command *c = job->cmd;
	struct str input = STR_INIT;
	const char *error = "";
	time_t now = time(NULL);
	struct tm tm;
	char date[64];
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", &tm);
	str_printf(&input, "From %s  %s\nReturn-Path: <%s>\nDelivered-To: %s\n",
	           job->h->return_path[0] ? job->h->return_path : "MAILER-DAEMON", date,
	           job->h->return_path, job->h->delivered_to);
	struct command_input ci = {.text = &input};
	lf_lines_init(&ci.lf);
	int copied = local_copy_content(job->msg, input_piece, &ci, &error);
	lf_lines_end(&ci.lf, &input);
	if (copied != 0) {
		char *text = xasprintf("cannot read queue file: %s", error);
		local_child_report(report_fd, "deferred", "4.3.0", text);
		free(text);
		str_free(&input);
		return;
	}
	if (local_child_abandoned(report_fd)) { /* a command cannot be undone */
		str_free(&input);
		return;
	}
	struct command_run run = {
	    .input = input.data,
	    .input_len = input.len,
	    .time_limit_ms = c->time_limit_ms,
	    .exec = exec_command,
	    .arg = (void *)job,
	};
	struct command_outcome outcome;
	if (command_run(&run, &outcome, &error) != 0) {
		local_child_report(report_fd, "deferred", "4.3.0", error);
		str_free(&input);
		return;
	}
	report_exit(report_fd, c, outcome.wstatus, outcome.timed_out, &outcome.output);
	str_free(&input);
	str_free(&outcome.output);
}

void local_deliver_command(const struct local_message *msg, const struct local_creds *creds,
                           const struct local_command *cmd, const struct local_headers *h,
                           struct local_result *result)
{
	if (local_verify_stop(msg, creds, result, "delivers to command: %s", cmd->command))
		return;
	struct command_job job = {msg, cmd, h};
	const char *error = "";
	/* The child enforces the limit; the parent's is a backstop. */
	struct ipc_rec *rec =
	    local_run_child(creds, cmd->time_limit_ms + 30000, command_child, &job, &error);
	local_child_result(rec, error, result);
	ipc_rec_free(rec);
}

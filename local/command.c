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
 * (stdout and stderr) is kept, up to OUTPUT_KEEP bytes, for the reason.
 * The exit status is read as sysexits(3): 0 delivered; EX_TEMPFAIL and
 * EX_OSERR deferred; others bounced with the matching status code. A
 * command still running after command_time_limit is killed with its
 * process group and deferred; so is one that dies of a signal. The command
 * is not started when qmgr has gone away (local_child_abandoned).
 */
#include <errno.h>
#include <fcntl.h>
#include <paths.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "local/local.h"
#include "mail/lf_lines.h"
#include "util/alloc.h"
#include "util/event.h"

#define OUTPUT_KEEP 1000

struct command_job {
	const struct local_message *msg;
	const struct local_command *cmd;
	const struct local_headers *h;
};

static const struct {
	int code;
	const char *name;
	const char *status; /* 4.x.x: deferred */
} sysexits_table[] = {
    {EX_USAGE, "EX_USAGE", "5.3.0"},       {EX_DATAERR, "EX_DATAERR", "5.6.0"},
    {EX_NOINPUT, "EX_NOINPUT", "5.3.0"},   {EX_NOUSER, "EX_NOUSER", "5.1.1"},
    {EX_NOHOST, "EX_NOHOST", "5.1.2"},     {EX_UNAVAILABLE, "EX_UNAVAILABLE", "5.3.0"},
    {EX_SOFTWARE, "EX_SOFTWARE", "5.3.0"}, {EX_OSERR, "EX_OSERR", "4.3.0"},
    {EX_OSFILE, "EX_OSFILE", "5.3.5"},     {EX_CANTCREAT, "EX_CANTCREAT", "5.2.0"},
    {EX_IOERR, "EX_IOERR", "5.3.0"},       {EX_TEMPFAIL, "EX_TEMPFAIL", "4.3.0"},
    {EX_PROTOCOL, "EX_PROTOCOL", "5.5.0"}, {EX_NOPERM, "EX_NOPERM", "5.7.0"},
    {EX_CONFIG, "EX_CONFIG", "5.3.5"},
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

static void exec_command(const struct command_job *job, int in_fd, int out_fd)
{
	const struct local_command *c = job->cmd;
	setpgid(0, 0);
	if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0)
		_exit(EX_OSERR);
	/* Nothing else of local's: not the qmgr connection (a command could
	 * write results into it), the queue file or the alias tables. Some
	 * of them are not close-on-exec, as children before exec use them. */
	if (close_range(3, ~0U, 0) != 0)
		_exit(EX_OSERR);
	signal(SIGPIPE, SIG_DFL);
	const char *home = c->home && c->home[0] == '/' ? c->home : "/";
	if (chdir(home) != 0 && chdir("/") != 0)
		_exit(EX_OSERR);
	environ = command_environment(job, home);
	exec_plain(c->command);
	execl(_PATH_BSHELL, "sh", "-c", c->command, (char *)NULL);
	fprintf(stderr, "cannot execute %s: %s\n", _PATH_BSHELL, strerror(errno));
	_exit(EX_OSERR);
}

/* Printable output for the reason. */
static void clean_output(struct str *out)
{
	size_t j = 0;
	for (size_t i = 0; i < out->len; i++) {
		char ch = out->data[i];
		if ((unsigned char)ch < 0x20 || ch == 0x7f)
			ch = ' ';
		if (ch == ' ' && (j == 0 || out->data[j - 1] == ' '))
			continue;
		out->data[j++] = ch;
	}
	while (j > 0 && out->data[j - 1] == ' ')
		j--;
	str_truncate(out, j);
}

static void report_exit(int report_fd, const struct local_command *c, int wstatus, bool timed_out,
                        struct str *output)
{
	clean_output(output);
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
		const char *name = NULL;
		for (size_t i = 0; i < sizeof(sysexits_table) / sizeof(sysexits_table[0]); i++)
			if (sysexits_table[i].code == code) {
				name = sysexits_table[i].name;
				status = sysexits_table[i].status;
			}
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
	struct str input = STR_INIT, output = STR_INIT;
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
	int in[2], out[2];
	if (pipe2(in, O_CLOEXEC) != 0) {
		local_child_report(report_fd, "deferred", "4.3.0", "cannot create pipe");
		str_free(&input);
		return;
	}
	if (pipe2(out, O_CLOEXEC) != 0) {
		close(in[0]);
		close(in[1]);
		local_child_report(report_fd, "deferred", "4.3.0", "cannot create pipe");
		str_free(&input);
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(report_fd);
		exec_command(job, in[0], out[1]);
	}
	close(in[0]);
	close(out[1]);
	if (pid < 0) {
		close(in[1]);
		close(out[0]);
		local_child_report(report_fd, "deferred", "4.3.0", "cannot fork command process");
		str_free(&input);
		return;
	}
	signal(SIGPIPE, SIG_IGN);
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	long long deadline = event_now_ms() + c->time_limit_ms;
	size_t written = 0;
	int in_fd = in[1], out_fd = out[0], wstatus = 0;
	bool exited = false, timed_out = false;
	while (!exited || out_fd >= 0) {
		long long left = deadline - event_now_ms();
		if (left <= 0) {
			timed_out = true;
			break;
		}
		if (in_fd >= 0 && written == input.len) {
			close(in_fd);
			in_fd = -1;
		}
		struct pollfd pfd[2] = {{.fd = out_fd, .events = POLLIN},
		                        {.fd = in_fd, .events = POLLOUT}};
		int n = poll(pfd, 2, exited ? 0 : (int)(left < 100 ? left : 100));
		if (n < 0 && errno != EINTR)
			break;
		if (out_fd >= 0 && (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			char buf[4096];
			ssize_t r = read(out_fd, buf, sizeof(buf));
			if (r > 0 && output.len < OUTPUT_KEEP)
				str_append(&output, buf,
				           (size_t)r < OUTPUT_KEEP - output.len
				               ? (size_t)r
				               : OUTPUT_KEEP - output.len);
			if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) {
				close(out_fd);
				out_fd = -1;
			}
		} else if (exited) {
			break; /* exited and nothing more to read right now */
		}
		if (in_fd >= 0 && (pfd[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t w = write(in_fd, input.data + written, input.len - written);
			if (w > 0)
				written += (size_t)w;
			else if (w < 0 && errno != EAGAIN && errno != EINTR) {
				close(in_fd); /* the command stopped reading: fine */
				in_fd = -1;
			}
		}
		if (!exited && waitpid(pid, &wstatus, WNOHANG) == pid)
			exited = true;
	}
	if (timed_out || !exited) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
			;
	}
	if (in_fd >= 0)
		close(in_fd);
	if (out_fd >= 0)
		close(out_fd);
	report_exit(report_fd, c, wstatus, timed_out, &output);
	str_free(&input);
	str_free(&output);
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

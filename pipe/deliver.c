/*
 * One delivery of the pipe agent: the recipients of a request go to one
 * run of the command (an argument with a per-recipient macro is repeated
 * per recipient; flags D and O want one recipient a request, as in
 * Postfix, else the mail is deferred with a configuration error). The
 * command runs as user= (never root, never mail_owner: refused and
 * deferred), with the user's group or the one given and no supplementary
 * groups, in directory= (default /), in its own process group, with the
 * environment PATH (_PATH_DEFPATH), HOME, USER, LOGNAME and SHELL (from
 * the user's password entry) and no other, and no descriptor of the
 * agent's but its standard input (the message, message.c), output and
 * error (kept for the reason). Outcome, as Postfix's pipe: exit 0
 * delivered (DSN "relayed", "delivered" with flag X); a sysexits code of
 * a temporary failure (EX_TEMPFAIL, EX_OSERR) deferred, any other
 * non-zero code bounced, with "Command died with status N: "COMMAND"" and
 * the command's output in the reason, and the status of the exit code
 * (5.3.0 for codes outside sysexits) unless the output starts with an
 * enhanced status code, whose detail is taken; a command killed by a
 * signal, or at the time limit, is deferred.
 */
#include <errno.h>
#include <grp.h>
#include <paths.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "mail/command_run.h"
#include "pipe/pipe.h"
#include "util/alloc.h"
#include "util/log.h"
#include "util/privs.h"

void pipe_result_set(struct pipe_result *r, const char *state, const char *status,
                     const char *reason)
{
	r->state = state;
	snprintf(r->status, sizeof(r->status), "%s", status);
	free(r->reason);
	r->reason = xstrdup(reason);
}

static void set_all(struct pipe_result *results, size_t count, const char *state,
                    const char *status, const char *reason)
{
	for (size_t i = 0; i < count; i++)
		pipe_result_set(&results[i], state, status, reason);
}

/* What the command's process needs after command_run set its descriptors. */
struct exec_job {
	char **argv;
	char **env;
	uid_t uid;
	gid_t gid;
	const char *directory;
};

static _Noreturn void exec_command(void *arg)
{
	const struct exec_job *job = arg;
	const char *error = "";
	if (privs_are_root() && privs_drop(job->uid, job->gid, NULL, false, &error) != 0) {
		fprintf(stderr, "cannot change to the command's user: %s\n", error);
		_exit(EX_TEMPFAIL);
	}
	if (chdir(job->directory) != 0) {
		fprintf(stderr, "cannot change to directory %s: %s\n", job->directory,
		        strerror(errno));
		_exit(EX_TEMPFAIL);
	}
	environ = job->env; /* execvp searches its PATH for a bare name */
	execvp(job->argv[0], job->argv);
	fprintf(stderr, "cannot execute %s: %s\n", job->argv[0], strerror(errno));
	_exit(errno == ENOENT ? EX_OSFILE : EX_TEMPFAIL);
}

static char **environment(const struct passwd *pw)
{
	char **env = xcalloc(6, sizeof(char *));
	env[0] = xstrdup("PATH=" _PATH_DEFPATH);
	env[1] = xasprintf("HOME=%s", pw->pw_dir);
	env[2] = xasprintf("USER=%s", pw->pw_name);
	env[3] = xasprintf("LOGNAME=%s", pw->pw_name);
	env[4] =
	    xasprintf("SHELL=%s", pw->pw_shell && pw->pw_shell[0] ? pw->pw_shell : _PATH_BSHELL);
	return env;
}

static void free_vector(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* The length of an enhanced status code at the start of text followed by a
 * space (or the end), else 0. */
static size_t status_code_len(const char *text)
{
	if ((text[0] != '2' && text[0] != '4' && text[0] != '5') || text[1] != '.')
		return 0;
	size_t i = 2;
	for (int part = 0; part < 2; part++) {
		size_t digits = 0;
		while (text[i + digits] >= '0' && text[i + digits] <= '9')
			digits++;
		if (digits == 0 || digits > 3)
			return 0;
		i += digits;
		if (part == 0 && text[i++] != '.')
			return 0;
	}
	return text[i] == ' ' || text[i] == '\0' ? i : 0;
}

/* The outcome of the command, for every recipient. */
static void report(const struct pipe_service *svc, const struct command_outcome *o,
                   const char *command, struct pipe_result *results, size_t count)
{
	struct str text = STR_INIT;
	const char *output = str_cstr(&o->output);
	if (o->timed_out) {
		str_printf(&text, "Command time limit exceeded: \"%s\"", command);
		set_all(results, count, "deferred", "4.3.0", str_cstr(&text));
	} else if (WIFSIGNALED(o->wstatus)) {
		str_printf(&text, "Command died with signal %d: \"%s\"", WTERMSIG(o->wstatus),
		           command);
		set_all(results, count, "deferred", "4.3.0", str_cstr(&text));
	} else if (WEXITSTATUS(o->wstatus) == 0) {
		str_printf(&text, "delivered via %s service", svc->name);
		if (o->output.len > 0)
			str_printf(&text, " (%s)", output);
		set_all(results, count, "delivered", "2.0.0", str_cstr(&text));
		for (size_t i = 0; i < count; i++)
			results[i].dsn =
			    (svc->args.flags & PIPE_FLAG_FINAL) ? "delivered" : "relayed";
	} else {
		int code = WEXITSTATUS(o->wstatus);
		const char *name, *meaning;
		char status[16];
		snprintf(status, sizeof(status), "%s", command_exit_status(code, &name, &meaning));
		size_t len = status_code_len(output);
		if (len > 0 && len < sizeof(status)) {
			/* the command's own detail, in the class of its exit status */
			char cls = status[0];
			snprintf(status, sizeof(status), "%c%.*s", cls, (int)len - 1, output + 1);
		}
		str_printf(&text, "Command died with status %d: \"%s\"", code, command);
		if (o->output.len > 0)
			str_printf(&text, ". Command output: %s", output);
		else if (meaning != NULL)
			str_printf(&text, " (%s)", meaning);
		set_all(results, count, status[0] == '4' ? "deferred" : "bounced", status,
		        str_cstr(&text));
	}
	str_free(&text);
}

/* The user to run as, or a reason (deferred) why not. */
static char *command_user(const struct pipe_service *svc, uid_t *uid_r, gid_t *gid_r,
                          struct passwd **pw_r)
{
	const char *error = "";
	if (privs_lookup(svc->args.user, uid_r, gid_r, &error) != 0)
		return xasprintf("service %s: user=%s: %s", svc->name, svc->args.user, error);
	if (*uid_r == 0)
		return xasprintf("service %s: user=%s: the command must not run as root", svc->name,
		                 svc->args.user);
	uid_t owner_uid;
	gid_t owner_gid;
	if (privs_are_root() &&
	    privs_lookup(svc->mail_owner, &owner_uid, &owner_gid, &error) == 0 &&
	    owner_uid == *uid_r)
		return xasprintf("service %s: user=%s: the command must not run as the mail "
		                 "owner (%s)",
		                 svc->name, svc->args.user, svc->mail_owner);
	*pw_r = getpwuid(*uid_r);
	if (*pw_r == NULL)
		return xasprintf("service %s: user=%s: no password entry for uid %ld", svc->name,
		                 svc->args.user, (long)*uid_r);
	return NULL;
}

void pipe_deliver(const struct pipe_service *svc, const struct pipe_message *msg,
                  const char *const *rcpts, const int64_t *indexes, size_t count,
                  struct pipe_result *results)
{
	const struct queue_envelope *env = msg->env;
	const char *queue_id = env->id;
	if (svc->problem != NULL) {
		char *text =
		    xasprintf("mail system configuration error: master.conf service %s: %s",
		              svc->name, svc->problem);
		log_warn("%s: %s", queue_id, text);
		set_all(results, count, "deferred", "4.3.5", text);
		free(text);
		return;
	}
	if (count > 1 && (svc->args.flags & (PIPE_FLAG_DELIVERED_TO | PIPE_FLAG_ORIGINAL_TO))) {
		char *text = xasprintf("mail system configuration error: service %s: flags D and O "
		                       "need %s_destination_recipient_limit = 1",
		                       svc->name, svc->name);
		log_warn("%s: %s", queue_id, text);
		set_all(results, count, "deferred", "4.3.5", text);
		free(text);
		return;
	}
	if (svc->args.size_limit > 0 && env->size > svc->args.size_limit) {
		set_all(results, count, "bounced", "5.2.3", "message file too big");
		return;
	}
	uid_t uid;
	gid_t gid;
	struct passwd *pw = NULL;
	char *refused = command_user(svc, &uid, &gid, &pw);
	if (refused != NULL) {
		log_warn("%s: %s", queue_id, refused);
		set_all(results, count, "deferred", "4.3.5", refused);
		free(refused);
		return;
	}
	struct pipe_recipient_values *rv = xcalloc(count, sizeof(*rv));
	const char *first_original = NULL;
	for (size_t i = 0; i < count; i++) {
		const struct queue_rcpt *qr = &env->rcpts[indexes[i]];
		const char *semi = qr->orcpt ? strchr(qr->orcpt, ';') : NULL;
		const char *original = semi && semi[1] ? semi + 1 : NULL;
		pipe_recipient_values(rcpts[i], original, svc->delimiter, svc->args.flags, &rv[i]);
		if (i == 0)
			first_original = original ? original : rcpts[0];
	}
	char size[32], port[16];
	snprintf(size, sizeof(size), "%lld", (long long)env->size);
	snprintf(port, sizeof(port), "%s", env->client_port ? env->client_port : "");
	struct pipe_message_values mv = {
	    .sender = env->sender,
	    .nexthop = msg->nexthop,
	    .queue_id = queue_id,
	    .size = size,
	    .client_address = env->client_addr,
	    .client_helo = env->helo,
	    .client_hostname = env->client_name,
	    .client_port = port,
	    .client_protocol = env->protocol,
	    .sasl_username = env->auth_user,
	};
	struct str error = STR_INIT, input = STR_INIT;
	char **argv = NULL;
	const char *why = "";
	if (pipe_argv_expand(&svc->args, &mv, rv, count, &argv, &error) != 0) {
		char *text = xasprintf("mail system configuration error: service %s: %s", svc->name,
		                       str_cstr(&error));
		log_warn("%s: %s", queue_id, text);
		set_all(results, count, "deferred", "4.3.5", text);
		free(text);
	} else if (pipe_message_input(svc, msg, count ? rcpts[0] : NULL, first_original, &input,
	                              &why) != 0) {
		char *text = xasprintf("cannot read queue file: %s", why);
		set_all(results, count, "deferred", "4.3.0", text);
		free(text);
	} else {
		struct exec_job job = {
		    .argv = argv,
		    .env = environment(pw),
		    .uid = uid,
		    .gid = gid,
		    .directory = svc->args.directory ? svc->args.directory : "/",
		};
		struct command_run run = {
		    .input = input.data,
		    .input_len = input.len,
		    .time_limit_ms = svc->time_limit_ms,
		    .exec = exec_command,
		    .arg = &job,
		};
		struct command_outcome outcome;
		if (command_run(&run, &outcome, &why) != 0)
			set_all(results, count, "deferred", "4.3.0", why);
		else
			report(svc, &outcome, argv[0], results, count);
		str_free(&outcome.output);
		free_vector(job.env);
	}
	free_vector(argv);
	str_free(&input);
	str_free(&error);
	for (size_t i = 0; i < count; i++)
		pipe_recipient_values_free(&rv[i]);
	free(rv);
}

/*
 * Running a delivery command, as local's |command and the pipe agent do:
 * the command is forked in its own process group with its standard input
 * the given bytes, its standard output and error one pipe whose first
 * bytes are kept (up to a bound, made printable for a reason), no other
 * descriptor of the caller's, and a time limit after which it is killed
 * with its process group. Its exit status reads as sysexits(3), as
 * Postfix's sys_exits table has it: 0 success; EX_TEMPFAIL and EX_OSERR
 * a temporary failure (4.3.0); the other sysexits codes a permanent one
 * with their own status; any other code a permanent 5.3.0.
 */
#ifndef POSTERN_MAIL_COMMAND_RUN_H
#define POSTERN_MAIL_COMMAND_RUN_H

#include <stdbool.h>
#include <stddef.h>

#include "util/str.h"

/* The output kept for a reason, in bytes. */
#define COMMAND_OUTPUT_KEEP 1000

struct command_run {
	const char *input; /* the command's standard input */
	size_t input_len;
	long long time_limit_ms;
	/* Called in the child once descriptors 0, 1 and 2 are set and all
	 * others closed, in its own process group, SIGPIPE default: sets up
	 * the rest (ids, directory, environment) and execs. Must not return
	 * (exit with EX_OSERR or EX_TEMPFAIL when something fails). */
	void (*exec)(void *arg);
	void *arg;
};

struct command_outcome {
	int wstatus;       /* as waitpid gave it */
	bool timed_out;    /* killed at the time limit */
	struct str output; /* stdout and stderr, printable, at most COMMAND_OUTPUT_KEEP */
};

/* Run the command and wait for it (the caller ignores SIGPIPE meanwhile
 * as it sees fit; this ignores it). 0 with *out filled (str_free its
 * output), or -1 with *error_r when it could not be started. */
int command_run(const struct command_run *run, struct command_outcome *out, const char **error_r);

/* What exit status code means: the DSN status ("4.x.x": temporary,
 * "5.x.x": permanent; "2.0.0" for 0), and for a sysexits code its name
 * (*name_r, "EX_TEMPFAIL") and its text (*text_r, "temporary failure"),
 * else NULL in both. */
const char *command_exit_status(int code, const char **name_r, const char **text_r);

#endif

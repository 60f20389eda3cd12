/*
 * Running a delivery command (command_run.h): fork, feed the input
 * without blocking while the output is read, kill the process group at
 * the time limit, and read the exit status as sysexits(3).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "mail/command_run.h"
#include "util/event.h"

static const struct {
	int code;
	const char *name;
	const char *status; /* 4.x.x: temporary */
	const char *text;
} sysexits_table[] = {
    {EX_USAGE, "EX_USAGE", "5.3.0", "command line usage error"},
    {EX_DATAERR, "EX_DATAERR", "5.6.0", "data format error"},
    {EX_NOINPUT, "EX_NOINPUT", "5.3.0", "cannot open input"},
    {EX_NOUSER, "EX_NOUSER", "5.1.1", "user unknown"},
    {EX_NOHOST, "EX_NOHOST", "5.1.2", "host name unknown"},
    {EX_UNAVAILABLE, "EX_UNAVAILABLE", "5.3.0", "service unavailable"},
    {EX_SOFTWARE, "EX_SOFTWARE", "5.3.0", "internal software error"},
    {EX_OSERR, "EX_OSERR", "4.3.0", "system resource problem"},
    {EX_OSFILE, "EX_OSFILE", "5.3.5", "critical OS file missing"},
    {EX_CANTCREAT, "EX_CANTCREAT", "5.2.0", "can't create user output file"},
    {EX_IOERR, "EX_IOERR", "5.3.0", "input/output error"},
    {EX_TEMPFAIL, "EX_TEMPFAIL", "4.3.0", "temporary failure"},
    {EX_PROTOCOL, "EX_PROTOCOL", "5.5.0", "remote error in protocol"},
    {EX_NOPERM, "EX_NOPERM", "5.7.0", "permission denied"},
    {EX_CONFIG, "EX_CONFIG", "5.3.5", "local configuration error"},
};

const char *command_exit_status(int code, const char **name_r, const char **text_r)
{
	*name_r = NULL;
	*text_r = NULL;
	if (code == 0)
		return "2.0.0";
	for (size_t i = 0; i < sizeof(sysexits_table) / sizeof(sysexits_table[0]); i++)
		if (sysexits_table[i].code == code) {
			*name_r = sysexits_table[i].name;
			*text_r = sysexits_table[i].text;
			return sysexits_table[i].status;
		}
	return "5.3.0";
}

/* Printable output for a reason: controls become spaces, runs of spaces
 * one, none at the ends. */
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

static _Noreturn void child(const struct command_run *run, int in_fd, int out_fd)
{
	setpgid(0, 0);
	if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0)
		_exit(EX_OSERR);
	/* Nothing else of the caller's: not its connection to qmgr (a
	 * command could write results into it), the queue file or tables.
	 * Some of them are not close-on-exec. */
	if (close_range(3, ~0U, 0) != 0)
		_exit(EX_OSERR);
	signal(SIGPIPE, SIG_DFL);
	run->exec(run->arg);
	_exit(EX_OSERR);
}

/* Feed input, collect output, until the command has exited and its
 * output is closed, or the deadline. */
static void supervise(const struct command_run *run, pid_t pid, int in_fd, int out_fd,
                      struct command_outcome *out)
{
	long long deadline = event_now_ms() + run->time_limit_ms;
	size_t written = 0;
	bool exited = false;
	while (!exited || out_fd >= 0) {
		long long left = deadline - event_now_ms();
		if (left <= 0) {
			out->timed_out = true;
			break;
		}
		if (in_fd >= 0 && written == run->input_len) {
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
			size_t room = COMMAND_OUTPUT_KEEP - out->output.len;
			if (r > 0 && room > 0)
				str_append(&out->output, buf, (size_t)r < room ? (size_t)r : room);
			if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) {
				close(out_fd);
				out_fd = -1;
			}
		} else if (exited) {
			break; /* exited and nothing more to read right now */
		}
		if (in_fd >= 0 && (pfd[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t w = write(in_fd, run->input + written, run->input_len - written);
			if (w > 0)
				written += (size_t)w;
			else if (w < 0 && errno != EAGAIN && errno != EINTR) {
				close(in_fd); /* the command stopped reading: fine */
				in_fd = -1;
			}
		}
		if (!exited && waitpid(pid, &out->wstatus, WNOHANG) == pid)
			exited = true;
	}
	if (out->timed_out || !exited) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		while (waitpid(pid, &out->wstatus, 0) < 0 && errno == EINTR)
			;
	}
	if (in_fd >= 0)
		close(in_fd);
	if (out_fd >= 0)
		close(out_fd);
}

int command_run(const struct command_run *run, struct command_outcome *out, const char **error_r)
{
	*out = (struct command_outcome){.output = STR_INIT};
	int in[2], outp[2];
	if (pipe2(in, O_CLOEXEC) != 0) {
		*error_r = "cannot create pipe";
		return -1;
	}
	if (pipe2(outp, O_CLOEXEC) != 0) {
		close(in[0]);
		close(in[1]);
		*error_r = "cannot create pipe";
		return -1;
	}
	pid_t pid = fork();
	if (pid == 0)
		child(run, in[0], outp[1]);
	close(in[0]);
	close(outp[1]);
	if (pid < 0) {
		close(in[1]);
		close(outp[0]);
		*error_r = "cannot fork command process";
		return -1;
	}
	signal(SIGPIPE, SIG_IGN);
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	supervise(run, pid, in[1], outp[0], out);
	clean_output(&out->output);
	return 0;
}

/*
 * Handing a message to postdrop, the set-gid helper that writes it into
 * maildrop/: sendmail runs it with a pipe on its standard input, writes the
 * drop file there and waits for its verdict. postdrop checks everything
 * again and stamps the real uid itself, so nothing here is trusted.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>
#include <zlib.h>

#include "sendmail/sendmail.h"
#include "util/alloc.h"

void sendmail_fatal(int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("sendmail: fatal: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(status);
}

void sendmail_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("sendmail: warning: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static bool executable(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

static char *in_dir_of(const char *path, const char *name)
{
	const char *slash = strrchr(path, '/');
	if (slash == NULL)
		return NULL;
	char *candidate = xasprintf("%.*s/%s", (int)(slash - path), path, name);
	if (executable(candidate))
		return candidate;
	free(candidate);
	return NULL;
}

char *find_program(const char *argv0, const char *name, const char *dir)
{
	/* Next to the name we were run by (the build tree, or a symlink such
	 * as mailq), next to the real executable, then the configured place. */
	char *found = argv0 ? in_dir_of(argv0, name) : NULL;
	if (found)
		return found;
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		if ((found = in_dir_of(self, name)) != NULL)
			return found;
	}
	char *candidate = xasprintf("%s/%s", dir, name);
	if (executable(candidate))
		return candidate;
	free(candidate);
	return NULL;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Start postdrop with extra (NULL or one option) and a pipe on its stdin.
 * Returns the pid and the pipe's write end in *fd_r, or exits. */
static pid_t start_postdrop(const struct sendmail *sm, const char *extra, int *fd_r)
{
	char *path = xasprintf("%s/postdrop", conf_get(sm->conf, "daemon_directory"));
	if (!executable(path))
		sendmail_fatal(EX_UNAVAILABLE, "cannot run %s: %s (is daemon_directory right?)",
		               path, strerror(errno ? errno : ENOENT));
	char *argv[6];
	int argc = 0;
	argv[argc++] = "postdrop";
	if (!sm->config_is_default) {
		argv[argc++] = "-c";
		argv[argc++] = (char *)sm->config_dir;
	}
	if (extra)
		argv[argc++] = (char *)extra;
	argv[argc] = NULL;
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) != 0)
		sendmail_fatal(EX_OSERR, "pipe: %s", strerror(errno));
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		sendmail_fatal(EX_OSERR, "fork: %s", strerror(errno));
	if (pid == 0) {
		/* postdrop talks only on stderr; stdout may be an SMTP session. */
		int devnull = open("/dev/null", O_WRONLY);
		if (dup2(fds[0], STDIN_FILENO) < 0 || devnull < 0 ||
		    dup2(devnull, STDOUT_FILENO) < 0)
			_exit(EX_OSERR);
		char *envp[] = {NULL};
		execve(path, argv, envp);
		fprintf(stderr, "sendmail: fatal: exec %s: %s\n", path, strerror(errno));
		_exit(EX_UNAVAILABLE);
	}
	free(path);
	close(fds[0]);
	*fd_r = fds[1];
	return pid;
}

/* Wait for postdrop; its exit status (it has said why if it failed). */
static int wait_postdrop(pid_t pid)
{
	int status;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			sendmail_warn("waitpid: %s", strerror(errno));
			return EX_OSERR;
		}
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	sendmail_warn("postdrop was killed by signal %d", WTERMSIG(status));
	return EX_SOFTWARE;
}

int submit_message(const struct sendmail *sm, const struct drop_envelope *env,
                   const struct str *content)
{
	const char *error;
	if (drop_envelope_check(env, &error) != 0) {
		sendmail_warn("cannot submit this message: %s", error);
		return EX_DATAERR;
	}
	signal(SIGPIPE, SIG_IGN);
	int fd;
	pid_t pid = start_postdrop(sm, NULL, &fd);
	struct str head = STR_INIT, tail = STR_INIT;
	drop_encode_head(env, (int64_t)content->len, &head);
	uLong crc = crc32_z(crc32(0L, Z_NULL, 0), (const Bytef *)content->data, content->len);
	drop_encode_tail((uint32_t)crc, &tail);
	/* A write error means postdrop stopped reading: its status says why. */
	bool sent = write_all(fd, head.data, head.len) == 0 &&
	            write_all(fd, content->data, content->len) == 0 &&
	            write_all(fd, tail.data, tail.len) == 0;
	int saved = errno;
	close(fd);
	str_free(&head);
	str_free(&tail);
	int status = wait_postdrop(pid);
	if (status == EX_OK && !sent) {
		sendmail_warn("write to postdrop: %s", strerror(saved));
		status = EX_IOERR;
	}
	if (status != EX_OK)
		sendmail_warn("message not sent: postdrop exited with status %d", status);
	else if (sm->verbose)
		fprintf(stderr, "sendmail: message of %zu bytes for %zu recipient%s dropped\n",
		        content->len, env->rcpt_count, env->rcpt_count == 1 ? "" : "s");
	return status;
}

int submit_flush(const struct sendmail *sm)
{
	int fd;
	pid_t pid = start_postdrop(sm, "-q", &fd);
	close(fd);
	return wait_postdrop(pid);
}

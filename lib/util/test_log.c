/* Unit tests for util/log: the line format written to a log file, and the
 * pid in it, which log.c caches: a forked child (before or after the
 * parent first logged) must log its own pid, never its parent's. */
#include "util/log.h"
#include "util/testing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char log_path[512];

/* The pid in the first line of the log file that contains marker, or -1. */
static long pid_of_line(const char *marker)
{
	FILE *f = fopen(log_path, "r");
	if (f == NULL)
		return -1;
	char line[512];
	long pid = -1;
	while (pid < 0 && fgets(line, sizeof(line), f) != NULL) {
		if (strstr(line, marker) == NULL)
			continue;
		const char *open = strstr(line, "postern/test_log[");
		if (open != NULL)
			pid = strtol(open + strlen("postern/test_log["), NULL, 10);
	}
	fclose(f);
	return pid;
}

/* Fork a child that logs marker and exits; its pid. */
static pid_t child_logs(const char *marker)
{
	pid_t pid = fork();
	if (pid == 0) {
		log_info("%s", marker);
		_exit(0);
	}
	CHECK(pid > 0);
	int status = 0;
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	return pid;
}

TEST(line_format)
{
	log_warn("format check %d", 42);
	FILE *f = fopen(log_path, "r");
	CHECK(f != NULL);
	if (f == NULL)
		return;
	char line[512];
	bool found = false;
	while (!found && fgets(line, sizeof(line), f) != NULL)
		found = strstr(line, "]: warning: format check 42\n") != NULL;
	fclose(f);
	CHECK(found);
	CHECK(pid_of_line("format check 42") == (long)getpid());
}

TEST(child_before_parent_logged)
{
	/* The first line of this process comes from the child. */
	pid_t pid = child_logs("child-first");
	CHECK(pid_of_line("child-first") == (long)pid);
	log_info("parent-after-child");
	CHECK(pid_of_line("parent-after-child") == (long)getpid());
}

TEST(child_after_parent_logged)
{
	log_info("parent-first");
	CHECK(pid_of_line("parent-first") == (long)getpid());
	pid_t pid = child_logs("child-second");
	CHECK(pid != getpid());
	CHECK(pid_of_line("child-second") == (long)pid);
	/* A grandchild too. */
	pid_t child = fork();
	if (child == 0) {
		log_info("child-again");
		pid_t grandchild = fork();
		if (grandchild == 0) {
			log_info("grandchild %ld", (long)getpid());
			_exit(0);
		}
		int status = 0;
		_exit(waitpid(grandchild, &status, 0) == grandchild && WIFEXITED(status) ? 0 : 1);
	}
	int status = 0;
	CHECK(waitpid(child, &status, 0) == child);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(pid_of_line("child-again") == (long)child);
	long grandchild = pid_of_line("grandchild ");
	CHECK(grandchild > 0 && grandchild != (long)child && grandchild != (long)getpid());
	char marker[64];
	snprintf(marker, sizeof(marker), "grandchild %ld", grandchild);
	CHECK(pid_of_line(marker) == grandchild);
	log_info("parent-last");
	CHECK(pid_of_line("parent-last") == (long)getpid());
}

int main(void)
{
	const char *tmpdir = getenv("TMPDIR");
	snprintf(log_path, sizeof(log_path), "%s/test_log.XXXXXX", tmpdir ? tmpdir : "/tmp");
	int fd = mkstemp(log_path);
	if (fd < 0) {
		perror("mkstemp");
		return 1;
	}
	close(fd);
	log_init("test_log");
	if (log_to_file(log_path) != 0) {
		perror("log_to_file");
		return 1;
	}
	/* Before any line: the first fork happens with nothing cached yet. */
	RUN(child_before_parent_logged);
	RUN(line_format);
	RUN(child_after_parent_logged);
	unlink(log_path);
	return TESTING_DONE();
}

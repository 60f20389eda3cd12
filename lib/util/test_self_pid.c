/*
 * Unit tests for util/self_pid: the cached id is the process's own, also
 * in a forked child (and its child) after the parent cached its own.
 */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/self_pid.h"
#include "util/testing.h"

TEST(own_and_forked)
{
	CHECK(self_pid() == getpid());
	CHECK(self_pid() == getpid()); /* from the cache */
	pid_t child = fork();
	if (child == 0) {
		if (self_pid() != getpid())
			_exit(1);
		pid_t grandchild = fork();
		if (grandchild == 0)
			_exit(self_pid() == getpid() ? 0 : 1);
		int status = 0;
		if (grandchild < 0 || waitpid(grandchild, &status, 0) != grandchild ||
		    !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			_exit(1);
		_exit(self_pid() == getpid() ? 0 : 1);
	}
	CHECK(child > 0);
	int status = 0;
	CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(self_pid() == getpid());
}

int main(void)
{
	RUN(own_and_forked);
	return TESTING_DONE();
}

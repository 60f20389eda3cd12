/* Unit tests for util/privs: user and group look-ups, the refusal to run as
 * root, and (when run as root) real privilege drops and chroots, each done
 * in a child process that reports through its exit status. */
#include "util/privs.h"
#include "util/testing.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NOBODY_ID 65534

TEST(lookup)
{
	uid_t uid = 1;
	gid_t gid = 1;
	const char *error = NULL;
	CHECK(privs_lookup("root", &uid, &gid, &error) == 0);
	CHECK(uid == 0 && gid == 0);
	uid = gid = 1;
	CHECK(privs_lookup("0", &uid, &gid, &error) == 0);
	CHECK(uid == 0 && gid == 0);
	CHECK(privs_lookup("nobody", &uid, &gid, &error) == 0);
	CHECK(uid == NOBODY_ID);
	/* A group by name or number overrides the primary group. */
	CHECK(privs_lookup("root:nogroup", &uid, &gid, &error) == 0);
	CHECK(uid == 0 && gid == NOBODY_ID);
	CHECK(privs_lookup("nobody:0", &uid, &gid, &error) == 0);
	CHECK(uid == NOBODY_ID && gid == 0);
	/* A numeric uid without a passwd entry needs a group. */
	CHECK(privs_lookup("54321:54322", &uid, &gid, &error) == 0);
	CHECK(uid == 54321 && gid == 54322);
	error = NULL;
	CHECK(privs_lookup("54321", &uid, &gid, &error) == -1);
	CHECK(error != NULL && strstr(error, "54321") != NULL);
}

TEST(lookup_errors)
{
	uid_t uid = 7;
	gid_t gid = 7;
	const char *error = NULL;
	CHECK(privs_lookup("no-such-user-xyzzy", &uid, &gid, &error) == -1);
	CHECK_STR(error, "unknown user no-such-user-xyzzy");
	CHECK(uid == 7 && gid == 7); /* untouched on failure */
	CHECK(privs_lookup("root:no-such-group-xyzzy", &uid, &gid, &error) == -1);
	CHECK_STR(error, "unknown group no-such-group-xyzzy");
	CHECK(uid == 7 && gid == 7);
	error = NULL;
	CHECK(privs_lookup("", &uid, &gid, &error) == -1);
	CHECK(error != NULL);
	error = NULL;
	CHECK(privs_lookup("root:", &uid, &gid, &error) == -1);
	CHECK(error != NULL);
	error = NULL;
	CHECK(privs_lookup(":root", &uid, &gid, &error) == -1);
	CHECK(error != NULL);
	/* Not a valid id: out of range, or (uid_t)-1. */
	CHECK(privs_lookup("99999999999999999999", &uid, &gid, &error) == -1);
	CHECK(privs_lookup("4294967295:0", &uid, &gid, &error) == -1);
	CHECK(privs_lookup("12x:0", &uid, &gid, &error) == -1);
	CHECK(privs_lookup("-1:0", &uid, &gid, &error) == -1);
	CHECK(uid == 7 && gid == 7);
}

TEST(refuses_root)
{
	const char *error = NULL;
	CHECK(privs_drop(0, 0, NULL, false, &error) == -1);
	CHECK(error != NULL && strstr(error, "root") != NULL);
	error = NULL;
	CHECK(privs_drop(0, NOBODY_ID, "", false, &error) == -1);
	CHECK(error != NULL);
	/* Nothing was changed. */
	CHECK(privs_are_root() == (geteuid() == 0));
}

TEST(chroot_missing_dir)
{
	/* Fails at the first step (chdir), so nothing changes in this process. */
	const char *error = NULL;
	CHECK(privs_drop(NOBODY_ID, NOBODY_ID, "/nonexistent-postern-dir", false, &error) == -1);
	CHECK_STR(error, "chroot /nonexistent-postern-dir: No such file or directory");
}

/* Run fn in a child; its exit status is the number of the failed step. */
static int in_child(int (*fn)(const char *), const char *arg)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0)
		_exit(fn(arg));
	int status;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	if (WEXITSTATUS(status) != 0)
		fprintf(stderr, "child failed at step %d\n", WEXITSTATUS(status));
	return WEXITSTATUS(status);
}

/* The values of a /proc/self/status line ("Uid:", "Gid:", "Groups:"),
 * as numbers; returns how many. */
static int status_ids(const char *key, unsigned long *ids, int max)
{
	FILE *fp = fopen("/proc/self/status", "r");
	if (fp == NULL)
		return -1;
	char line[512];
	int n = -1;
	size_t key_len = strlen(key);
	while (fgets(line, sizeof(line), fp)) {
		if (strncmp(line, key, key_len) != 0)
			continue;
		n = 0;
		char *p = line + key_len, *end;
		for (;;) {
			unsigned long v = strtoul(p, &end, 10);
			if (end == p || n == max)
				break;
			ids[n++] = v;
			p = end;
		}
		break;
	}
	fclose(fp);
	return n;
}

static bool all_equal(const unsigned long *ids, int n, unsigned long want)
{
	for (int i = 0; i < n; i++)
		if (ids[i] != want)
			return false;
	return true;
}

static int drop_to_nobody(const char *chroot_dir)
{
	const char *error = NULL;
	if (privs_drop(NOBODY_ID, NOBODY_ID, chroot_dir, false, &error) != 0) {
		fprintf(stderr, "privs_drop: %s\n", error);
		return 1;
	}
	return 0;
}

/* Checks after the drop; the exit status names the failed step. */
static int child_drop(const char *unused)
{
	(void)unused;
	if (drop_to_nobody(NULL) != 0)
		return 1;
	unsigned long ids[8];
	/* Real, effective, saved and file-system ids. */
	if (status_ids("Uid:", ids, 8) != 4 || !all_equal(ids, 4, NOBODY_ID))
		return 2;
	if (status_ids("Gid:", ids, 8) != 4 || !all_equal(ids, 4, NOBODY_ID))
		return 3;
	int n = status_ids("Groups:", ids, 8);
	if (n < 0 || n > 1 || !all_equal(ids, n, NOBODY_ID))
		return 4;
	if (setuid(0) == 0 || errno != EPERM)
		return 5;
	if (seteuid(0) == 0 || setgid(0) == 0)
		return 6;
	if (privs_are_root())
		return 7;
	return 0;
}

static int child_chroot(const char *dir)
{
	if (access("/etc/passwd", F_OK) != 0)
		return 10; /* the test itself needs it to be there before */
	if (drop_to_nobody(dir) != 0)
		return 1;
	if (access("/etc/passwd", F_OK) == 0 || errno != ENOENT)
		return 2;
	char cwd[256];
	if (getcwd(cwd, sizeof(cwd)) == NULL || strcmp(cwd, "/") != 0)
		return 3;
	if (chroot("/") == 0)
		return 4; /* root is gone, so no way out either */
	return 0;
}

static int child_stay_root(const char *unused)
{
	(void)unused;
	const char *error = NULL;
	if (privs_drop(0, 0, "", true, &error) != 0) {
		fprintf(stderr, "privs_drop as root: %s\n", error);
		return 1;
	}
	unsigned long ids[8];
	int n = status_ids("Groups:", ids, 8);
	if (n < 0 || n > 1 || !all_equal(ids, n, 0))
		return 2;
	return privs_are_root() ? 0 : 3;
}

TEST(drop_as_root)
{
	if (geteuid() != 0) {
		printf("note: not root, skipping the real privilege drop tests\n");
		return;
	}
	CHECK(in_child(child_drop, NULL) == 0);
	CHECK(in_child(child_stay_root, NULL) == 0);

	char dir[] = "/tmp/test_privs.XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	CHECK(chmod(dir, 0755) == 0); /* so that nobody can look inside */
	CHECK(in_child(child_chroot, dir) == 0);
	CHECK(rmdir(dir) == 0);
	CHECK(privs_are_root()); /* the parent kept its privileges */
}

static int child_not_root(const char *unused)
{
	(void)unused;
	const char *error = NULL;
	if (privs_drop(NOBODY_ID, NOBODY_ID, NULL, false, &error) != 0)
		return 1;
	/* Now unprivileged: a second drop to another user must fail. */
	error = NULL;
	if (privs_drop(NOBODY_ID - 1, NOBODY_ID - 1, NULL, false, &error) != -1)
		return 2;
	if (error == NULL || strncmp(error, "setgroups", 9) != 0)
		return 3;
	return 0;
}

TEST(drop_without_root_fails)
{
	if (geteuid() != 0) {
		const char *error = NULL;
		CHECK(privs_drop(NOBODY_ID, NOBODY_ID, NULL, false, &error) == -1);
		CHECK(error != NULL);
		return;
	}
	CHECK(in_child(child_not_root, NULL) == 0);
}

int main(void)
{
	RUN(lookup);
	RUN(lookup_errors);
	RUN(refuses_root);
	RUN(chroot_missing_dir);
	RUN(drop_as_root);
	RUN(drop_without_root_fails);
	return TESTING_DONE();
}

/*
 * A minimal unit-test harness for lib/ tests (test_*.c). Each test file
 * defines its cases with TEST(name) and lists them in main() with
 * RUN(name); a failed CHECK prints file:line and marks the run failed.
 * The program exits non-zero if any check failed.
 */
#ifndef POSTERN_UTIL_TESTING_H
#define POSTERN_UTIL_TESTING_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int testing_failures;
static int testing_checks;

#define TEST(name) static void test_##name(void)

#define RUN(name)                                                                                  \
	do {                                                                                       \
		int before_ = testing_failures;                                                    \
		test_##name();                                                                     \
		printf("%s %s\n", testing_failures == before_ ? "ok  " : "FAIL", #name);           \
	} while (0)

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		testing_checks++;                                                                  \
		if (!(cond)) {                                                                     \
			testing_failures++;                                                        \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
		}                                                                                  \
	} while (0)

#define CHECK_STR(a, b)                                                                            \
	do {                                                                                       \
		const char *a_ = (a), *b_ = (b);                                                   \
		testing_checks++;                                                                  \
		if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) {                             \
			testing_failures++;                                                        \
			fprintf(stderr, "%s:%d: \"%s\" != \"%s\"\n", __FILE__, __LINE__,           \
			        a_ ? a_ : "(null)", b_ ? b_ : "(null)");                           \
		}                                                                                  \
	} while (0)

#define TESTING_DONE()                                                                             \
	(printf("%d checks, %d failed\n", testing_checks, testing_failures),                       \
	 testing_failures == 0 && testing_checks > 0 ? 0 : 1)

/* As root, where mkfs.ext4 and loop devices exist: a fresh ext4 with a
 * journal (the default), mounted on a new directory that dir (64 bytes)
 * receives; true if it is there. For code that behaves differently on
 * such a file system; testing_unmount_ext4 removes it. */
static inline bool testing_mount_ext4(char *dir)
{
	if (geteuid() != 0)
		return false;
	snprintf(dir, 64, "/tmp/postern-ext4.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return false;
	char cmd[512];
	snprintf(cmd, sizeof(cmd),
	         "truncate -s 32M %s.img && mkfs.ext4 -q -F %s.img >/dev/null 2>&1 && "
	         "mount -o loop %s.img %s 2>/dev/null",
	         dir, dir, dir, dir);
	if (system(cmd) == 0)
		return true;
	snprintf(cmd, sizeof(cmd), "rm -f %s.img; rmdir %s", dir, dir);
	(void)system(cmd);
	return false;
}

static inline void testing_unmount_ext4(const char *dir)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "umount %s || umount -l %s; rm -f %s.img; rmdir %s", dir, dir,
	         dir, dir);
	(void)system(cmd);
}

#endif

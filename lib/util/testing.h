/*
 * A minimal unit-test harness for lib/ tests (test_*.c). Each test file
 * defines its cases with TEST(name) and lists them in main() with
 * RUN(name); a failed CHECK prints file:line and marks the run failed.
 * The program exits non-zero if any check failed.
 */
#ifndef POSTERN_UTIL_TESTING_H
#define POSTERN_UTIL_TESTING_H

#include <stdio.h>
#include <string.h>

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

#endif

/* Fuzz target: regexp: tables (regexp_table(5)). The first line of the
 * input is the key, the rest the table file. Checks what the table
 * promises: an open either succeeds or fails with "PATH, line N: ...",
 * a look-up answers 0 or 1 and leaves the value empty when nothing
 * matched, and nothing leaks or crashes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "table/table.h"
#include "util/str.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[] = "/tmp/postern-fuzz-regexp-XXXXXX";
static int fd = -1;

static void remove_file(void)
{
	unlink(path);
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Whether the source asks glibc for more than a fuzz run can afford: a
 * bounded repetition ({n,m}) expands into n copies at compile time, so
 * nested large counts take exponential memory, and back references make
 * matching exponential. The file is trusted configuration; the cost of
 * such patterns is glibc's, not the parser's. */
static bool too_costly(const char *source, size_t len)
{
	size_t braces = 0;
	for (size_t i = 0; i < len; i++) {
		if (source[i] == '{' && ++braces > 2)
			return true;
		if (source[i] == '\\' && i + 1 < len && is_digit(source[i + 1]))
			return true;
		if ((source[i] == '{' || source[i] == ',') && i + 3 < len &&
		    is_digit(source[i + 1]) && is_digit(source[i + 2]) && is_digit(source[i + 3]))
			return true; /* a repetition count of three digits or more */
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (fd < 0) {
		fd = mkstemp(path);
		if (fd < 0)
			abort();
		atexit(remove_file);
	}
	const char *text = (const char *)data;
	const char *nl = memchr(text, '\n', size);
	if (nl == NULL)
		return 0;
	size_t key_len = (size_t)(nl - text);
	const char *source = nl + 1;
	size_t source_len = size - key_len - 1;
	if (key_len > 4096 || memchr(text, '\0', key_len) != NULL || too_costly(source, source_len))
		return 0;
	if (ftruncate(fd, 0) != 0 || pwrite(fd, source, source_len, 0) != (ssize_t)source_len)
		abort();
	char key[4097];
	memcpy(key, text, key_len);
	key[key_len] = '\0';

	char spec[sizeof(path) + 8];
	snprintf(spec, sizeof(spec), "regexp:%s", path);
	const char *error = NULL;
	struct table *t = table_open(spec, &error);
	if (t == NULL) {
		if (error == NULL || strncmp(error, path, strlen(path)) != 0 ||
		    strncmp(error + strlen(path), ", line ", 7) != 0)
			abort();
		return 0;
	}
	struct str value = STR_INIT;
	int rc = table_lookup(t, key, &value, &error);
	if (rc != 0 && rc != 1)
		abort();
	if (rc == 0 && value.len != 0)
		abort(); /* not found leaves the value alone */
	str_free(&value);
	table_close(t);
	return 0;
}

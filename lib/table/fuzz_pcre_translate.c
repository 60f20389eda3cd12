/* Fuzz target: the PCRE → POSIX ERE translation behind pcre: tables
 * (pcre_translate.h). The first byte is the flags, the rest the pattern.
 * Checks what the translation promises: it succeeds or fails with a
 * message; a translation that succeeds is an ERE glibc compiles (unless
 * the regexp table's own complexity limits would refuse it first), with
 * a capture map into its groups; and nothing leaks or crashes. */
#include <regex.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "table/pcre_translate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether glibc's regcomp would take too long over the ERE: repetition
 * counts multiply its work (the table refuses such patterns anyway). */
static bool too_costly(const char *ere)
{
	size_t braces = 0, groups = 0;
	for (const char *c = ere; *c; c++) {
		if (*c == '{' && (c == ere || c[-1] != '\\') && ++braces > 2)
			return true;
		if (*c == '(' && (c == ere || c[-1] != '\\') && ++groups > 40)
			return true;
		if (*c >= '0' && *c <= '9' && c[1] >= '0' && c[1] <= '9' && c[2] >= '0' &&
		    c[2] <= '9')
			return true;
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 2048)
		return 0;
	char *pattern = malloc(size);
	if (pattern == NULL)
		abort();
	memcpy(pattern, data + 1, size - 1);
	pattern[size - 1] = '\0';
	struct pcre_translation tr;
	const char *error = NULL;
	int rc = pcre_translate(pattern, data[0], &tr, &error);
	if (rc != 0) {
		if (rc != -1 || error == NULL || *error == '\0' || error != tr.error)
			abort();
	} else {
		if (tr.capture_count < 0 || (tr.capture_count > 0 && tr.group_map == NULL))
			abort();
		for (int n = 1; n <= tr.capture_count; n++)
			if (tr.group_map[n] < n ||
			    (n > 1 && tr.group_map[n] <= tr.group_map[n - 1]))
				abort();
		const char *ere = str_cstr(&tr.ere);
		if (strlen(ere) == tr.ere.len && !too_costly(ere)) {
			regex_t re;
			if (regcomp(&re, ere, tr.cflags) != 0)
				abort(); /* the translation wrote something that is not an ERE */
			if ((size_t)tr.group_map[tr.capture_count] > re.re_nsub)
				abort();
			regexec(&re, pattern, 0, NULL, 0);
			regfree(&re);
		}
	}
	pcre_translation_free(&tr);
	free(pattern);
	return 0;
}

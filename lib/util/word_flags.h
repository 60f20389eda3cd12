/*
 * A list of keywords (a main.conf list such as notify_classes or
 * receive_override_options) as a bit mask, from a table of the words a
 * parameter knows.
 */
#ifndef POSTERN_UTIL_WORD_FLAGS_H
#define POSTERN_UTIL_WORD_FLAGS_H

#include <stddef.h>

struct word_flag {
	const char *word;
	unsigned flag;
};

/* The flags of words (NULL-terminated; NULL for none), compared without
 * case with the count entries of table: 0, or -1 with *bad_r the first
 * word the table has not. */
int word_flags_parse(char *const *words, const struct word_flag *table, size_t count,
                     unsigned *flags_r, const char **bad_r);

#endif

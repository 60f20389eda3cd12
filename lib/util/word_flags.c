/*
 * Keyword lists as bit masks (see word_flags.h).
 */
#include "util/word_flags.h"

#include <strings.h>

int word_flags_parse(char *const *words, const struct word_flag *table, size_t count,
                     unsigned *flags_r, const char **bad_r)
{
	unsigned flags = 0;
	for (size_t i = 0; words != NULL && words[i] != NULL; i++) {
		size_t k = 0;
		while (k < count && strcasecmp(words[i], table[k].word) != 0)
			k++;
		if (k == count) {
			*bad_r = words[i];
			return -1;
		}
		flags |= table[k].flag;
	}
	*flags_r = flags;
	return 0;
}

/*
 * A hash index from names to numbers (e.g. the position of the first entry
 * with that name in a list), for finding duplicates while parsing.
 * Names are copied; growth never fails (see alloc.h).
 */
#ifndef POSTERN_UTIL_NAME_INDEX_H
#define POSTERN_UTIL_NAME_INDEX_H

#include <stdbool.h>
#include <stddef.h>

struct name_index_slot {
	char *name; /* NULL when free */
	size_t value;
};

struct name_index {
	struct name_index_slot *slots;
	size_t cap; /* a power of two */
	size_t used;
};

void name_index_init(struct name_index *ix);
void name_index_free(struct name_index *ix);
/* If name is already there, return true with its value in *value_r;
 * otherwise add it with value and return false. */
bool name_index_get_or_add(struct name_index *ix, const char *name, size_t value, size_t *value_r);

#endif

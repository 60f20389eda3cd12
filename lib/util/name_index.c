/*
 * A name → number hash index with open addressing (see name_index.h).
 */
#include "util/name_index.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

static uint64_t hash_name(const char *name)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	return h;
}

void name_index_init(struct name_index *ix)
{
	memset(ix, 0, sizeof(*ix));
}

void name_index_free(struct name_index *ix)
{
	for (size_t i = 0; i < ix->cap; i++)
		free(ix->slots[i].name);
	free(ix->slots);
	name_index_init(ix);
}

static void grow(struct name_index *ix)
{
	size_t old_cap = ix->cap;
	struct name_index_slot *old = ix->slots;
	ix->cap = old_cap ? old_cap * 2 : 64;
	ix->slots = xcalloc(ix->cap, sizeof(*ix->slots));
	for (size_t i = 0; i < old_cap; i++) {
		if (old[i].name == NULL)
			continue;
		size_t j = hash_name(old[i].name) & (ix->cap - 1);
		while (ix->slots[j].name != NULL)
			j = (j + 1) & (ix->cap - 1);
		ix->slots[j] = old[i];
	}
	free(old);
}

bool name_index_get_or_add(struct name_index *ix, const char *name, size_t value, size_t *value_r)
{
	if ((ix->used + 1) * 2 > ix->cap)
		grow(ix);
	size_t j = hash_name(name) & (ix->cap - 1);
	while (ix->slots[j].name != NULL) {
		if (strcmp(ix->slots[j].name, name) == 0) {
			*value_r = ix->slots[j].value;
			return true;
		}
		j = (j + 1) & (ix->cap - 1);
	}
	ix->slots[j].name = xstrdup(name);
	ix->slots[j].value = value;
	ix->used++;
	return false;
}

/*
 * Open tables by spec (table_cache.h).
 */
#include "table/table_cache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "table/table.h"
#include "util/alloc.h"

static struct {
	char *spec;
	struct table *table;
} open_tables[TABLE_CACHE_SLOTS];

static struct str cache_error;

static void close_slot(size_t slot)
{
	table_close(open_tables[slot].table);
	free(open_tables[slot].spec);
	open_tables[slot].table = NULL;
	open_tables[slot].spec = NULL;
}

int table_cache_lookup(const char *spec, const char *key, bool missing_is_empty, struct str *value,
                       const char **error_r)
{
	const char *error;
	size_t slot = 0;
	while (slot < TABLE_CACHE_SLOTS && open_tables[slot].spec &&
	       strcmp(open_tables[slot].spec, spec) != 0)
		slot++;
	if (slot == TABLE_CACHE_SLOTS) {
		slot = 0; /* more tables than slots: reuse the first */
		close_slot(0);
	}
	if (open_tables[slot].spec == NULL) {
		struct stat st;
		if (missing_is_empty && table_spec_stat(spec, &st) != 0 && errno == ENOENT)
			return 0;
		struct table *t = table_open(spec, &error);
		if (t == NULL) {
			str_clear(&cache_error);
			str_printf(&cache_error, "table %s: %s", spec, error);
			*error_r = str_cstr(&cache_error);
			return -1;
		}
		open_tables[slot].spec = xstrdup(spec);
		open_tables[slot].table = t;
	}
	int rc = table_lookup(open_tables[slot].table, key, value, &error);
	if (rc < 0) {
		str_clear(&cache_error);
		str_printf(&cache_error, "table %s: lookup %s: %s", spec, key, error);
		*error_r = str_cstr(&cache_error);
	}
	return rc;
}

void table_cache_close_all(void)
{
	for (size_t slot = 0; slot < TABLE_CACHE_SLOTS; slot++)
		close_slot(slot);
	str_free(&cache_error);
}

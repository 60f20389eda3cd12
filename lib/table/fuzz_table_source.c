/* Fuzz target: the table source parser, checking what it promises about
 * its output: keys without white space, values present and trimmed, no
 * duplicates kept, errors exactly when it fails, every diagnostic naming
 * the file. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "table/table.h"
#include "table/table_source.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool blank(char c)
{
	return c == ' ' || c == '\t';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct table_source src;
	struct diag_list diags;
	table_source_init(&src);
	diag_list_init(&diags);
	int rc = table_source_parse(&src, "map", (const char *)data, size, &diags);
	if ((rc == 0) == diag_has_errors(&diags))
		abort();
	for (size_t i = 0; i < diags.count; i++)
		if (strncmp(diags.items[i].text, "map:", 4) != 0)
			abort();
	for (size_t i = 0; i < src.count; i++) {
		const struct table_source_entry *e = &src.items[i];
		size_t key_len = strlen(e->key), value_len = strlen(e->value);
		if (key_len == 0 || key_len > TABLE_MAX_KEY || strpbrk(e->key, " \t") != NULL ||
		    value_len == 0 || blank(e->value[0]) || blank(e->value[value_len - 1]) ||
		    e->line < 1)
			abort();
		for (size_t j = 0; j < i && j < 64; j++)
			if (strcmp(src.items[j].key, e->key) == 0)
				abort();
	}
	table_source_free(&src);
	diag_list_free(&diags);
	return 0;
}

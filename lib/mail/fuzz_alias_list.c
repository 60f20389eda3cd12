/* Fuzz target: the parser of .forward and :include: target lists
 * (aliases_parse_list), checking that every target it keeps is non-empty
 * without a newline, that include and file paths are absolute, that
 * errors come exactly with -1 and name the file, and that the targets
 * survive the stored form. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/aliases.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct alias_entry e = {0};
	struct diag_list diags;
	diag_list_init(&diags);
	int rc = aliases_parse_list(&e, ".forward", (const char *)data, size, &diags);
	if ((rc == 0) == diag_has_errors(&diags))
		abort();
	for (size_t i = 0; i < diags.count; i++)
		if (strncmp(diags.items[i].text, ".forward:", 9) != 0)
			abort();
	for (size_t i = 0; i < e.target_count; i++) {
		const struct alias_target *t = &e.targets[i];
		if (t->value[0] == '\0' || strchr(t->value, '\n') != NULL)
			abort();
		if ((t->type == ALIAS_INCLUDE || t->type == ALIAS_FILE) && t->value[0] != '/')
			abort();
	}
	if (e.target_count > 0) {
		char *s = alias_targets_serialize(e.targets, e.target_count);
		struct alias_target *back;
		size_t n;
		const char *error;
		if (alias_targets_parse(s, strlen(s), &back, &n, &error) != 0 ||
		    n != e.target_count)
			abort();
		for (size_t i = 0; i < n; i++)
			if (back[i].type != e.targets[i].type ||
			    strcmp(back[i].value, e.targets[i].value))
				abort();
		alias_targets_free(back, n);
		free(s);
	}
	alias_entry_clear(&e);
	diag_list_free(&diags);
	return 0;
}

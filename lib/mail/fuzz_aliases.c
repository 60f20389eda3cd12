/* Fuzz target: the aliases(5) parser and the stored target form, checking
 * what they promise: lower-case non-empty names without duplicates,
 * non-empty targets without newlines, absolute include paths, errors
 * exactly when parsing fails, every diagnostic naming the file, and that
 * every entry's stored form parses back to the same targets. The raw input
 * is also fed to the stored-form parser. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/aliases.h"
#include "table/table.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_roundtrip(const struct alias_entry *e)
{
	char *s = alias_targets_serialize(e->targets, e->target_count);
	struct alias_target *back;
	size_t n;
	const char *error;
	if (alias_targets_parse(s, strlen(s), &back, &n, &error) < 0 || n != e->target_count)
		abort();
	for (size_t i = 0; i < n; i++)
		if (back[i].type != e->targets[i].type ||
		    strcmp(back[i].value, e->targets[i].value))
			abort();
	alias_targets_free(back, n);
	free(s);
}

static void check_entry(const struct alias_entry *e)
{
	size_t len = strlen(e->name);
	if (len == 0 || len > TABLE_MAX_KEY || e->line < 1 || e->target_count == 0)
		abort();
	for (size_t i = 0; i < len; i++)
		if (isupper((unsigned char)e->name[i]))
			abort();
	for (size_t i = 0; i < e->target_count; i++) {
		const struct alias_target *t = &e->targets[i];
		if (t->value[0] == '\0' || strchr(t->value, '\n') != NULL)
			abort();
		if ((t->type == ALIAS_INCLUDE || t->type == ALIAS_FILE) && t->value[0] != '/')
			abort();
	}
	check_roundtrip(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct alias_list list;
	struct diag_list diags;
	alias_list_init(&list);
	diag_list_init(&diags);
	int rc = aliases_parse(&list, "aliases", (const char *)data, size, &diags);
	if ((rc == 0) == diag_has_errors(&diags))
		abort();
	for (size_t i = 0; i < diags.count; i++)
		if (strncmp(diags.items[i].text, "aliases:", 8) != 0)
			abort();
	for (size_t i = 0; i < list.count; i++) {
		check_entry(&list.items[i]);
		for (size_t j = 0; j < i && j < 64; j++)
			if (strcmp(list.items[j].name, list.items[i].name) == 0)
				abort();
	}
	alias_list_free(&list);
	diag_list_free(&diags);

	struct alias_target *targets;
	size_t n;
	const char *error;
	if (alias_targets_parse((const char *)data, size, &targets, &n, &error) == 0) {
		if (n == 0)
			abort();
		alias_targets_free(targets, n);
	}
	return 0;
}

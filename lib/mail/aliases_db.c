/*
 * Compile aliases(5) sources into LMDB tables and look aliases up in them
 * (see aliases_db.h). The table is written by the table builder, which
 * renames a complete file over the old one, so readers never see a half
 * written table and a failed build changes nothing.
 */
#include "mail/aliases_db.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/str.h"

#define ALIASES_DB_MODE 0644

char *aliases_db_path(const char *source_path)
{
	return xasprintf("%s.lmdb", source_path);
}

int aliases_db_compile(const char *source_path, const char *dest_path, size_t *count_r,
                       struct diag_list *diags)
{
	struct str text = STR_INIT;
	struct alias_list list;
	alias_list_init(&list);
	*count_r = 0;
	if (diag_read_file(source_path, &text, diags) != 0) {
		str_free(&text);
		return -1;
	}
	int rc = aliases_parse(&list, source_path, str_cstr(&text), text.len, diags);
	str_free(&text);
	if (rc == 0) {
		struct table_builder *b = table_builder_new();
		gid_t group = (gid_t)-1;
		struct stat st;
		if (geteuid() == 0 && stat(source_path, &st) == 0) {
			table_builder_set_owner(b, st.st_uid);
			group = st.st_gid;
		}
		for (size_t i = 0; i < list.count; i++) {
			const struct alias_entry *e = &list.items[i];
			char *value = alias_targets_serialize(e->targets, e->target_count);
			table_builder_add(b, e->name, strlen(e->name), value, strlen(value));
			free(value);
		}
		const char *error;
		rc = table_builder_write_lmdb(b, dest_path, ALIASES_DB_MODE, group, &error);
		if (rc != 0)
			diag_add(diags, DIAG_ERROR, dest_path, 0, "%s", error);
		else
			*count_r = list.count;
		table_builder_free(b);
	}
	alias_list_free(&list);
	return rc;
}

int aliases_db_lookup(struct table *t, const char *name, struct alias_target **targets_r,
                      size_t *count_r, const char **error_r)
{
	struct str value = STR_INIT;
	int rc = table_lookup(t, name, &value, error_r);
	if (rc == 1 &&
	    alias_targets_parse(str_cstr(&value), value.len, targets_r, count_r, error_r) != 0)
		rc = -1;
	str_free(&value);
	return rc;
}

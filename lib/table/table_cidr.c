/*
 * cidr: tables, as Postfix's cidr_table(5): an ordered list of
 * "network/prefix result" rules (IPv4 or IPv6, "[...]" around an IPv6
 * network allowed, a bare address meaning that host); a look-up of a
 * printable address gives the result of the first rule whose network
 * holds it, and any other key finds nothing.
 *
 * The file has the table source syntax (table_source.h: comments,
 * continuation lines, "key value"); it is read once at open, and any
 * error fails the open with the file and line and what is wrong. Host bits
 * beyond the prefix are ignored, as in mynetworks. Postfix's if/endif
 * blocks and "!" negation are not supported.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/diag.h"
#include "table/table_private.h"
#include "table/table_source.h"
#include "util/alloc.h"
#include "util/cidr.h"
#include "util/str.h"

static char cidr_error[512];

struct cidr_rule {
	struct cidr_list *network; /* one entry */
	char *result;
};

struct table_cidr {
	struct table table; /* first */
	struct cidr_rule *rules;
	size_t count;
};

static void cidr_close(struct table *table)
{
	struct table_cidr *t = (struct table_cidr *)table;
	for (size_t i = 0; i < t->count; i++) {
		cidr_list_free(t->rules[i].network);
		free(t->rules[i].result);
	}
	free(t->rules);
	free(t);
}

static int cidr_lookup(struct table *table, const char *key, size_t key_len, struct str *value)
{
	struct table_cidr *t = (struct table_cidr *)table;
	(void)key_len;
	for (size_t i = 0; i < t->count; i++) {
		if (cidr_list_match(t->rules[i].network, key)) {
			str_set(value, t->rules[i].result);
			return 1;
		}
	}
	return 0;
}

static const struct table_vfuncs cidr_vfuncs = {
    .type = "cidr",
    .lookup = cidr_lookup,
    .close = cidr_close,
};

/* "PATH, line N: what" from a table source diagnostic "PATH:N: what". */
static const char *source_error(const struct diag_list *diags)
{
	for (size_t i = 0; i < diags->count; i++) {
		if (diags->items[i].severity != DIAG_ERROR)
			continue;
		snprintf(cidr_error, sizeof(cidr_error), "%s", diags->items[i].text);
		return cidr_error;
	}
	return "cannot be read";
}

struct table *table_cidr_open(const char *path, const char **error_r)
{
	struct table_source src;
	struct diag_list diags;
	table_source_init(&src);
	diag_list_init(&diags);
	if (table_source_read(&src, path, &diags) != 0) {
		*error_r = source_error(&diags);
		diag_list_free(&diags);
		table_source_free(&src);
		return NULL;
	}
	diag_list_free(&diags);
	struct table_cidr *t = xcalloc(1, sizeof(*t));
	t->table.v = &cidr_vfuncs;
	t->rules = xcalloc(src.count + 1, sizeof(*t->rules));
	for (size_t i = 0; i < src.count; i++) {
		char *words[] = {src.items[i].key, NULL};
		char *bad = NULL;
		struct cidr_list *network = cidr_list_parse(words, &bad);
		if (network == NULL) {
			snprintf(cidr_error, sizeof(cidr_error),
			         "%s, line %d: bad network \"%.100s\"", path, src.items[i].line,
			         bad);
			*error_r = cidr_error;
			free(bad);
			table_source_free(&src);
			cidr_close(&t->table);
			return NULL;
		}
		t->rules[t->count].network = network;
		t->rules[t->count].result = xstrdup(src.items[i].value);
		t->count++;
	}
	table_source_free(&src);
	return &t->table;
}

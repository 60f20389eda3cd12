/*
 * Parser of Postfix-style table sources ("key value" lines, comments,
 * continuation lines; format in table_source.h) and the compile step that
 * turns a source file into an LMDB table only when it has no errors.
 * The parser is a pure function over untrusted bytes.
 */
#include "table/table_source.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "table/table.h"
#include "util/alloc.h"
#include "util/name_index.h"
#include "util/str.h"

void table_source_init(struct table_source *src)
{
	memset(src, 0, sizeof(*src));
}

void table_source_free(struct table_source *src)
{
	for (size_t i = 0; i < src->count; i++) {
		free(src->items[i].key);
		free(src->items[i].value);
	}
	free(src->items);
	table_source_init(src);
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* ---- duplicate detection: a set of keys (indices into src->items) ---- */

/* The entry with this name, or NULL after remembering index as its owner. */
static const struct table_source_entry *key_set_insert(struct name_index *set,
                                                       const struct table_source *src,
                                                       const char *name, size_t index)
{
	size_t first;
	return name_index_get_or_add(set, name, index, &first) ? &src->items[first] : NULL;
}

/* ---- parsing ---- */

struct parser {
	struct table_source *src;
	const char *filename;
	struct diag_list *diags;
	struct name_index keys;
	struct str logical; /* the logical line being collected */
	int logical_line;   /* its first physical line, 0 if none */
	bool logical_bad;   /* an error was reported for it already */
	bool failed;
};

static void add_entry(struct parser *p, const char *key, size_t key_len, const char *value)
{
	struct table_source *src = p->src;
	if (src->count == src->cap) {
		src->cap = src->cap ? src->cap * 2 : 64;
		src->items = xreallocarray(src->items, src->cap, sizeof(*src->items));
	}
	struct table_source_entry *e = &src->items[src->count];
	e->key = xstrndup(key, key_len);
	e->line = p->logical_line;
	const struct table_source_entry *first = key_set_insert(&p->keys, src, e->key, src->count);
	if (first != NULL) {
		diag_add(p->diags, DIAG_WARNING, p->filename, p->logical_line,
		         "duplicate entry \"%s\" ignored (first at line %d)", e->key, first->line);
		free(e->key);
		return;
	}
	e->value = xstrdup(value);
	src->count++;
}

/* Turn the collected logical line into an entry. */
static void finish_logical(struct parser *p)
{
	if (p->logical_line == 0)
		return;
	if (!p->logical_bad) {
		char *text = p->logical.data;
		size_t len = p->logical.len;
		while (len > 0 && is_blank(text[len - 1]))
			len--;
		text[len] = '\0';
		size_t key_len = 0;
		while (key_len < len && !is_blank(text[key_len]))
			key_len++;
		const char *value = text + key_len;
		while (is_blank(*value))
			value++;
		if (*value == '\0') {
			diag_add(p->diags, DIAG_ERROR, p->filename, p->logical_line,
			         "key \"%.*s\" has no value (expected \"key value\")",
			         (int)(key_len > 80 ? 80 : key_len), text);
			p->failed = true;
		} else if (key_len > TABLE_MAX_KEY) {
			diag_add(p->diags, DIAG_ERROR, p->filename, p->logical_line,
			         "key is longer than %d bytes", TABLE_MAX_KEY);
			p->failed = true;
		} else {
			add_entry(p, text, key_len, value);
		}
	}
	str_clear(&p->logical);
	p->logical_line = 0;
	p->logical_bad = false;
}

static void physical_line(struct parser *p, const char *line, size_t len, int number)
{
	if (len > 0 && line[len - 1] == '\r')
		len--;
	size_t skip = 0;
	while (skip < len && is_blank(line[skip]))
		skip++;
	if (skip == len || line[skip] == '#')
		return; /* blank or comment: does not end a logical line */
	bool has_nul = memchr(line, '\0', len) != NULL;
	if (skip > 0) {
		if (p->logical_line == 0) {
			diag_add(p->diags, DIAG_ERROR, p->filename, number,
			         "line starts with white space but there is no entry to continue");
			p->failed = true;
			return;
		}
		str_append_char(&p->logical, ' ');
	} else {
		finish_logical(p);
		p->logical_line = number;
	}
	if (has_nul) {
		diag_add(p->diags, DIAG_ERROR, p->filename, number, "NUL character in line");
		p->failed = true;
		p->logical_bad = true;
		return;
	}
	str_append(&p->logical, line + skip, len - skip);
}

int table_source_parse(struct table_source *src, const char *filename, const char *text, size_t len,
                       struct diag_list *diags)
{
	struct parser p = {.src = src, .filename = filename, .diags = diags};
	str_init(&p.logical);
	/* Entries already in src take part in duplicate detection. */
	for (size_t i = 0; i < src->count; i++)
		key_set_insert(&p.keys, src, src->items[i].key, i);
	const char *pos = text, *end = text + len;
	int number = 0;
	while (pos < end) {
		const char *nl = memchr(pos, '\n', (size_t)(end - pos));
		size_t line_len = nl ? (size_t)(nl - pos) : (size_t)(end - pos);
		if (number < INT32_MAX)
			number++;
		physical_line(&p, pos, line_len, number);
		pos += line_len + (nl ? 1 : 0);
	}
	finish_logical(&p);
	str_free(&p.logical);
	name_index_free(&p.keys);
	return p.failed ? -1 : 0;
}

int table_source_read(struct table_source *src, const char *path, struct diag_list *diags)
{
	struct str text = STR_INIT;
	int rc;
	if (diag_read_file(path, &text, diags) != 0) {
		rc = -1;
	} else {
		rc = table_source_parse(src, path, str_cstr(&text), text.len, diags);
	}
	str_free(&text);
	return rc;
}

int table_source_compile(const char *source_path, const char *dest_path, mode_t mode, gid_t group,
                         struct diag_list *diags)
{
	struct table_source src;
	uid_t owner = (uid_t)-1;
	table_source_init(&src);
	int rc = table_source_read(&src, source_path, diags);
	struct stat st;
	if (rc == 0 && geteuid() == 0 && stat(source_path, &st) == 0) {
		/* As root, the table belongs to whoever owns the source. */
		owner = st.st_uid;
		if (group == (gid_t)-1)
			group = st.st_gid;
	}
	if (rc == 0) {
		struct table_builder *b = table_builder_new();
		table_builder_set_owner(b, owner);
		for (size_t i = 0; i < src.count; i++)
			table_builder_add(b, src.items[i].key, strlen(src.items[i].key),
			                  src.items[i].value, strlen(src.items[i].value));
		const char *error;
		rc = table_builder_write_lmdb(b, dest_path, mode, group, &error);
		if (rc != 0)
			diag_add(diags, DIAG_ERROR, dest_path, 0, "%s", error);
		table_builder_free(b);
	}
	table_source_free(&src);
	return rc;
}

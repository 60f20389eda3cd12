/*
 * Parser of aliases(5) source text (format in aliases.h) into lower-cased
 * names with typed targets, and the stored form of a target list. Both
 * parsers are pure functions over untrusted bytes.
 */
#include "mail/aliases.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "table/table.h"
#include "util/alloc.h"
#include "util/name_index.h"
#include "util/str.h"

void alias_list_init(struct alias_list *list)
{
	memset(list, 0, sizeof(*list));
}

void alias_targets_free(struct alias_target *targets, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(targets[i].value);
	free(targets);
}

void alias_entry_clear(struct alias_entry *e)
{
	free(e->name);
	alias_targets_free(e->targets, e->target_count);
	memset(e, 0, sizeof(*e));
}

void alias_list_free(struct alias_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		alias_entry_clear(&list->items[i]);
	free(list->items);
	alias_list_init(list);
}

const char *alias_target_type_name(enum alias_target_type type)
{
	switch (type) {
	case ALIAS_ADDRESS:
		return "address";
	case ALIAS_COMMAND:
		return "command";
	case ALIAS_FILE:
		return "file";
	case ALIAS_INCLUDE:
		return "include";
	}
	return "unknown";
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static void add_target(struct alias_entry *e, enum alias_target_type type, const char *value,
                       size_t len)
{
	if (e->target_count == e->target_cap) {
		e->target_cap = e->target_cap ? e->target_cap * 2 : 4;
		e->targets = xreallocarray(e->targets, e->target_cap, sizeof(*e->targets));
	}
	e->targets[e->target_count].type = type;
	e->targets[e->target_count].value = xstrndup(value, len);
	e->target_count++;
}

/* ---- duplicate detection: a set of names (indices into list->items) ---- */

/* The entry with this name, or NULL after remembering index as its owner. */
static const struct alias_entry *name_set_insert(struct name_index *set,
                                                 const struct alias_list *list, const char *name,
                                                 size_t index)
{
	size_t first;
	return name_index_get_or_add(set, name, index, &first) ? &list->items[first] : NULL;
}

/* ---- one logical line ---- */

struct parse_ctx {
	const char *filename;
	int line;
	struct diag_list *diags;
};

static int parse_error(struct parse_ctx *ctx, const char *what, const char *detail)
{
	diag_add(ctx->diags, DIAG_ERROR, ctx->filename, ctx->line, "%s%s", what, detail);
	return -1;
}

/* Unquote "..." starting at s[0] == '"' into out; *end_r just past the
 * closing quote. -1 if unterminated. */
static int unquote(const char *s, size_t len, struct str *out, size_t *end_r)
{
	for (size_t i = 1; i < len; i++) {
		if (s[i] == '\\' && i + 1 < len) {
			str_append_char(out, s[++i]);
		} else if (s[i] == '"') {
			*end_r = i + 1;
			return 0;
		} else {
			str_append_char(out, s[i]);
		}
	}
	return -1;
}

/* The name before ':' into name (lower-cased); *rest_r after the ':'. */
static int parse_name(struct parse_ctx *ctx, const char *s, size_t len, struct str *name,
                      size_t *rest_r)
{
	size_t i = 0;
	if (s[0] == '"') {
		if (unquote(s, len, name, &i) < 0)
			return parse_error(ctx, "unterminated quoted alias name", "");
	} else {
		while (i < len && s[i] != ':' && !is_blank(s[i]))
			i++;
		str_append(name, s, i);
	}
	while (i < len && is_blank(s[i]))
		i++;
	if (i >= len || s[i] != ':')
		return parse_error(ctx, "missing ':' after alias name", "");
	if (name->len == 0)
		return parse_error(ctx, "empty alias name", "");
	if (name->len > TABLE_MAX_KEY)
		return parse_error(ctx, "alias name too long", "");
	for (size_t k = 0; k < name->len; k++)
		name->data[k] = (char)tolower((unsigned char)name->data[k]);
	*rest_r = i + 1;
	return 0;
}

/* Whether an item of length len that starts with '"' is entirely quoted. */
static bool wholly_quoted(const char *s, size_t len, struct str *inner)
{
	size_t end;
	str_clear(inner);
	return unquote(s, len, inner, &end) == 0 && end == len;
}

static int add_path_target(struct parse_ctx *ctx, struct alias_entry *e,
                           enum alias_target_type type, const char *v, size_t vlen)
{
	while (vlen > 0 && is_blank(*v))
		v++, vlen--;
	if (vlen == 0)
		return parse_error(ctx, "empty ",
		                   type == ALIAS_COMMAND ? "command" : "include path");
	if (type == ALIAS_INCLUDE && v[0] != '/')
		return parse_error(ctx, ":include: path is not absolute", "");
	add_target(e, type, v, vlen);
	return 0;
}

/* Classify one trimmed, non-empty list item and add it. */
static int parse_item(struct parse_ctx *ctx, struct alias_entry *e, const char *s, size_t len)
{
	struct str inner = STR_INIT;
	int rc;
	if (s[0] == '"' && wholly_quoted(s, len, &inner) &&
	    (inner.data != NULL && (inner.data[0] == '|' || inner.data[0] == '/' ||
	                            strncasecmp(inner.data, ":include:", 9) == 0))) {
		rc = parse_item(ctx, e, inner.data, inner.len);
		str_free(&inner);
		return rc;
	}
	str_free(&inner);
	if (s[0] == '|')
		return add_path_target(ctx, e, ALIAS_COMMAND, s + 1, len - 1);
	if (len >= 9 && strncasecmp(s, ":include:", 9) == 0)
		return add_path_target(ctx, e, ALIAS_INCLUDE, s + 9, len - 9);
	if (s[0] == '/') {
		add_target(e, ALIAS_FILE, s, len);
		return 0;
	}
	if (len >= 2 && s[0] == '<' && s[len - 1] == '>') {
		s++, len -= 2;
		if (len == 0)
			return parse_error(ctx, "empty address <>", "");
	}
	bool quoted = false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\\' && quoted)
			i++;
		else if (s[i] == '"')
			quoted = !quoted;
		else if (!quoted && is_blank(s[i]))
			return parse_error(ctx,
			                   "white space in address: ", "quote it or add a comma");
	}
	add_target(e, ALIAS_ADDRESS, s, len);
	return 0;
}

/* Split s at commas outside quotes; each item is trimmed, empty ones skipped. */
static int split_items(struct parse_ctx *ctx, struct alias_entry *e, const char *s, size_t len)
{
	size_t start = 0;
	bool quoted = false;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && quoted && s[i] == '\\') {
			i++;
			continue;
		}
		if (i < len && s[i] == '"')
			quoted = !quoted;
		if (i < len && (quoted || s[i] != ','))
			continue;
		if (i == len && quoted)
			return parse_error(ctx, "unterminated quote in alias value", "");
		size_t a = start, b = i;
		while (a < b && is_blank(s[a]))
			a++;
		while (b > a && is_blank(s[b - 1]))
			b--;
		if (b > a && parse_item(ctx, e, s + a, b - a) < 0)
			return -1;
		start = i + 1;
	}
	return 0;
}

/* The value of an alias: at least one target. */
static int parse_targets(struct parse_ctx *ctx, struct alias_entry *e, const char *s, size_t len)
{
	if (split_items(ctx, e, s, len) < 0)
		return -1;
	if (e->target_count == 0)
		return parse_error(ctx, "alias has no targets", "");
	return 0;
}

static void parse_logical_line(struct parse_ctx *ctx, struct alias_list *list,
                               struct name_index *names, const char *s, size_t len)
{
	struct alias_entry e = {0};
	struct str name = STR_INIT;
	size_t rest;
	e.line = ctx->line;
	if (memchr(s, '\0', len) != NULL) {
		parse_error(ctx, "NUL byte in aliases entry", "");
		return;
	}
	if (parse_name(ctx, s, len, &name, &rest) < 0 ||
	    parse_targets(ctx, &e, s + rest, len - rest) < 0) {
		str_free(&name);
		alias_entry_clear(&e);
		return;
	}
	e.name = str_steal(&name);
	const struct alias_entry *dup = name_set_insert(names, list, e.name, list->count);
	if (dup != NULL) {
		diag_add(ctx->diags, DIAG_WARNING, ctx->filename, ctx->line,
		         "duplicate alias \"%s\" ignored (first defined at line %d)", e.name,
		         dup->line);
		alias_entry_clear(&e);
		return;
	}
	if (list->count == list->cap) {
		list->cap = list->cap ? list->cap * 2 : 16;
		list->items = xreallocarray(list->items, list->cap, sizeof(*list->items));
	}
	list->items[list->count++] = e;
}

/* ---- physical lines ---- */

int aliases_parse(struct alias_list *list, const char *filename, const char *text, size_t len,
                  struct diag_list *diags)
{
	struct parse_ctx ctx = {filename, 0, diags};
	struct name_index names = {0};
	struct str logical = STR_INIT;
	int logical_line = 0, lineno = 0;
	size_t errors_before = diag_count(diags, DIAG_ERROR);
	bool have = false;

	for (size_t i = 0; i < list->count; i++)
		name_set_insert(&names, list, list->items[i].name, i);
	size_t pos = 0;
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) : len;
		const char *line = text + pos;
		size_t n = end - pos;
		lineno++;
		pos = nl ? end + 1 : len;
		while (n > 0 && is_blank(line[n - 1]))
			n--;
		size_t k = 0;
		while (k < n && is_blank(line[k]))
			k++;
		if (k == n || line[k] == '#')
			continue;
		if (k > 0) {
			if (!have) {
				ctx.line = lineno;
				parse_error(&ctx, "continuation line with nothing to continue", "");
				continue;
			}
			str_append_char(&logical, ' ');
			str_append(&logical, line + k, n - k);
			continue;
		}
		if (have) {
			ctx.line = logical_line;
			parse_logical_line(&ctx, list, &names, logical.data, logical.len);
		}
		str_clear(&logical);
		str_append(&logical, line, n);
		logical_line = lineno;
		have = true;
	}
	if (have) {
		ctx.line = logical_line;
		parse_logical_line(&ctx, list, &names, logical.data, logical.len);
	}
	str_free(&logical);
	name_index_free(&names);
	return diag_count(diags, DIAG_ERROR) > errors_before ? -1 : 0;
}

/* ---- stored form ---- */

static const char type_letters[] = "acfi";

char *alias_targets_serialize(const struct alias_target *targets, size_t count)
{
	struct str out = STR_INIT;
	for (size_t i = 0; i < count; i++) {
		str_append_char(&out, type_letters[targets[i].type]);
		str_append_char(&out, ':');
		for (const char *p = targets[i].value; *p; p++) {
			if (*p == '\\')
				str_append_cstr(&out, "\\\\");
			else if (*p == '\n')
				str_append_cstr(&out, "\\n");
			else
				str_append_char(&out, *p);
		}
		str_append_char(&out, '\n');
	}
	return str_steal(&out);
}

/* One stored line s[0..len) (without '\n') into t. */
static int parse_stored_target(const char *s, size_t len, struct alias_target *t,
                               const char **error_r)
{
	const char *letter = len >= 2 && s[1] == ':' ? memchr(type_letters, s[0], 4) : NULL;
	if (letter == NULL || s[0] == '\0') {
		*error_r = "stored alias target has no valid type";
		return -1;
	}
	struct str value = STR_INIT;
	for (size_t i = 2; i < len; i++) {
		if (s[i] == '\0') {
			str_free(&value);
			*error_r = "NUL byte in stored alias target";
			return -1;
		}
		if (s[i] != '\\') {
			str_append_char(&value, s[i]);
		} else if (i + 1 < len && (s[i + 1] == '\\' || s[i + 1] == 'n')) {
			str_append_char(&value, s[i + 1] == 'n' ? '\n' : '\\');
			i++;
		} else {
			str_free(&value);
			*error_r = "bad escape in stored alias target";
			return -1;
		}
	}
	if (value.len == 0) {
		*error_r = "empty stored alias target";
		return -1;
	}
	t->type = (enum alias_target_type)(letter - type_letters);
	t->value = str_steal(&value);
	return 0;
}

int alias_targets_parse(const char *value, size_t len, struct alias_target **targets_r,
                        size_t *count_r, const char **error_r)
{
	struct alias_target *targets = NULL;
	size_t count = 0, cap = 0, pos = 0;
	while (pos < len) {
		const char *nl = memchr(value + pos, '\n', len - pos);
		if (nl == NULL) {
			*error_r = "stored alias target list not terminated by a newline";
			goto fail;
		}
		if (count == cap) {
			cap = cap ? cap * 2 : 4;
			targets = xreallocarray(targets, cap, sizeof(*targets));
		}
		size_t n = (size_t)(nl - (value + pos));
		if (parse_stored_target(value + pos, n, &targets[count], error_r) < 0)
			goto fail;
		count++;
		pos += n + 1;
	}
	if (count == 0) {
		*error_r = "empty stored alias target list";
		goto fail;
	}
	*targets_r = targets;
	*count_r = count;
	return 0;
fail:
	alias_targets_free(targets, count);
	return -1;
}

/* ---- target lists (.forward, :include:) ---- */

int aliases_parse_list(struct alias_entry *entry, const char *filename, const char *text,
                       size_t len, struct diag_list *diags)
{
	struct parse_ctx ctx = {filename, 0, diags};
	size_t errors_before = diag_count(diags, DIAG_ERROR);
	size_t pos = 0;
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) : len;
		const char *line = text + pos;
		size_t n = end - pos;
		pos = nl ? end + 1 : len;
		if (ctx.line < INT32_MAX)
			ctx.line++;
		size_t k = 0;
		while (k < n && is_blank(line[k]))
			k++;
		if (k == n || line[k] == '#')
			continue;
		if (memchr(line, '\0', n) != NULL) {
			parse_error(&ctx, "NUL byte in line", "");
			continue;
		}
		(void)split_items(&ctx, entry, line + k, n - k);
	}
	return diag_count(diags, DIAG_ERROR) > errors_before ? -1 : 0;
}

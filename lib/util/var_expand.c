/*
 * $name expansion (var_expand.h): the syntax and the bounds on work,
 * with the names' values from the caller's lookup function.
 */
#include "util/var_expand.h"

#include <stdarg.h>
#include <string.h>

/* Work (bytes produced plus a charge per reference) one expansion may do. */
#define VAR_EXPAND_MAX_WORK (1024 * 1024)
#define VAR_EXPAND_REFERENCE_COST 16
/* var_expand calls one expansion may have in progress at once. */
#define VAR_EXPAND_MAX_DEPTH 100

static bool is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

void var_expansion_init(struct var_expansion *x, var_lookup_fn *lookup, void *context)
{
	memset(x, 0, sizeof(*x));
	x->lookup = lookup;
	x->context = context;
	str_init(&x->error);
}

void var_expansion_free(struct var_expansion *x)
{
	str_free(&x->error);
}

void var_expansion_fail(struct var_expansion *x, const char *fmt, ...)
{
	if (x->failed)
		return;
	x->failed = true;
	va_list ap;
	va_start(ap, fmt);
	str_vprintf(&x->error, fmt, ap);
	va_end(ap);
}

static bool charge(struct var_expansion *x, size_t cost)
{
	x->work += cost;
	if (x->work > VAR_EXPAND_MAX_WORK)
		var_expansion_fail(x, "expansion is too large (more than %d KiB of work)",
		                   VAR_EXPAND_MAX_WORK / 1024);
	return !x->failed;
}

void var_expand_emit(struct var_expansion *x, struct str *out, const char *data, size_t len)
{
	if (len > 0 && charge(x, len))
		str_append(out, data, len);
}

void var_expand_unknown(struct var_expansion *x, const char *name, size_t len)
{
	if (x->flags & VAR_EXPAND_LENIENT)
		x->unknown = true;
	else
		var_expansion_fail(x, "unknown variable $%.*s", (int)(len > 40 ? 40 : len), name);
}

/* The value of name into out; false when the lookup did not know it
 * (VAR_EXPAND_LENIENT: nothing was added). */
static bool expand_name(struct var_expansion *x, const char *name, size_t len, struct str *out)
{
	if (!charge(x, VAR_EXPAND_REFERENCE_COST))
		return true;
	x->unknown = false;
	x->lookup(x, name, len, out);
	bool known = !x->unknown;
	x->unknown = false;
	return known;
}

/* The '}' that closes the '{' just before start, or end. */
static const char *closing_brace(const char *start, const char *end)
{
	const char *close = start;
	for (int depth = 1; close < end; close++) {
		if (*close == '{')
			depth++;
		else if (*close == '}' && --depth == 0)
			break;
	}
	return close;
}

/* ${name}, ${name?text}, ${name:text}: start is just after the '{';
 * returns where the reference ends, or with VAR_EXPAND_LENIENT NULL when
 * it is none (nothing was added). */
static const char *expand_braced(struct var_expansion *x, const char *start, const char *end,
                                 struct str *out)
{
	bool lenient = x->flags & VAR_EXPAND_LENIENT;
	size_t name_len = 0;
	while (start + name_len < end && is_name_char(start[name_len]))
		name_len++;
	const char *op = start + name_len;
	bool condition =
	    op < end && (*op == '?' || *op == ':') && !(x->flags & VAR_EXPAND_NO_CONDITIONS);
	bool good = name_len > 0 && op < end && (*op == '}' || condition);
	if (!good && lenient)
		return NULL; /* without looking for its '}' */
	const char *close = good && *op == '}' ? op : closing_brace(start, end);
	if (close == end) {
		if (lenient)
			return NULL;
		var_expansion_fail(x, "unterminated '${' in \"${%.*s\"",
		                   (int)(end - start > 40 ? 40 : end - start), start);
		return end;
	}
	if (!good) {
		var_expansion_fail(x, "bad reference \"${%.*s}\"",
		                   (int)(close - start > 40 ? 40 : close - start), start);
		return close + 1;
	}
	if (op == close) {
		if (!expand_name(x, start, name_len, out))
			return NULL;
	} else {
		struct str value = STR_INIT;
		bool known = expand_name(x, start, name_len, &value);
		bool non_empty = value.len > 0;
		str_free(&value);
		if (!known)
			return NULL;
		if (non_empty == (*op == '?'))
			var_expand(x, op + 1, (size_t)(close - op - 1), out);
	}
	return close + 1;
}

void var_expand(struct var_expansion *x, const char *text, size_t len, struct str *out)
{
	if (x->depth >= VAR_EXPAND_MAX_DEPTH) {
		var_expansion_fail(x, "expansion is nested too deeply (more than %d levels)",
		                   VAR_EXPAND_MAX_DEPTH);
		return;
	}
	x->depth++;
	const char *p = text, *end = text + len;
	while (p < end && !x->failed) {
		const char *dollar = memchr(p, '$', (size_t)(end - p));
		if (dollar == NULL) {
			var_expand_emit(x, out, p, (size_t)(end - p));
			break;
		}
		var_expand_emit(x, out, p, (size_t)(dollar - p));
		p = dollar + 1;
		const char *next = NULL; /* after the reference; NULL: none */
		if (p < end && *p == '$' && !(x->flags & VAR_EXPAND_NO_ESCAPE)) {
			var_expand_emit(x, out, "$", 1);
			next = p + 1;
		} else if (p < end && *p == '{') {
			next = expand_braced(x, p + 1, end, out);
		} else if (p < end && is_name_char(*p)) {
			const char *name_end = p;
			while (name_end < end && is_name_char(*name_end))
				name_end++;
			if (expand_name(x, p, (size_t)(name_end - p), out))
				next = name_end;
		}
		if (next != NULL)
			p = next;
		else
			var_expand_emit(x, out, "$", 1); /* and on with what follows it */
	}
	x->depth--;
}

struct value_table {
	const struct var_value *vars;
	size_t count;
};

static void lookup_value(struct var_expansion *x, const char *name, size_t len, struct str *out)
{
	const struct value_table *t = x->context;
	for (size_t i = 0; i < t->count; i++) {
		const struct var_value *v = &t->vars[i];
		if (strncmp(v->name, name, len) == 0 && v->name[len] == '\0') {
			var_expand_emit(x, out, v->value, strlen(v->value));
			return;
		}
	}
	var_expand_unknown(x, name, len);
}

int var_expand_values(const char *text, const struct var_value *vars, size_t count, struct str *out,
                      struct str *error)
{
	struct value_table table = {vars, count};
	struct var_expansion x;
	var_expansion_init(&x, lookup_value, &table);
	var_expand(&x, text, strlen(text), out);
	int rc = 0;
	if (x.failed) {
		str_set(error, str_cstr(&x.error));
		rc = -1;
	}
	var_expansion_free(&x);
	return rc;
}

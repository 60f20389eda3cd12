/*
 * RFC 5322 address lists read for rewriting (see addr_list.h): the text
 * is cut into tokens that remember where they lie (comments and white
 * space dropped), the tokens are read as a list of mailboxes and groups,
 * and each addr-spec is known by the bytes from its first token to its
 * last.
 */
#include "mail/addr_list.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

enum tok_type { TOK_WORD, TOK_QUOTED, TOK_LITERAL, TOK_SPECIAL };

struct tok {
	enum tok_type type;
	char special; /* the character of a TOK_SPECIAL, else 0 */
	size_t start, end;
};

struct toks {
	struct tok *v;
	size_t count, cap;
};

static void toks_add(struct toks *t, enum tok_type type, char special, size_t start, size_t end)
{
	if (t->count == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->v = xreallocarray(t->v, t->cap, sizeof(*t->v));
	}
	t->v[t->count++] = (struct tok){type, special, start, end};
}

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The characters that stand alone in an address list. */
static bool is_special(char c)
{
	return c == '<' || c == '>' || c == ',' || c == ':' || c == ';' || c == '@' || c == '.';
}

/* The end of the comment, quoted string or domain literal opening at
 * text[i], or 0 when it is not closed (or holds a NUL byte). */
static size_t close_of(const char *text, size_t len, size_t i)
{
	char open = text[i];
	char close = open == '(' ? ')' : open == '"' ? '"' : ']';
	int depth = 0;
	for (; i < len; i++) {
		char c = text[i];
		if (c == '\0')
			return 0;
		if (c == '\\' && depth > 0) {
			if (++i == len || text[i] == '\0')
				return 0;
		} else if (depth > 0 && c == close) {
			if (--depth == 0)
				return i + 1;
		} else if (c == open && (depth == 0 || open == '(')) {
			depth++;
		} else if (open == '[' && c == '[') {
			return 0;
		}
	}
	return 0;
}

static int tokenize(const char *text, size_t len, struct toks *t)
{
	for (size_t i = 0; i < len;) {
		char c = text[i];
		size_t end;
		if (is_wsp(c)) {
			i++;
		} else if (c == '(' || c == '"' || c == '[') {
			if ((end = close_of(text, len, i)) == 0)
				return -1;
			if (c != '(')
				toks_add(t, c == '"' ? TOK_QUOTED : TOK_LITERAL, 0, i, end);
			i = end;
		} else if (is_special(c)) {
			toks_add(t, TOK_SPECIAL, c, i, i + 1);
			i++;
		} else if (c == ')' || c == ']' || c == '\0') {
			return -1;
		} else {
			for (end = i; end < len; end++) {
				char e = text[end];
				if (is_wsp(e) || is_special(e) || e == '(' || e == ')' ||
				    e == '"' || e == '[' || e == ']' || e == '\0')
					break;
			}
			toks_add(t, TOK_WORD, 0, i, end);
			i = end;
		}
	}
	return 0;
}

static bool special_is(const struct tok *k, char c)
{
	return k->type == TOK_SPECIAL && k->special == c;
}

/* Words separated by dots (a dot-atom, or obs-local-part with quoted
 * strings when quoted_ok), in t[from, to). */
static bool dotted_words(const struct tok *t, size_t from, size_t to, bool quoted_ok)
{
	bool prev_word = false, any_word = false;
	for (size_t i = from; i < to; i++) {
		if (t[i].type == TOK_WORD || (quoted_ok && t[i].type == TOK_QUOTED)) {
			if (prev_word)
				return false; /* two words side by side: a phrase */
			prev_word = any_word = true;
		} else if (special_is(&t[i], '.')) {
			prev_word = false;
		} else {
			return false;
		}
	}
	return any_word;
}

/* An addr-spec in t[from, to): local-part ["@" domain], the domain a
 * dot-atom or a domain literal. */
static bool valid_spec(const struct tok *t, size_t from, size_t to)
{
	size_t at = to;
	for (size_t i = from; i < to; i++) {
		if (special_is(&t[i], '@')) {
			if (at != to)
				return false;
			at = i;
		}
	}
	if (!dotted_words(t, from, at, true))
		return false;
	if (at == to)
		return true;
	if (at + 2 == to && t[at + 1].type == TOK_LITERAL)
		return true;
	return dotted_words(t, at + 1, to, false);
}

struct spans {
	struct addr_list_span *v;
	size_t count, cap;
};

static void spans_add(struct spans *s, const struct tok *t, size_t from, size_t to)
{
	if (s->count == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 4;
		s->v = xreallocarray(s->v, s->cap, sizeof(*s->v));
	}
	s->v[s->count++] = (struct addr_list_span){t[from].start, t[to - 1].end};
}

/* The mailbox in angle brackets whose "<" is t[lt]: its addr-spec (after
 * any source route) goes into s. The index after its ">", or 0 when it
 * is malformed. */
static size_t angle_addr(const struct tok *t, size_t n, size_t lt, struct spans *s)
{
	size_t gt = lt + 1;
	while (gt < n && !special_is(&t[gt], '>'))
		gt++;
	if (gt == n)
		return 0;
	size_t from = lt + 1;
	if (from < gt && special_is(&t[from], '@')) {
		while (from < gt && !special_is(&t[from], ':'))
			from++;
		if (from == gt)
			return 0;
		from++;
	}
	if (from < gt) {
		if (!valid_spec(t, from, gt))
			return 0;
		spans_add(s, t, from, gt);
	}
	return gt + 1;
}

/* The list in t[0, n): groups and mailboxes separated by commas (empty
 * members allowed, as RFC 5322's obs-addr-list has them). */
static int parse_list(const struct tok *t, size_t n, struct spans *s)
{
	bool in_group = false;
	size_t i = 0;
	while (i < n) {
		if (special_is(&t[i], ',')) {
			i++;
			continue;
		}
		if (special_is(&t[i], ';')) {
			if (!in_group)
				return -1;
			in_group = false;
			i++;
			continue;
		}
		size_t j = i;
		while (j < n && !special_is(&t[j], '<') && !special_is(&t[j], '>') &&
		       !special_is(&t[j], ':') && !special_is(&t[j], ',') &&
		       !special_is(&t[j], ';'))
			j++;
		if (j < n && special_is(&t[j], '>'))
			return -1;
		if (j < n && special_is(&t[j], ':')) {
			/* "display-name:" opens a group; groups do not nest. */
			if (in_group)
				return -1;
			for (size_t k = i; k < j; k++)
				if (t[k].type == TOK_LITERAL ||
				    (t[k].type == TOK_SPECIAL && t[k].special != '.'))
					return -1;
			in_group = true;
			i = j + 1;
			continue;
		}
		if (j < n && special_is(&t[j], '<')) {
			/* The display name before it is kept whatever it holds
			 * (even an unquoted "@" or "."). */
			size_t next = angle_addr(t, n, j, s);
			if (next == 0)
				return -1;
			if (next < n && !special_is(&t[next], ',') && !special_is(&t[next], ';'))
				return -1;
			i = next;
			continue;
		}
		if (!valid_spec(t, i, j))
			return -1;
		spans_add(s, t, i, j);
		i = j;
	}
	return 0;
}

int addr_list_parse(const char *text, size_t len, struct addr_list_span **spans_r, size_t *count_r)
{
	*spans_r = NULL;
	*count_r = 0;
	struct toks t = {0};
	struct spans s = {0};
	int rc = tokenize(text, len, &t);
	if (rc == 0)
		rc = parse_list(t.v, t.count, &s);
	free(t.v);
	if (rc != 0) {
		free(s.v);
		return -1;
	}
	*spans_r = s.v;
	*count_r = s.count;
	return 0;
}

void addr_list_spec(const char *text, const struct addr_list_span *span, struct str *out)
{
	struct toks t = {0};
	const char *from = text + span->start;
	if (tokenize(from, span->end - span->start, &t) == 0)
		for (size_t i = 0; i < t.count; i++)
			str_append(out, from + t.v[i].start, t.v[i].end - t.v[i].start);
	free(t.v);
}

int addr_list_rewrite(const char *text, size_t len, addr_list_map_fn *map, void *ctx,
                      struct str *out)
{
	struct addr_list_span *spans;
	size_t count;
	if (addr_list_parse(text, len, &spans, &count) != 0)
		return 0;
	struct str spec = STR_INIT, repl = STR_INIT, result = STR_INIT;
	size_t copied = 0;
	int rc = 0;
	for (size_t i = 0; i < count; i++) {
		const struct addr_list_span *sp = &spans[i];
		str_clear(&spec);
		str_clear(&repl);
		addr_list_spec(text, sp, &spec);
		int got = map(ctx, str_cstr(&spec), &repl);
		if (got < 0) {
			rc = -1;
			break;
		}
		if (got == 0 || (repl.len == sp->end - sp->start &&
		                 memcmp(repl.data, text + sp->start, repl.len) == 0))
			continue;
		str_append(&result, text + copied, sp->start - copied);
		str_append(&result, repl.data, repl.len);
		copied = sp->end;
		rc = 1;
	}
	if (rc == 1) {
		str_append(&result, text + copied, len - copied);
		str_append(out, result.data, result.len);
	}
	str_free(&spec);
	str_free(&repl);
	str_free(&result);
	free(spans);
	return rc;
}

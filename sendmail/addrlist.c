/*
 * RFC 5322 address lists as people write them in To:, Cc: and Bcc: and on
 * the sendmail command line: "Name <addr>, addr2 (comment)", quoted local
 * parts, groups ("team: a@x, b@y;"), folded lines. The list is tokenized
 * (comments dropped), then split into mailboxes; each mailbox's addr-spec
 * is the text in its angle brackets (a source route dropped), or all of
 * it when it has none. The addr-spec itself is checked by smtp/address.
 */
#include <stdlib.h>
#include <string.h>

#include "sendmail/sendmail.h"
#include "smtp/address.h"
#include "util/alloc.h"

enum tok_type { TOK_WORD, TOK_LITERAL, TOK_SPECIAL };

struct tok {
	enum tok_type type;
	const char *p;
	size_t len;
};

struct toks {
	struct tok *v;
	size_t count;
	size_t cap;
};

static void toks_add(struct toks *t, enum tok_type type, const char *p, size_t len)
{
	if (t->count == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->v = xreallocarray(t->v, t->cap, sizeof(*t->v));
	}
	t->v[t->count++] = (struct tok){type, p, len};
}

static bool is_special(char c)
{
	return strchr("<>,:;@", c) != NULL;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Skip a comment starting at text[*i] == '('; false if unterminated. */
static bool skip_comment(const char *text, size_t len, size_t *i)
{
	int depth = 0;
	for (; *i < len; (*i)++) {
		char c = text[*i];
		if (c == '\\' && *i + 1 < len)
			(*i)++;
		else if (c == '(')
			depth++;
		else if (c == ')' && --depth == 0) {
			(*i)++;
			return true;
		}
	}
	return false;
}

/* The end of a quoted string or domain literal starting at text[i]. */
static bool find_close(const char *text, size_t len, size_t i, char close, size_t *end_r)
{
	for (i++; i < len; i++) {
		if (text[i] == '\\' && i + 1 < len)
			i++;
		else if (text[i] == close) {
			*end_r = i + 1;
			return true;
		}
	}
	return false;
}

static int tokenize(const char *text, size_t len, struct toks *t, const char **error_r)
{
	size_t i = 0;
	while (i < len) {
		char c = text[i];
		size_t end;
		if (is_space(c)) {
			i++;
		} else if (c == '(') {
			if (!skip_comment(text, len, &i)) {
				*error_r = "unterminated comment";
				return -1;
			}
		} else if (c == '"' || c == '[') {
			if (!find_close(text, len, i, c == '"' ? '"' : ']', &end)) {
				*error_r = c == '"' ? "unterminated quoted string"
				                    : "unterminated domain literal";
				return -1;
			}
			toks_add(t, c == '"' ? TOK_WORD : TOK_LITERAL, text + i, end - i);
			i = end;
		} else if (is_special(c)) {
			toks_add(t, TOK_SPECIAL, text + i, 1);
			i++;
		} else if (c == ')' || c == ']' || c == '\0') {
			*error_r = "unexpected character";
			return -1;
		} else {
			end = i;
			while (end < len && !is_space(text[end]) && !is_special(text[end]) &&
			       strchr("()\"[]", text[end]) == NULL && text[end] != '\0')
				end++;
			toks_add(t, TOK_WORD, text + i, end - i);
			i = end;
		}
	}
	return 0;
}

static bool special_is(const struct tok *k, char c)
{
	return k->type == TOK_SPECIAL && k->p[0] == c;
}

/* Join the tokens [from, to) of an addr-spec. Two words side by side
 * (not joined by a dot) are a phrase, not an address. */
static int join_spec(const struct tok *v, size_t from, size_t to, struct str *out,
                     const char **error_r)
{
	for (size_t i = from; i < to; i++) {
		if (i > from && v[i].type == TOK_WORD && v[i - 1].type == TOK_WORD &&
		    v[i - 1].p[v[i - 1].len - 1] != '.' && v[i].p[0] != '.') {
			*error_r = "a name where an address was expected (use \"Name <address>\")";
			return -1;
		}
		str_append(out, v[i].p, v[i].len);
	}
	return 0;
}

/* The mailbox in tokens [from, to): 1 with the addr-spec in out, 0 if
 * empty, -1 if malformed. */
static int mailbox_spec(const struct tok *v, size_t from, size_t to, struct str *out,
                        const char **error_r)
{
	size_t open = to;
	for (size_t i = from; i < to; i++) {
		if (special_is(&v[i], '<')) {
			open = i;
			break;
		}
	}
	if (open == to) {
		if (from == to)
			return 0;
		for (size_t i = from; i < to; i++) {
			if (special_is(&v[i], '>')) {
				*error_r = "unmatched '>'";
				return -1;
			}
		}
		return join_spec(v, from, to, out, error_r) == 0 ? 1 : -1;
	}
	size_t close = open + 1;
	while (close < to && !special_is(&v[close], '>'))
		close++;
	if (close == to) {
		*error_r = "unterminated '<'";
		return -1;
	}
	for (size_t i = close + 1; i < to; i++) {
		if (v[i].type != TOK_WORD) {
			*error_r = "junk after '>'";
			return -1;
		}
	}
	size_t start = open + 1;
	/* A source route (<@a,@b:user@c>) is dropped, as RFC 5321 says. */
	if (start < close && special_is(&v[start], '@')) {
		while (start < close && !special_is(&v[start], ':'))
			start++;
		if (start == close) {
			*error_r = "bad source route";
			return -1;
		}
		start++;
	}
	for (size_t i = start; i < close; i++) {
		if (special_is(&v[i], '<') || special_is(&v[i], ',') || special_is(&v[i], ':') ||
		    special_is(&v[i], ';')) {
			*error_r = "unexpected character in <address>";
			return -1;
		}
	}
	return join_spec(v, start, close, out, error_r) == 0 ? 1 : -1;
}

static void list_add(struct addrlist *list, const char *text)
{
	if (list->count == list->cap) {
		list->cap = list->cap ? list->cap * 2 : 8;
		list->items = xreallocarray(list->items, list->cap, sizeof(char *));
	}
	list->items[list->count++] = xstrdup(text);
}

/* A list member's tokens end at ',' or ';' outside angle brackets. */
static size_t member_end(const struct tok *v, size_t from, size_t count)
{
	bool in_angle = false;
	for (size_t i = from; i < count; i++) {
		if (special_is(&v[i], '<'))
			in_angle = true;
		else if (special_is(&v[i], '>'))
			in_angle = false;
		else if (!in_angle && (special_is(&v[i], ',') || special_is(&v[i], ';')))
			return i;
	}
	return count;
}

/* A group's display name: words before a ':' that is outside brackets. */
static size_t group_colon(const struct tok *v, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++) {
		if (special_is(&v[i], ':'))
			return i;
		if (v[i].type != TOK_WORD)
			return to;
	}
	return to;
}

int addrlist_parse(const char *text, size_t len, struct addrlist *out, const char **error_r)
{
	struct toks t = {NULL, 0, 0};
	int rc = tokenize(text, len, &t, error_r);
	struct str spec = STR_INIT;
	size_t i = 0;
	while (rc == 0 && i < t.count) {
		size_t end = member_end(t.v, i, t.count);
		/* "group: first-member" - the group name is dropped, its members stay. */
		size_t colon = group_colon(t.v, i, end);
		if (colon < end)
			i = colon + 1;
		str_clear(&spec);
		int got = mailbox_spec(t.v, i, end, &spec, error_r);
		if (got < 0)
			rc = -1;
		else if (got > 0)
			list_add(out, str_cstr(&spec));
		i = end + 1;
	}
	str_free(&spec);
	free(t.v);
	return rc;
}

void addrlist_free(struct addrlist *list)
{
	for (size_t i = 0; i < list->count; i++)
		free(list->items[i]);
	free(list->items);
	memset(list, 0, sizeof(*list));
}

int address_qualify(const char *spec, const char *origin, char **canon_r, bool *utf8_r,
                    const char **error_r)
{
	size_t len = strlen(spec);
	if (len >= 2 && spec[0] == '<' && spec[len - 1] == '>') {
		spec++;
		len -= 2;
	}
	struct str text = STR_INIT;
	str_append(&text, spec, len);
	if (len > 0 && !address_has_at(text.data, text.len))
		str_printf(&text, "@%s", origin);
	struct address a;
	int rc = address_parse(text.data ? text.data : "", text.len, true, &a, error_r);
	str_free(&text);
	if (rc != 0)
		return -1;
	*utf8_r = !address_is_ascii(&a);
	*canon_r = address_to_string(&a);
	address_free(&a);
	return 0;
}

/*
 * Logical lines of configuration-style text (see logical_lines.h).
 */
#include "util/logical_lines.h"

#include <string.h>

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

void logical_lines_init(struct logical_lines *r, const char *text, size_t len)
{
	memset(r, 0, sizeof(*r));
	r->pos = text;
	r->end = text + len;
	str_init(&r->text);
}

void logical_lines_free(struct logical_lines *r)
{
	str_free(&r->text);
}

bool logical_lines_next(struct logical_lines *r)
{
	bool have = false;
	str_clear(&r->text);
	r->has_nul = r->continues = false;
	while (r->pos < r->end) {
		const char *nl = memchr(r->pos, '\n', (size_t)(r->end - r->pos));
		const char *line_end = nl ? nl : r->end;
		const char *p = r->pos;
		bool cont = p < line_end && (*p == ' ' || *p == '\t');
		while (p < line_end && is_blank(*p))
			p++;
		bool skip = p == line_end || *p == '#';
		if (have && !skip && !cont)
			break;
		r->lineno++;
		r->pos = nl ? nl + 1 : r->end;
		if (skip)
			continue;
		while (line_end > p && is_blank(line_end[-1]))
			line_end--;
		if (memchr(p, '\0', (size_t)(line_end - p)) != NULL)
			r->has_nul = true;
		if (have) {
			str_append_char(&r->text, ' ');
		} else {
			have = true;
			r->line = r->lineno;
			r->continues = cont;
		}
		str_append(&r->text, p, (size_t)(line_end - p));
	}
	return have;
}

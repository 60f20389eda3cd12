/*
 * What one atom of a PCRE pattern matches, for the translator (see
 * pcre_translate.h): literal bytes, escapes and bracket expressions read
 * as the set of bytes they match, and those written out as ERE atoms
 * (escaped literals, or bracket expressions that read the same to glibc
 * with or without REG_ICASE). Pure functions over the pattern text.
 */
#include <stdbool.h>
#include <string.h>

#include "table/pcre_classes.h"
#include "table/pcre_translate_internal.h"
#include "util/str.h"

int pcre_translate_emit_literal(struct translator *tl, unsigned c)
{
	if (c == 0)
		return pcre_translate_fail(
		    tl, "a NUL character in the pattern (a key never holds one)");
	if (strchr(".[]()*+?{}|^$\\", (int)c) != NULL)
		str_append_char(tl->out, '\\');
	str_append_char(tl->out, (char)c);
	return 0;
}

/* Runs of a bracket list may not cross a letter case: glibc folds the
 * ends of a range under REG_ICASE. */
static int byte_kind(unsigned c)
{
	return pcre_is_upper(c) ? 1 : pcre_is_lower(c) ? 2 : 0;
}

static bool bracket_special(unsigned c)
{
	return c == ']' || c == '^' || c == '-' || c == '[';
}

/* The items of a bracket list for s (not empty): "]" first, "[" and "^"
 * late, "-" last, so that none of them is read as syntax. */
static void emit_list(struct str *out, const struct byte_set *s, bool positive)
{
	size_t start = out->len;
	if (byte_set_has(s, ']'))
		str_append_char(out, ']');
	for (unsigned c = 1; c < 256; c++) {
		if (!byte_set_has(s, c) || bracket_special(c))
			continue;
		unsigned end = c;
		while (end < 255 && byte_set_has(s, end + 1) && !bracket_special(end + 1) &&
		       byte_kind(end + 1) == byte_kind(c))
			end++;
		str_append_char(out, (char)c);
		if (end == c + 1)
			str_append_char(out, (char)end);
		else if (end > c + 1)
			str_printf(out, "-%c", (char)end);
		c = end;
	}
	if (byte_set_has(s, '['))
		str_append_char(out, '[');
	if (byte_set_has(s, '^')) {
		if (positive && out->len == start) {
			/* Only "^" and maybe "-": "-" first keeps "^" from negating. */
			str_append_cstr(out, byte_set_has(s, '-') ? "-^" : "^");
			return;
		}
		str_append_char(out, '^');
	}
	if (byte_set_has(s, '-'))
		str_append_char(out, '-');
}

/* The bytes of m (a PCRE class, already case-closed when caseless) as
 * one ERE atom. Under REG_NEWLINE a negated list never matches a
 * newline, so a set holding one is written as a matching list. */
int pcre_translate_emit_set(struct translator *tl, const struct byte_set *m)
{
	bool newline_mode = (tl->flags & PCRE_TRANSLATE_MULTILINE) != 0;
	int n = byte_set_count(m);
	if (n == 1) {
		unsigned c = 1;
		while (!byte_set_has(m, c))
			c++;
		return pcre_translate_emit_literal(tl, c);
	}
	if ((n == 255 && !newline_mode) || (n == 254 && !byte_set_has(m, '\n') && newline_mode)) {
		str_append_char(tl->out, '.');
		return 0;
	}
	struct byte_set complement = *m;
	byte_set_invert(&complement);
	int c_count = 255 - n;
	bool negate =
	    n == 0 || (c_count > 0 && c_count < n && !(newline_mode && byte_set_has(m, '\n')));
	str_append_char(tl->out, '[');
	if (negate)
		str_append_char(tl->out, '^');
	emit_list(tl->out, negate ? &complement : m, !negate);
	str_append_char(tl->out, ']');
	return 0;
}

/* The escape after a backslash at tl->p: a literal byte (1, *byte_r) or
 * a class (2, *class_r); -1 for one that has no translation. Anchors,
 * backreferences and \Q are the caller's. */
int pcre_translate_parse_escape(struct translator *tl, bool in_bracket, unsigned *byte_r,
                                struct byte_set *class_r)
{
	char c = *tl->p;
	if (c == '\0')
		return pcre_translate_fail(tl, "\"\\\" at the end of the pattern");
	tl->p++;
	if (pcre_escape_class(c, class_r))
		return 2;
	unsigned value = 0;
	const char *digits = tl->p;
	switch (c) {
	case 'a':
		*byte_r = 7;
		return 1;
	case 'e':
		*byte_r = 27;
		return 1;
	case 'f':
		*byte_r = 12;
		return 1;
	case 'n':
		*byte_r = 10;
		return 1;
	case 'r':
		*byte_r = 13;
		return 1;
	case 't':
		*byte_r = 9;
		return 1;
	case 'b': /* backspace inside a bracket; the caller has it outside */
		*byte_r = 8;
		return 1;
	case 'c':
		if (*tl->p < 32 || *tl->p > 126)
			return pcre_translate_fail(
			    tl, "\"\\c\" must be followed by a printable ASCII character");
		value = (unsigned)(unsigned char)*tl->p++;
		*byte_r = (pcre_is_lower(value) ? value - 32 : value) ^ 0x40;
		return 1;
	case 'x':
		if (*tl->p == '{') {
			const char *d = tl->p + 1;
			for (; pcre_is_hex((unsigned char)*d); d++)
				value = value > 255
				            ? value
				            : value * 16 + pcre_hex_value((unsigned char)*d);
			if (d == tl->p + 1 || *d != '}')
				return pcre_translate_fail(tl, "bad \"\\x{...}\" escape");
			tl->p = d + 1;
		} else {
			for (int i = 0; i < 2 && pcre_is_hex((unsigned char)*tl->p); i++)
				value = value * 16 + pcre_hex_value((unsigned char)*tl->p++);
		}
		break;
	case 'o':
		if (*tl->p != '{')
			return pcre_translate_fail(tl,
			                           "\"\\o\" must be followed by {octal digits}");
		for (digits = tl->p + 1; *digits >= '0' && *digits <= '7'; digits++)
			value = value > 255 ? value : value * 8 + (unsigned)(*digits - '0');
		if (digits == tl->p + 1 || *digits != '}')
			return pcre_translate_fail(tl, "bad \"\\o{...}\" escape");
		tl->p = digits + 1;
		break;
	case '0':
		for (int i = 0; i < 2 && *tl->p >= '0' && *tl->p <= '7'; i++)
			value = value * 8 + (unsigned)(*tl->p++ - '0');
		break;
	case 'p':
	case 'P':
	case 'X':
		return pcre_translate_fail(
		    tl, "Unicode property \"\\%c\" is not supported (no UTF-8 mode)", c);
	case 'h':
	case 'H':
	case 'v':
	case 'V':
	case 'R':
	case 'N':
	case 'C':
		return pcre_translate_fail(tl, "escape \"\\%c\" is not supported", c);
	default:
		if (pcre_is_alpha((unsigned char)c) || pcre_is_digit((unsigned char)c))
			return pcre_translate_fail(tl, "escape \"\\%c\" is not supported%s", c,
			                           in_bracket ? " inside a bracket expression"
			                                      : "");
		*byte_r = (unsigned char)c; /* an escaped punctuation character */
		return 1;
	}
	if (value > 255)
		return pcre_translate_fail(
		    tl, "character value over 255 in \"\\%c\" (there is no UTF-8 mode)", c);
	*byte_r = value;
	return 1;
}

/* "[:name:]" or "[:^name:]" at p: its end, or NULL if p starts none. */
static const char *posix_class_end(const char *p)
{
	const char *q = p + 2;
	if (*q == '^')
		q++;
	while (pcre_is_alpha((unsigned char)*q))
		q++;
	return q[0] == ':' && q[1] == ']' ? q + 2 : NULL;
}

/* One item of a bracket expression: a byte (1) or a set (2). */
static int bracket_item(struct translator *tl, unsigned *byte_r, struct byte_set *class_r)
{
	const char *p = tl->p;
	const char *close = p[0] == '[' && (p[1] == '.' || p[1] == '=') ? strchr(p + 2, ']') : NULL;
	if (close != NULL && close > p + 3 && close[-1] == p[1])
		return pcre_translate_fail(tl, "POSIX collating element \"[%c\" is not supported",
		                           p[1]);
	const char *end = p[0] == '[' && p[1] == ':' ? posix_class_end(p) : NULL;
	if (end != NULL) {
		bool negated = p[2] == '^';
		const char *name = p + 2 + negated;
		size_t len = (size_t)(end - 2 - name);
		if (!pcre_posix_class(name, len, class_r))
			return pcre_translate_fail(tl, "unknown POSIX class \"[:%.*s:]\"",
			                           (int)(len > 20 ? 20 : len), name);
		if ((tl->flags & PCRE_TRANSLATE_CASELESS) &&
		    ((len == 5 && strncmp(name, "upper", 5) == 0) ||
		     (len == 5 && strncmp(name, "lower", 5) == 0)))
			return pcre_translate_fail(
			    tl,
			    "\"[:%.5s:]\" in a case-insensitive pattern (PCRE versions "
			    "differ on it: write [:alpha:], or make the pattern "
			    "case-sensitive with the i flag)",
			    name);
		if (negated)
			byte_set_invert(class_r);
		tl->p = end;
		return 2;
	}
	if (*p == '\\') {
		tl->p++;
		return pcre_translate_parse_escape(tl, true, byte_r, class_r);
	}
	*byte_r = (unsigned char)*tl->p++;
	return 1;
}

/* The bracket expression at tl->p ("[") as the set it matches. */
int pcre_translate_parse_bracket(struct translator *tl, struct byte_set *result)
{
	tl->p++;
	bool negate = *tl->p == '^';
	if (negate)
		tl->p++;
	struct byte_set s;
	memset(&s, 0, sizeof(s));
	for (bool first = true;; first = false) {
		if (*tl->p == '\0')
			return pcre_translate_fail(
			    tl, "missing \"]\" at the end of a bracket expression");
		if (*tl->p == ']' && !first) {
			tl->p++;
			break;
		}
		unsigned lo, hi;
		struct byte_set item;
		int kind = bracket_item(tl, &lo, &item);
		if (kind < 0)
			return -1;
		if (kind == 2) {
			byte_set_union(&s, &item);
			continue;
		}
		if (tl->p[0] != '-' || tl->p[1] == ']' || tl->p[1] == '\0') {
			byte_set_add(&s, lo);
			continue;
		}
		tl->p++;
		kind = bracket_item(tl, &hi, &item);
		if (kind < 0)
			return -1;
		if (kind == 2)
			return pcre_translate_fail(
			    tl, "a range in a bracket expression ends in a class");
		if (hi < lo)
			return pcre_translate_fail(tl,
			                           "range out of order in a bracket expression");
		byte_set_add_range(&s, lo, hi);
	}
	if (tl->flags & PCRE_TRANSLATE_CASELESS)
		byte_set_close_case(&s);
	if (negate)
		byte_set_invert(&s);
	*result = s;
	return 0;
}

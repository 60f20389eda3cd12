/*
 * PCRE pattern → POSIX ERE (see pcre_translate.h). One pass over the
 * pattern: every character class (".", "[...]", "\d" ...) becomes the set
 * of bytes it matches, written out as a bracket expression that reads the
 * same to glibc with or without REG_ICASE; literals are escaped as ERE
 * needs; "(?:" becomes a plain group and the capture map records the
 * shift. What ERE cannot say exactly is refused with a message naming it.
 *
 * Semantics kept: keys are C strings of bytes in the C locale, as PCRE
 * without UTF mode sees them; "." does not match a newline unless s; a
 * negated class does; "$" also matches before a newline that ends the key
 * unless E or m (written "\n?$", so nothing may follow it); m maps to
 * REG_NEWLINE.
 */
#include "table/pcre_translate.h"

#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "table/pcre_classes.h"
#include "util/alloc.h"

#define PCRE_MAX_DEPTH 64
#define PCRE_MAX_REPEAT 65535

/* ---- The translator ---- */

enum last_item {
	LAST_NONE,   /* nothing to repeat: start, after "(" or "|" */
	LAST_ATOM,   /* a character, class or group */
	LAST_ANCHOR, /* ^ $ \b ...: not repeatable here */
	LAST_REPEAT, /* a quantified atom */
};

struct group {
	bool capturing;
	bool alt_dollar;       /* an alternative ended in an end anchor */
	bool consumed_at_open; /* a character may have been matched before it */
	bool alt_consumed;     /* a finished alternative may have matched one */
	bool has_start;        /* it holds a ^ or \A (not in m mode) */
};

struct translator {
	const char *p;
	unsigned flags;
	struct pcre_translation *tr;
	struct str *out;
	struct group groups[PCRE_MAX_DEPTH];
	int depth;
	int open_captures;
	int ere_groups;
	int map_cap;
	enum last_item last;
	/* The current alternative ends in an end anchor (or a group that
	 * does): nothing may follow but ")" and "|". glibc lets a "$" in the
	 * middle of a pattern match before a newline, and a "^" after one,
	 * even without REG_NEWLINE. */
	bool after_dollar;
	/* A character may have been matched before this point of the
	 * pattern: a ^ here would be glibc's after-a-newline anchor. */
	bool consumed;
	bool last_group_has_start; /* the last atom is a group with a ^ in it */
};

static int fail(struct translator *tl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct translator *tl, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(tl->tr->error, sizeof(tl->tr->error), fmt, ap);
	va_end(ap);
	return -1;
}

static void skip_extended(struct translator *tl)
{
	if (!(tl->flags & PCRE_TRANSLATE_EXTENDED))
		return;
	for (;;) {
		char c = *tl->p;
		if (c == ' ' || (c >= '\t' && c <= '\r')) {
			tl->p++;
		} else if (c == '#') {
			while (*tl->p != '\0' && *tl->p != '\n')
				tl->p++;
		} else {
			return;
		}
	}
}

static int emit_literal(struct translator *tl, unsigned c)
{
	if (c == 0)
		return fail(tl, "a NUL character in the pattern (a key never holds one)");
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
static int emit_set(struct translator *tl, const struct byte_set *m)
{
	bool newline_mode = (tl->flags & PCRE_TRANSLATE_MULTILINE) != 0;
	int n = byte_set_count(m);
	if (n == 1) {
		unsigned c = 1;
		while (!byte_set_has(m, c))
			c++;
		return emit_literal(tl, c);
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
static int parse_escape(struct translator *tl, bool in_bracket, unsigned *byte_r,
                        struct byte_set *class_r)
{
	char c = *tl->p;
	if (c == '\0')
		return fail(tl, "\"\\\" at the end of the pattern");
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
			return fail(tl, "\"\\c\" must be followed by a printable ASCII character");
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
				return fail(tl, "bad \"\\x{...}\" escape");
			tl->p = d + 1;
		} else {
			for (int i = 0; i < 2 && pcre_is_hex((unsigned char)*tl->p); i++)
				value = value * 16 + pcre_hex_value((unsigned char)*tl->p++);
		}
		break;
	case 'o':
		if (*tl->p != '{')
			return fail(tl, "\"\\o\" must be followed by {octal digits}");
		for (digits = tl->p + 1; *digits >= '0' && *digits <= '7'; digits++)
			value = value > 255 ? value : value * 8 + (unsigned)(*digits - '0');
		if (digits == tl->p + 1 || *digits != '}')
			return fail(tl, "bad \"\\o{...}\" escape");
		tl->p = digits + 1;
		break;
	case '0':
		for (int i = 0; i < 2 && *tl->p >= '0' && *tl->p <= '7'; i++)
			value = value * 8 + (unsigned)(*tl->p++ - '0');
		break;
	case 'p':
	case 'P':
	case 'X':
		return fail(tl, "Unicode property \"\\%c\" is not supported (no UTF-8 mode)", c);
	case 'h':
	case 'H':
	case 'v':
	case 'V':
	case 'R':
	case 'N':
	case 'C':
		return fail(tl, "escape \"\\%c\" is not supported", c);
	default:
		if (pcre_is_alpha((unsigned char)c) || pcre_is_digit((unsigned char)c))
			return fail(tl, "escape \"\\%c\" is not supported%s", c,
			            in_bracket ? " inside a bracket expression" : "");
		*byte_r = (unsigned char)c; /* an escaped punctuation character */
		return 1;
	}
	if (value > 255)
		return fail(tl, "character value over 255 in \"\\%c\" (there is no UTF-8 mode)", c);
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
		return fail(tl, "POSIX collating element \"[%c\" is not supported", p[1]);
	const char *end = p[0] == '[' && p[1] == ':' ? posix_class_end(p) : NULL;
	if (end != NULL) {
		bool negated = p[2] == '^';
		const char *name = p + 2 + negated;
		size_t len = (size_t)(end - 2 - name);
		if (!pcre_posix_class(name, len, class_r))
			return fail(tl, "unknown POSIX class \"[:%.*s:]\"",
			            (int)(len > 20 ? 20 : len), name);
		if ((tl->flags & PCRE_TRANSLATE_CASELESS) &&
		    ((len == 5 && strncmp(name, "upper", 5) == 0) ||
		     (len == 5 && strncmp(name, "lower", 5) == 0)))
			return fail(tl,
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
		return parse_escape(tl, true, byte_r, class_r);
	}
	*byte_r = (unsigned char)*tl->p++;
	return 1;
}

/* The bracket expression at tl->p ("[") as the set it matches. */
static int parse_bracket(struct translator *tl, struct byte_set *result)
{
	tl->p++;
	bool negate = *tl->p == '^';
	if (negate)
		tl->p++;
	struct byte_set s;
	memset(&s, 0, sizeof(s));
	for (bool first = true;; first = false) {
		if (*tl->p == '\0')
			return fail(tl, "missing \"]\" at the end of a bracket expression");
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
			return fail(tl, "a range in a bracket expression ends in a class");
		if (hi < lo)
			return fail(tl, "range out of order in a bracket expression");
		byte_set_add_range(&s, lo, hi);
	}
	if (tl->flags & PCRE_TRANSLATE_CASELESS)
		byte_set_close_case(&s);
	if (negate)
		byte_set_invert(&s);
	*result = s;
	return 0;
}

/* A "{n}", "{n,}" or "{n,m}" at p: 1 with the bounds (*hi_r -1: none)
 * and its end; 0 if p is a literal "{"; -1 for a form PCRE versions read
 * differently ("{,m}", spaces inside). */
static int parse_interval(const char *p, long *lo_r, long *hi_r, const char **end_r)
{
	const char *q = p + 1;
	if (pcre_is_digit((unsigned char)*q)) {
		char *end;
		*lo_r = strtol(q, &end, 10);
		*hi_r = *lo_r;
		if (*end == ',') {
			*hi_r = -1;
			if (pcre_is_digit((unsigned char)end[1]))
				*hi_r = strtol(end + 1, &end, 10);
			else
				end++;
		}
		if (*end == '}') {
			*end_r = end + 1;
			return 1;
		}
	}
	bool digit = false;
	int commas = 0;
	for (q = p + 1; *q != '}'; q++) {
		if (pcre_is_digit((unsigned char)*q))
			digit = true;
		else if (*q == ',')
			commas++;
		else if (*q != ' ' && *q != '\t')
			return 0;
	}
	return digit && commas <= 1 ? -1 : 0;
}

static bool at_quantifier(struct translator *tl)
{
	char c = *tl->p;
	long lo, hi;
	const char *end;
	return c == '*' || c == '+' || c == '?' ||
	       (c == '{' && parse_interval(tl->p, &lo, &hi, &end) != 0);
}

static int quantifier(struct translator *tl)
{
	const char *start = tl->p;
	if (tl->last == LAST_NONE)
		return fail(tl, "quantifier \"%c\" does not follow anything to repeat", *start);
	if (tl->last == LAST_ANCHOR)
		return fail(tl, "quantifier \"%c\" after an anchor or assertion", *start);
	if (tl->last == LAST_REPEAT)
		return fail(tl, "quantifier \"%c\" after a quantifier", *start);
	if (tl->after_dollar)
		return fail(tl, "quantifier \"%c\" on a group that ends in \"$\"", *start);
	if (tl->last_group_has_start)
		return fail(tl, "quantifier \"%c\" on a group that holds \"^\" or \"\\A\"", *start);
	long lo = 0, hi = -1;
	bool exact = false;
	if (*start == '{') {
		const char *end;
		if (parse_interval(start, &lo, &hi, &end) < 0)
			return fail(tl,
			            "\"{\" interval \"%.*s\" is read differently by PCRE versions "
			            "(write {0,n}, or \\{ for a literal brace)",
			            (int)(strchr(start, '}') - start + 1), start);
		if (lo > PCRE_MAX_REPEAT || hi > PCRE_MAX_REPEAT || (hi >= 0 && hi < lo))
			return fail(tl, "bad interval \"%.*s\"", (int)(end - start), start);
		exact = hi == lo;
		tl->p = end;
	} else {
		tl->p++;
	}
	int len = (int)(tl->p - start);
	if (*tl->p == '+')
		return fail(tl,
		            "possessive quantifier \"%.*s+\" is not supported (it changes which "
		            "keys match)",
		            len, start);
	bool lazy = *tl->p == '?';
	if (lazy)
		tl->p++;
	if (tl->flags & PCRE_TRANSLATE_UNGREEDY)
		lazy = !lazy;
	if (lazy && !exact && !(tl->flags & PCRE_TRANSLATE_MATCH_ONLY)) {
		if (tl->flags & PCRE_TRANSLATE_UNGREEDY)
			return fail(tl,
			            "the U (ungreedy) flag with $N in the result (POSIX has "
			            "only greedy quantifiers, so $N could name a different part "
			            "of the key)");
		return fail(tl,
		            "lazy quantifier \"%.*s?\" with $N in the result (POSIX has only "
		            "greedy quantifiers, so $N could name a different part of the key)",
		            len, start);
	}
	if (*start != '{')
		str_append_char(tl->out, *start);
	else if (exact)
		str_printf(tl->out, "{%ld}", lo);
	else if (hi < 0)
		str_printf(tl->out, "{%ld,}", lo);
	else
		str_printf(tl->out, "{%ld,%ld}", lo, hi);
	tl->last = LAST_REPEAT;
	return 0;
}

/* A character, class or escape was written. */
static void atom_done(struct translator *tl)
{
	tl->last = LAST_ATOM;
	tl->consumed = true;
	tl->last_group_has_start = false;
}

/* Something that consumes or asserts is about to be written. */
static int check_after_dollar(struct translator *tl)
{
	if (tl->after_dollar)
		return fail(tl, "an end anchor (\"$\", \"\\z\" or \"\\Z\") is followed by more "
		                "pattern (where PCRE's never matches, POSIX's may match at a "
		                "newline)");
	return 0;
}

/* "$", and "\Z": the end, or before a newline that ends the key. */
static int dollar(struct translator *tl, const char *what)
{
	if (check_after_dollar(tl) != 0)
		return -1;
	tl->last = LAST_ANCHOR;
	if (*what == '$' && (tl->flags & PCRE_TRANSLATE_MULTILINE)) {
		str_append_char(tl->out, '$'); /* REG_NEWLINE's $ is PCRE's */
		return 0;
	}
	if (*what == '$' && (tl->flags & PCRE_TRANSLATE_DOLLAR_ENDONLY)) {
		str_append_char(tl->out, '$');
		tl->after_dollar = true;
		return 0;
	}
	if (tl->flags & PCRE_TRANSLATE_MULTILINE)
		return fail(tl, "\"%s\" in multi-line mode (m) is not supported", what);
	if (tl->open_captures > 0 && !(tl->flags & PCRE_TRANSLATE_MATCH_ONLY))
		return fail(tl,
		            "\"%s\" inside a capturing group with $N in the result (PCRE's %s also "
		            "matches before a newline that ends the key, which the group would "
		            "capture here; write \\z, or use the E flag)",
		            what, what);
	str_append_cstr(tl->out, "\n?$");
	tl->after_dollar = true;
	return 0;
}

/* "^" and "\A": the start of the key (m: of a line). */
static int start_anchor(struct translator *tl, const char *what)
{
	if (!(tl->flags & PCRE_TRANSLATE_MULTILINE)) {
		if (tl->consumed)
			return fail(tl,
			            "\"%s\" after something that can match a character (where "
			            "PCRE's never matches, POSIX's may match after a newline)",
			            what);
		for (int i = 0; i < tl->depth; i++)
			tl->groups[i].has_start = true;
	}
	str_append_char(tl->out, '^');
	tl->last = LAST_ANCHOR;
	return 0;
}

static int open_group(struct translator *tl)
{
	const char *p = tl->p;
	bool capturing = true;
	if (p[1] == '*')
		return fail(tl, "PCRE verb \"(*...)\" is not supported");
	if (p[1] == '?') {
		char c = p[2];
		if (c == ':') {
			capturing = false;
		} else if (c == '#') {
			const char *end = strchr(p, ')');
			if (end == NULL)
				return fail(tl, "missing \")\" after a (?# comment");
			tl->p = end + 1;
			return 0;
		} else if (c == '=' || c == '!' || (c == '<' && (p[3] == '=' || p[3] == '!'))) {
			return fail(tl, "%s \"%.*s\" is not supported (POSIX has no lookaround)",
			            c == '<' ? "lookbehind" : "lookahead", c == '<' ? 4 : 3, p);
		} else if (c == '<' || c == '\'' || (c == 'P' && p[3] == '<')) {
			return fail(
			    tl,
			    "named group \"%.*s\" is not supported (write a plain group and "
			    "$N)",
			    c == 'P' ? 4 : 3, p);
		} else if (c == 'P' && p[3] == '=') {
			return fail(tl, "backreference \"(?P=\" is not supported");
		} else if (c == '>') {
			return fail(tl, "atomic group \"(?>\" is not supported");
		} else if (c == '|') {
			return fail(tl, "branch reset group \"(?|\" is not supported");
		} else if (c == '(') {
			return fail(tl, "conditional group \"(?(\" is not supported");
		} else if (c == 'R' || c == '&' || c == '+' || pcre_is_digit((unsigned char)c) ||
		           (c == 'P' && p[3] == '>') ||
		           (c == '-' && pcre_is_digit((unsigned char)p[3]))) {
			return fail(tl, "recursion or subroutine call \"(?%c\" is not supported",
			            c);
		} else if (c == 'C') {
			return fail(tl, "callout \"(?C\" is not supported");
		} else if (c != '\0' && strchr("imsxXUJn^-", c) != NULL) {
			return fail(
			    tl,
			    "inline options such as \"(?%c\" are supported only as (?flags) "
			    "at the very start of the pattern",
			    c);
		} else {
			return fail(tl, "unknown group \"(?%c\"", c);
		}
	}
	if (check_after_dollar(tl) != 0)
		return -1;
	if (tl->depth == PCRE_MAX_DEPTH)
		return fail(tl, "groups nested too deep");
	tl->groups[tl->depth++] =
	    (struct group){.capturing = capturing, .consumed_at_open = tl->consumed};
	tl->ere_groups++;
	if (capturing) {
		struct pcre_translation *tr = tl->tr;
		if (tr->capture_count + 1 >= tl->map_cap) {
			tl->map_cap = tl->map_cap * 2 + 8;
			tr->group_map =
			    xreallocarray(tr->group_map, (size_t)tl->map_cap, sizeof(int));
		}
		tr->group_map[++tr->capture_count] = tl->ere_groups;
		tl->open_captures++;
	}
	str_append_char(tl->out, '(');
	tl->p += capturing ? 1 : 3;
	tl->last = LAST_NONE;
	return 0;
}

static int close_group(struct translator *tl)
{
	if (tl->depth == 0)
		return fail(tl, "unmatched \")\"");
	struct group *g = &tl->groups[--tl->depth];
	tl->after_dollar = tl->after_dollar || g->alt_dollar;
	tl->consumed = tl->consumed || g->alt_consumed;
	tl->last_group_has_start = g->has_start;
	if (g->capturing)
		tl->open_captures--;
	str_append_char(tl->out, ')');
	tl->p++;
	tl->last = LAST_ATOM;
	return 0;
}

/* A backslash sequence outside a bracket expression. */
static int escape(struct translator *tl)
{
	char c = tl->p[1];
	bool multiline = (tl->flags & PCRE_TRANSLATE_MULTILINE) != 0;
	if (c == 'E') { /* an \E without \Q is ignored */
		tl->p += 2;
		return 0;
	}
	if (c == 'Z') {
		tl->p += 2;
		return dollar(tl, "\\Z");
	}
	if (check_after_dollar(tl) != 0)
		return -1;
	switch (c) {
	case 'b':
	case 'B':
		str_append_char(tl->out, '\\');
		str_append_char(tl->out, c);
		tl->p += 2;
		tl->last = LAST_ANCHOR;
		return 0;
	case 'A':
	case 'z':
		if (multiline)
			return fail(tl, "\"\\%c\" in multi-line mode (m) is not supported", c);
		tl->p += 2;
		if (c == 'A')
			return start_anchor(tl, "\\A");
		str_append_char(tl->out, '$');
		tl->last = LAST_ANCHOR;
		tl->after_dollar = true;
		return 0;
	case 'G':
		return fail(tl, "\"\\G\" is not supported");
	case 'K':
		return fail(tl, "\"\\K\" is not supported");
	case 'g':
	case 'k':
		return fail(tl,
		            "backreference \"\\%c\" is not supported (POSIX has none in "
		            "extended expressions)",
		            c);
	case 'Q':
		for (tl->p += 2; *tl->p != '\0'; tl->p++) {
			if (tl->p[0] == '\\' && tl->p[1] == 'E') {
				tl->p += 2;
				break;
			}
			if (emit_literal(tl, (unsigned char)*tl->p) != 0)
				return -1;
			atom_done(tl);
		}
		return 0;
	default:
		break;
	}
	if (c >= '1' && c <= '9')
		return fail(tl,
		            "backreference \"\\%c\" is not supported (POSIX has none in "
		            "extended expressions)",
		            c);
	unsigned byte;
	struct byte_set set;
	tl->p++;
	int kind = parse_escape(tl, false, &byte, &set);
	if (kind < 0)
		return -1;
	atom_done(tl);
	return kind == 1 ? emit_literal(tl, byte) : emit_set(tl, &set);
}

/* Options "(?imsxU-imsxU)" at the very start. */
static int leading_options(struct translator *tl)
{
	for (;;) {
		skip_extended(tl);
		const char *p = tl->p;
		if (p[0] != '(' || p[1] != '?')
			return 0;
		size_t len = strspn(p + 2, "imsxUJXn^-");
		if (p[2 + len] != ')')
			return 0;
		bool on = true;
		for (size_t i = 0; i < len; i++) {
			unsigned bit = 0;
			switch (p[2 + i]) {
			case '-':
				on = false;
				continue;
			case 'i':
				bit = PCRE_TRANSLATE_CASELESS;
				break;
			case 'm':
				bit = PCRE_TRANSLATE_MULTILINE;
				break;
			case 's':
				bit = PCRE_TRANSLATE_DOTALL;
				break;
			case 'x':
				bit = PCRE_TRANSLATE_EXTENDED;
				break;
			case 'U':
				bit = PCRE_TRANSLATE_UNGREEDY;
				break;
			default:
				return fail(tl, "inline option \"%c\" is not supported", p[2 + i]);
			}
			tl->flags = on ? tl->flags | bit : tl->flags & ~bit;
		}
		tl->p = p + 3 + len;
	}
}

static int translate_body(struct translator *tl)
{
	for (;;) {
		skip_extended(tl);
		char c = *tl->p;
		if (c == '\0')
			break;
		int rc = 0;
		if (at_quantifier(tl)) {
			rc = quantifier(tl);
		} else if (c == '|') {
			struct group *g = tl->depth > 0 ? &tl->groups[tl->depth - 1] : NULL;
			if (g != NULL) {
				g->alt_dollar |= tl->after_dollar;
				g->alt_consumed |= tl->consumed;
			}
			tl->after_dollar = false;
			tl->consumed = g != NULL && g->consumed_at_open;
			tl->last = LAST_NONE;
			str_append_char(tl->out, '|');
			tl->p++;
		} else if (c == '(') {
			rc = open_group(tl);
		} else if (c == ')') {
			rc = close_group(tl);
		} else if (c == '$') {
			tl->p++;
			rc = dollar(tl, "$");
		} else if (c == '\\') {
			rc = escape(tl);
		} else if ((rc = check_after_dollar(tl)) != 0) {
			/* failed */
		} else if (c == '^') {
			tl->p++;
			rc = start_anchor(tl, "^");
		} else if (c == '.' || c == '[') {
			struct byte_set set;
			memset(&set, 0, sizeof(set));
			if (c == '.') {
				byte_set_add_range(&set, 1, 255);
				if (!(tl->flags & PCRE_TRANSLATE_DOTALL))
					set.bits['\n' >> 3] &= (uint8_t) ~(1u << ('\n' & 7));
				tl->p++;
			} else if (parse_bracket(tl, &set) != 0) {
				return -1;
			}
			rc = emit_set(tl, &set);
			atom_done(tl);
		} else {
			rc = emit_literal(tl, (unsigned char)c);
			tl->p++;
			atom_done(tl);
		}
		if (rc != 0)
			return -1;
	}
	if (tl->depth > 0)
		return fail(tl, "missing \")\"");
	return 0;
}

int pcre_translate(const char *pattern, unsigned flags, struct pcre_translation *tr,
                   const char **error_r)
{
	memset(tr, 0, sizeof(*tr));
	struct translator tl = {.p = pattern, .flags = flags, .tr = tr, .out = &tr->ere};
	tr->group_map = xcalloc(8, sizeof(int));
	tl.map_cap = 8;
	int rc = leading_options(&tl);
	if (rc == 0 && (tl.flags & PCRE_TRANSLATE_ANCHORED)) {
		if (tl.flags & PCRE_TRANSLATE_MULTILINE)
			rc = fail(&tl,
			          "the A (anchored) flag in multi-line mode (m) is not supported");
		/* "^(...)": the whole pattern, alternatives and all, at the start. */
		str_append_cstr(&tr->ere, "^(");
		tl.ere_groups++;
	}
	if (rc == 0)
		rc = translate_body(&tl);
	if (rc == 0 && (tl.flags & PCRE_TRANSLATE_ANCHORED))
		str_append_char(&tr->ere, ')');
	if (rc != 0) {
		*error_r = tr->error;
		return -1;
	}
	tr->cflags = REG_EXTENDED | (tl.flags & PCRE_TRANSLATE_CASELESS ? REG_ICASE : 0) |
	             (tl.flags & PCRE_TRANSLATE_MULTILINE ? REG_NEWLINE : 0);
	return 0;
}

void pcre_translation_free(struct pcre_translation *tr)
{
	str_free(&tr->ere);
	free(tr->group_map);
	tr->group_map = NULL;
}

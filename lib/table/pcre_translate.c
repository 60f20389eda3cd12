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
 *
 * This file holds the pattern's structure (options, alternatives, groups,
 * anchors, quantifiers and the escapes that are not atoms);
 * pcre_translate_atoms.c reads and writes the atoms themselves.
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
#include "table/pcre_translate_internal.h"
#include "util/alloc.h"

#define PCRE_MAX_REPEAT 65535

int pcre_translate_fail(struct translator *tl, const char *fmt, ...)
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
		return pcre_translate_fail(
		    tl, "quantifier \"%c\" does not follow anything to repeat", *start);
	if (tl->last == LAST_ANCHOR)
		return pcre_translate_fail(tl, "quantifier \"%c\" after an anchor or assertion",
		                           *start);
	if (tl->last == LAST_REPEAT)
		return pcre_translate_fail(tl, "quantifier \"%c\" after a quantifier", *start);
	if (tl->after_dollar)
		return pcre_translate_fail(tl, "quantifier \"%c\" on a group that ends in \"$\"",
		                           *start);
	if (tl->last_group_has_start)
		return pcre_translate_fail(
		    tl, "quantifier \"%c\" on a group that holds \"^\" or \"\\A\"", *start);
	long lo = 0, hi = -1;
	bool exact = false;
	if (*start == '{') {
		const char *end;
		if (parse_interval(start, &lo, &hi, &end) < 0)
			return pcre_translate_fail(
			    tl,
			    "\"{\" interval \"%.*s\" is read differently by PCRE versions "
			    "(write {0,n}, or \\{ for a literal brace)",
			    (int)(strchr(start, '}') - start + 1), start);
		if (lo > PCRE_MAX_REPEAT || hi > PCRE_MAX_REPEAT || (hi >= 0 && hi < lo))
			return pcre_translate_fail(tl, "bad interval \"%.*s\"", (int)(end - start),
			                           start);
		exact = hi == lo;
		tl->p = end;
	} else {
		tl->p++;
	}
	int len = (int)(tl->p - start);
	if (*tl->p == '+')
		return pcre_translate_fail(
		    tl,
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
			return pcre_translate_fail(
			    tl, "the U (ungreedy) flag with $N in the result (POSIX has "
			        "only greedy quantifiers, so $N could name a different part "
			        "of the key)");
		return pcre_translate_fail(
		    tl,
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
		return pcre_translate_fail(
		    tl, "an end anchor (\"$\", \"\\z\" or \"\\Z\") is followed by more "
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
		return pcre_translate_fail(tl, "\"%s\" in multi-line mode (m) is not supported",
		                           what);
	if (tl->open_captures > 0 && !(tl->flags & PCRE_TRANSLATE_MATCH_ONLY))
		return pcre_translate_fail(
		    tl,
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
			return pcre_translate_fail(
			    tl,
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
		return pcre_translate_fail(tl, "PCRE verb \"(*...)\" is not supported");
	if (p[1] == '?') {
		char c = p[2];
		if (c == ':') {
			capturing = false;
		} else if (c == '#') {
			const char *end = strchr(p, ')');
			if (end == NULL)
				return pcre_translate_fail(tl, "missing \")\" after a (?# comment");
			tl->p = end + 1;
			return 0;
		} else if (c == '=' || c == '!' || (c == '<' && (p[3] == '=' || p[3] == '!'))) {
			return pcre_translate_fail(
			    tl, "%s \"%.*s\" is not supported (POSIX has no lookaround)",
			    c == '<' ? "lookbehind" : "lookahead", c == '<' ? 4 : 3, p);
		} else if (c == '<' || c == '\'' || (c == 'P' && p[3] == '<')) {
			return pcre_translate_fail(
			    tl,
			    "named group \"%.*s\" is not supported (write a plain group and "
			    "$N)",
			    c == 'P' ? 4 : 3, p);
		} else if (c == 'P' && p[3] == '=') {
			return pcre_translate_fail(tl, "backreference \"(?P=\" is not supported");
		} else if (c == '>') {
			return pcre_translate_fail(tl, "atomic group \"(?>\" is not supported");
		} else if (c == '|') {
			return pcre_translate_fail(tl,
			                           "branch reset group \"(?|\" is not supported");
		} else if (c == '(') {
			return pcre_translate_fail(tl,
			                           "conditional group \"(?(\" is not supported");
		} else if (c == 'R' || c == '&' || c == '+' || pcre_is_digit((unsigned char)c) ||
		           (c == 'P' && p[3] == '>') ||
		           (c == '-' && pcre_is_digit((unsigned char)p[3]))) {
			return pcre_translate_fail(
			    tl, "recursion or subroutine call \"(?%c\" is not supported", c);
		} else if (c == 'C') {
			return pcre_translate_fail(tl, "callout \"(?C\" is not supported");
		} else if (c != '\0' && strchr("imsxXUJn^-", c) != NULL) {
			return pcre_translate_fail(
			    tl,
			    "inline options such as \"(?%c\" are supported only as (?flags) "
			    "at the very start of the pattern",
			    c);
		} else {
			return pcre_translate_fail(tl, "unknown group \"(?%c\"", c);
		}
	}
	if (check_after_dollar(tl) != 0)
		return -1;
	if (tl->depth == PCRE_MAX_DEPTH)
		return pcre_translate_fail(tl, "groups nested too deep");
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
		return pcre_translate_fail(tl, "unmatched \")\"");
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
			return pcre_translate_fail(
			    tl, "\"\\%c\" in multi-line mode (m) is not supported", c);
		tl->p += 2;
		if (c == 'A')
			return start_anchor(tl, "\\A");
		str_append_char(tl->out, '$');
		tl->last = LAST_ANCHOR;
		tl->after_dollar = true;
		return 0;
	case 'G':
		return pcre_translate_fail(tl, "\"\\G\" is not supported");
	case 'K':
		return pcre_translate_fail(tl, "\"\\K\" is not supported");
	case 'g':
	case 'k':
		return pcre_translate_fail(
		    tl,
		    "backreference \"\\%c\" is not supported (POSIX has none in "
		    "extended expressions)",
		    c);
	case 'Q':
		for (tl->p += 2; *tl->p != '\0'; tl->p++) {
			if (tl->p[0] == '\\' && tl->p[1] == 'E') {
				tl->p += 2;
				break;
			}
			if (pcre_translate_emit_literal(tl, (unsigned char)*tl->p) != 0)
				return -1;
			atom_done(tl);
		}
		return 0;
	default:
		break;
	}
	if (c >= '1' && c <= '9')
		return pcre_translate_fail(
		    tl,
		    "backreference \"\\%c\" is not supported (POSIX has none in "
		    "extended expressions)",
		    c);
	unsigned byte;
	struct byte_set set;
	tl->p++;
	int kind = pcre_translate_parse_escape(tl, false, &byte, &set);
	if (kind < 0)
		return -1;
	atom_done(tl);
	return kind == 1 ? pcre_translate_emit_literal(tl, byte)
	                 : pcre_translate_emit_set(tl, &set);
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
				return pcre_translate_fail(
				    tl, "inline option \"%c\" is not supported", p[2 + i]);
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
			} else if (pcre_translate_parse_bracket(tl, &set) != 0) {
				return -1;
			}
			rc = pcre_translate_emit_set(tl, &set);
			atom_done(tl);
		} else {
			rc = pcre_translate_emit_literal(tl, (unsigned char)c);
			tl->p++;
			atom_done(tl);
		}
		if (rc != 0)
			return -1;
	}
	if (tl->depth > 0)
		return pcre_translate_fail(tl, "missing \")\"");
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
			rc = pcre_translate_fail(
			    &tl, "the A (anchored) flag in multi-line mode (m) is not supported");
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

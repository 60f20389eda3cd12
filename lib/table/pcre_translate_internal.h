/*
 * What the files of the PCRE translator (pcre_translate.c, the pattern's
 * structure; pcre_translate_atoms.c, what one atom matches) share with
 * each other and nothing else: programs include table/pcre_translate.h.
 */
#ifndef POSTERN_TABLE_PCRE_TRANSLATE_INTERNAL_H
#define POSTERN_TABLE_PCRE_TRANSLATE_INTERNAL_H

#include <stdbool.h>

#include "table/pcre_classes.h"
#include "table/pcre_translate.h"
#include "util/str.h"

#define PCRE_MAX_DEPTH 64

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

/* Write the message into tl->tr->error; return -1 (pcre_translate.c). */
int pcre_translate_fail(struct translator *tl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- Atoms (pcre_translate_atoms.c); 0 or -1 after pcre_translate_fail ---- */

/* Write the byte c as an ERE literal, escaped where ERE needs it. */
int pcre_translate_emit_literal(struct translator *tl, unsigned c);
/* The bytes of m (a PCRE class, already case-closed when caseless) as
 * one ERE atom. */
int pcre_translate_emit_set(struct translator *tl, const struct byte_set *m);
/* The escape after a backslash at tl->p: a literal byte (1, *byte_r) or
 * a class (2, *class_r); -1 for one that has no translation. Anchors,
 * backreferences and \Q are the caller's. */
int pcre_translate_parse_escape(struct translator *tl, bool in_bracket, unsigned *byte_r,
                                struct byte_set *class_r);
/* The bracket expression at tl->p ("[") as the set it matches. */
int pcre_translate_parse_bracket(struct translator *tl, struct byte_set *result);

#endif

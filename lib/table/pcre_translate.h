/*
 * Translation of a PCRE pattern (as Postfix's pcre_table(5) uses them)
 * into a POSIX extended regular expression for glibc's regcomp, for
 * pcre: tables without libpcre. A pure function over the pattern text:
 * it either gives an ERE that matches exactly the keys the PCRE pattern
 * matches (keys are C strings, bytes in the C locale), with a map from
 * each PCRE capturing group to the ERE group that captures the same
 * text, or it fails with a message naming the construct it cannot
 * translate exactly (lookaround, backreferences, possessive quantifiers,
 * lazy quantifiers whose captures matter, and so on).
 */
#ifndef POSTERN_TABLE_PCRE_TRANSLATE_H
#define POSTERN_TABLE_PCRE_TRANSLATE_H

#include "util/str.h"

/* The pattern flags, as PCRE's options (Postfix's i, m, s, x, A, E, U). */
#define PCRE_TRANSLATE_CASELESS 0x01       /* i */
#define PCRE_TRANSLATE_MULTILINE 0x02      /* m: ^ and $ at newlines too */
#define PCRE_TRANSLATE_DOTALL 0x04         /* s: . matches a newline */
#define PCRE_TRANSLATE_EXTENDED 0x08       /* x: white space and # comments ignored */
#define PCRE_TRANSLATE_ANCHORED 0x10       /* A: matches only at the start */
#define PCRE_TRANSLATE_DOLLAR_ENDONLY 0x20 /* E: $ only at the very end */
#define PCRE_TRANSLATE_UNGREEDY 0x40       /* U: quantifiers lazy, ? makes them greedy */
/* Only whether the pattern matches counts (a negated or if pattern, a
 * result without $N): lazy quantifiers, which change what the groups
 * capture but not whether there is a match, are then accepted. */
#define PCRE_TRANSLATE_MATCH_ONLY 0x80

struct pcre_translation {
	struct str ere;    /* for regcomp(str_cstr(&ere), cflags) */
	int cflags;        /* REG_EXTENDED, and REG_ICASE, REG_NEWLINE as the flags say */
	int capture_count; /* capturing groups in the PCRE pattern */
	/* group_map[n], 1 <= n <= capture_count: the ERE group that captures
	 * what PCRE's group n does; group_map[0] is 0. */
	int *group_map;
	char error[300];
};

/* Translate pattern with the PCRE_TRANSLATE_* flags into *tr (which the
 * caller frees with pcre_translation_free, also after a failure). 0, or
 * -1 with *error_r (in tr->error) saying what cannot be translated. */
int pcre_translate(const char *pattern, unsigned flags, struct pcre_translation *tr,
                   const char **error_r);
void pcre_translation_free(struct pcre_translation *tr);

#endif

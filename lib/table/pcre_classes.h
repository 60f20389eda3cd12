/*
 * Sets of bytes, and the character classes PCRE patterns name ([:alpha:],
 * \d, \w ...) as such sets, in the C locale, for the PCRE translator
 * (pcre_translate*.c), which writes every class out as an explicit
 * bracket expression. Pure functions.
 */
#ifndef POSTERN_TABLE_PCRE_CLASSES_H
#define POSTERN_TABLE_PCRE_CLASSES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct byte_set {
	uint8_t bits[32];
};

void byte_set_add(struct byte_set *s, unsigned c);
bool byte_set_has(const struct byte_set *s, unsigned c);
void byte_set_add_range(struct byte_set *s, unsigned lo, unsigned hi);
void byte_set_union(struct byte_set *s, const struct byte_set *other);
void byte_set_invert(struct byte_set *s);
int byte_set_count(const struct byte_set *s);
/* Add the other case of every ASCII letter in s. */
void byte_set_close_case(struct byte_set *s);

/* ASCII character tests, whatever the locale. */
bool pcre_is_upper(unsigned c);
bool pcre_is_lower(unsigned c);
bool pcre_is_digit(unsigned c);
bool pcre_is_alpha(unsigned c);
bool pcre_is_hex(unsigned c);
unsigned pcre_hex_value(unsigned c);

/* The POSIX class name (len bytes: "alpha", "digit" ...) as a set into
 * *s; false for an unknown name. */
bool pcre_posix_class(const char *name, size_t len, struct byte_set *s);
/* \d \D \s \S \w \W: true and the set for one of those letters. */
bool pcre_escape_class(char letter, struct byte_set *s);

#endif

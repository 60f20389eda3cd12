/*
 * Byte sets and PCRE's character classes (see pcre_classes.h).
 */
#include "table/pcre_classes.h"

#include <string.h>

void byte_set_add(struct byte_set *s, unsigned c)
{
	s->bits[(c >> 3) & 31] |= (uint8_t)(1u << (c & 7));
}

bool byte_set_has(const struct byte_set *s, unsigned c)
{
	return (s->bits[(c >> 3) & 31] >> (c & 7)) & 1;
}

void byte_set_add_range(struct byte_set *s, unsigned lo, unsigned hi)
{
	for (unsigned c = lo; c <= hi; c++)
		byte_set_add(s, c);
}

void byte_set_union(struct byte_set *s, const struct byte_set *other)
{
	for (size_t i = 0; i < sizeof(s->bits); i++)
		s->bits[i] |= other->bits[i];
}

/* The complement over 1..255: a key never holds a NUL. */
void byte_set_invert(struct byte_set *s)
{
	for (size_t i = 0; i < sizeof(s->bits); i++)
		s->bits[i] = (uint8_t)~s->bits[i];
	s->bits[0] &= 0xfe;
}

int byte_set_count(const struct byte_set *s)
{
	int n = 0;
	for (unsigned c = 1; c < 256; c++)
		n += byte_set_has(s, c);
	return n;
}

bool pcre_is_upper(unsigned c)
{
	return c >= 'A' && c <= 'Z';
}

bool pcre_is_lower(unsigned c)
{
	return c >= 'a' && c <= 'z';
}

bool pcre_is_digit(unsigned c)
{
	return c >= '0' && c <= '9';
}

bool pcre_is_alpha(unsigned c)
{
	return pcre_is_upper(c) || pcre_is_lower(c);
}

bool pcre_is_hex(unsigned c)
{
	return pcre_is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

unsigned pcre_hex_value(unsigned c)
{
	return pcre_is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* Letters of the other case too (PCRE's caseless classes). */
void byte_set_close_case(struct byte_set *s)
{
	for (unsigned c = 'A'; c <= 'Z'; c++)
		if (byte_set_has(s, c) || byte_set_has(s, c | 0x20)) {
			byte_set_add(s, c);
			byte_set_add(s, c | 0x20);
		}
}

/* A POSIX class of the C locale by name; false for an unknown name. */
bool pcre_posix_class(const char *name, size_t len, struct byte_set *s)
{
	static const char *const names[] = {"alpha",  "digit", "alnum", "space", "upper",
	                                    "lower",  "punct", "print", "graph", "cntrl",
	                                    "xdigit", "blank", "word",  "ascii"};
	size_t which = 0;
	while (which < sizeof(names) / sizeof(names[0]) &&
	       !(strlen(names[which]) == len && strncmp(names[which], name, len) == 0))
		which++;
	if (which == sizeof(names) / sizeof(names[0]))
		return false;
	memset(s, 0, sizeof(*s));
	for (unsigned c = 1; c < 256; c++) {
		bool in = false;
		switch (which) {
		case 0:
			in = pcre_is_alpha(c);
			break;
		case 1:
			in = pcre_is_digit(c);
			break;
		case 2:
			in = pcre_is_alpha(c) || pcre_is_digit(c);
			break;
		case 3:
			in = (c >= 9 && c <= 13) || c == ' ';
			break;
		case 4:
			in = pcre_is_upper(c);
			break;
		case 5:
			in = pcre_is_lower(c);
			break;
		case 6:
			in = c > 32 && c < 127 && !pcre_is_alpha(c) && !pcre_is_digit(c);
			break;
		case 7:
			in = c >= 32 && c < 127;
			break;
		case 8:
			in = c > 32 && c < 127;
			break;
		case 9:
			in = c < 32 || c == 127;
			break;
		case 10:
			in = pcre_is_hex(c);
			break;
		case 11:
			in = c == ' ' || c == '\t';
			break;
		case 12:
			in = pcre_is_alpha(c) || pcre_is_digit(c) || c == '_';
			break;
		default:
			in = c < 128;
			break;
		}
		if (in)
			byte_set_add(s, c);
	}
	return true;
}

/* \d \D \s \S \w \W: true and the set for one of those letters. */
bool pcre_escape_class(char letter, struct byte_set *s)
{
	const char *name;
	switch (letter | 0x20) {
	case 'd':
		name = "digit";
		break;
	case 's':
		name = "space";
		break;
	case 'w':
		name = "word";
		break;
	default:
		return false;
	}
	pcre_posix_class(name, strlen(name), s);
	if (pcre_is_upper((unsigned char)letter))
		byte_set_invert(s);
	return true;
}

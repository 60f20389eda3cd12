/*
 * IMAP modified UTF-7 (mutf7.h): a strict encoder from UTF-8 and a strict
 * decoder to UTF-8 (UTF-8 read and written by util/utf8.h).
 */
#include "util/mutf7.h"

#include <stdbool.h>
#include <stdint.h>

#include "util/utf8.h"

static const char mutf7_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static bool is_direct(unsigned char c)
{
	return c >= 0x20 && c <= 0x7e;
}

/* The value of a modified base64 character, or -1. */
static int base64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == ',')
		return 63;
	return -1;
}

/* Bits waiting to be written as base64 characters (fewer than 6 after
 * each add). */
struct bit_writer {
	uint32_t bits;
	unsigned count;
};

static void put_unit(struct bit_writer *w, uint32_t unit, struct str *out)
{
	w->bits = (w->bits << 16) | unit;
	w->count += 16;
	while (w->count >= 6) {
		w->count -= 6;
		str_append_char(out, mutf7_alphabet[(w->bits >> w->count) & 0x3f]);
	}
	w->bits &= (1u << w->count) - 1;
}

int mutf7_encode(const char *text, size_t len, struct str *out, const char **error_r)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t start = out->len, i = 0;
	while (i < len) {
		if (is_direct(s[i])) {
			str_append_char(out, (char)s[i]);
			if (s[i] == '&')
				str_append_char(out, '-');
			i++;
			continue;
		}
		/* One shift for the whole run of characters that need it. */
		struct bit_writer w = {0, 0};
		str_append_char(out, '&');
		while (i < len && !is_direct(s[i])) {
			uint32_t cp;
			size_t n = utf8_char_len((const char *)s + i, len - i, &cp);
			if (n == 0) {
				str_truncate(out, start);
				*error_r = "not well-formed UTF-8";
				return -1;
			}
			i += n;
			if (cp >= 0x10000) {
				cp -= 0x10000;
				put_unit(&w, 0xd800 | (cp >> 10), out);
				put_unit(&w, 0xdc00 | (cp & 0x3ff), out);
			} else {
				put_unit(&w, cp, out);
			}
		}
		if (w.count > 0)
			str_append_char(out, mutf7_alphabet[(w.bits << (6 - w.count)) & 0x3f]);
		str_append_char(out, '-');
	}
	return 0;
}

/* Decode the shift starting at s[*pos] (just after the "&", at a base64
 * character) through its "-". NULL, or why it is not canonical. */
static const char *decode_shift(const unsigned char *s, size_t len, size_t *pos, struct str *out)
{
	uint32_t bits = 0, high = 0;
	unsigned count = 0;
	size_t i = *pos;
	for (;;) {
		if (i >= len)
			return "unterminated shift (\"&\" without \"-\")";
		if (s[i] == '-')
			break;
		int v = base64_value(s[i++]);
		if (v < 0)
			return "invalid character in a shift";
		bits = (bits << 6) | (uint32_t)v;
		count += 6;
		if (count < 16)
			continue;
		count -= 16;
		uint32_t unit = (bits >> count) & 0xffff;
		bits &= (1u << count) - 1;
		if (high != 0) {
			if (unit < 0xdc00 || unit > 0xdfff)
				return "high surrogate without low surrogate";
			(void)utf8_encode(0x10000 + ((high - 0xd800) << 10) + (unit - 0xdc00), out);
			high = 0;
		} else if (unit >= 0xd800 && unit <= 0xdbff) {
			high = unit;
		} else if (unit >= 0xdc00 && unit <= 0xdfff) {
			return "low surrogate without high surrogate";
		} else if (unit >= 0x20 && unit <= 0x7e) {
			return "printable ASCII in a shift";
		} else {
			(void)utf8_encode(unit, out);
		}
	}
	if (high != 0)
		return "high surrogate at the end of a shift";
	if (count >= 6 || bits != 0)
		return "bad padding at the end of a shift";
	*pos = i + 1; /* past the "-" */
	return NULL;
}

int mutf7_decode(const char *text, size_t len, struct str *out, const char **error_r)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t start = out->len, i = 0;
	bool after_shift = false;
	const char *error = NULL;
	while (i < len && error == NULL) {
		if (!is_direct(s[i])) {
			error = "character outside printable ASCII";
		} else if (s[i] != '&') {
			str_append_char(out, (char)s[i++]);
			after_shift = false;
		} else if (i + 1 < len && s[i + 1] == '-') {
			str_append_char(out, '&');
			i += 2;
			after_shift = false;
		} else if (i + 1 >= len) {
			error = "\"&\" at the end";
		} else if (base64_value(s[i + 1]) < 0) {
			error = "\"&\" followed by neither \"-\" nor base64";
		} else if (after_shift) {
			error = "a shift right after another";
		} else {
			i++;
			error = decode_shift(s, len, &i, out);
			after_shift = true;
		}
	}
	if (error != NULL) {
		str_truncate(out, start);
		*error_r = error;
		return -1;
	}
	return 0;
}

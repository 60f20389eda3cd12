/*
 * IMAP modified UTF-7 (mutf7.h): a strict encoder from UTF-8 and a strict
 * decoder to UTF-8. util/ knows no mail formats, so the UTF-8 reading
 * needed here is done here (the same rules as RFC 3629).
 */
#include "util/mutf7.h"

#include <stdbool.h>
#include <stdint.h>

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

/* Length (1..4) of the well-formed UTF-8 character at the start of s, with
 * its code point in *cp_r; 0 if there is none. */
static size_t utf8_next(const unsigned char *s, size_t len, uint32_t *cp_r)
{
	if (len == 0)
		return 0;
	if (s[0] < 0x80) {
		*cp_r = s[0];
		return 1;
	}
	size_t n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : 2;
	static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
	/* 0x80-0xc1 (continuations, overlong leads) and 0xf5-0xff never lead. */
	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	uint32_t cp = s[0] & (0x7f >> n);
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min_cp[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*cp_r = cp;
	return n;
}

static void utf8_append(struct str *out, uint32_t cp)
{
	char buf[4];
	size_t n;
	if (cp < 0x80) {
		buf[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		buf[0] = (char)(0xc0 | (cp >> 6));
		buf[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		buf[0] = (char)(0xe0 | (cp >> 12));
		buf[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		buf[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		buf[0] = (char)(0xf0 | (cp >> 18));
		buf[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		buf[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		buf[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	str_append(out, buf, n);
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
			size_t n = utf8_next(s + i, len - i, &cp);
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
			utf8_append(out, 0x10000 + ((high - 0xd800) << 10) + (unit - 0xdc00));
			high = 0;
		} else if (unit >= 0xd800 && unit <= 0xdbff) {
			high = unit;
		} else if (unit >= 0xdc00 && unit <= 0xdfff) {
			return "low surrogate without high surrogate";
		} else if (unit >= 0x20 && unit <= 0x7e) {
			return "printable ASCII in a shift";
		} else {
			utf8_append(out, unit);
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

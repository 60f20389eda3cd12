/*
 * xtext (RFC 3461) and unitext (RFC 6533) encoding and decoding.
 */
#include "smtp/xtext.h"

#include <inttypes.h>
#include <stdint.h>

#include "util/utf8.h"

static const char hex_digits[] = "0123456789ABCDEF";

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* The value of two hex digits, or -1. */
static int hex_pair(const char *p)
{
	int hi = hex_value(p[0]), lo = hex_value(p[1]);
	return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

static bool is_xchar(unsigned char c)
{
	return c >= '!' && c <= '~' && c != '+' && c != '=';
}

int xtext_decode(const char *text, size_t len, struct str *out, const char **error_r)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		if (c == '+') {
			int value = len - i >= 3 ? hex_pair(text + i + 1) : -1;
			if (value < 0) {
				*error_r = "bad xtext escape";
				return -1;
			}
			if (value == 0) {
				*error_r = "xtext escape of NUL";
				return -1;
			}
			str_append_char(out, (char)value);
			i += 2;
		} else if (is_xchar(c)) {
			str_append_char(out, (char)c);
		} else {
			*error_r = "invalid character in xtext";
			return -1;
		}
	}
	return 0;
}

void xtext_encode(const void *data, size_t len, struct str *out)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < len; i++) {
		if (is_xchar(p[i])) {
			str_append_char(out, (char)p[i]);
		} else {
			str_append_char(out, '+');
			str_append_char(out, hex_digits[p[i] >> 4]);
			str_append_char(out, hex_digits[p[i] & 0x0F]);
		}
	}
}

/* QCHAR of RFC 6533: printable ASCII except '+', '=' and '\'. */
static bool is_qchar(unsigned char c)
{
	return is_xchar(c) && c != '\\';
}

/* Code points below 0x80 that may (and must) be written as an escape. */
static bool is_escaped_ascii(uint32_t cp)
{
	return (cp >= 0x01 && cp <= 0x20) || cp == '+' || cp == '=' || cp == '\\' || cp == 0x7F;
}

/* Check a HEXPOINT of ndigits digits with value cp. */
static bool hexpoint_ok(const char *digits, size_t ndigits, uint32_t cp)
{
	if (ndigits == 2)
		return cp >= 0x80 || is_escaped_ascii(cp);
	if (ndigits < 2 || ndigits > 6 || digits[0] == '0')
		return false;
	return cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
}

/* Decode the "\x{HEX}" at text (len bytes left); returns bytes used, 0 on error. */
static size_t unitext_escape(const char *text, size_t len, struct str *out)
{
	if (len < 5 || text[1] != 'x' || text[2] != '{')
		return 0;
	uint32_t cp = 0;
	size_t n = 0;
	while (3 + n < len && n <= 6) {
		int v = hex_value(text[3 + n]);
		if (v < 0)
			break;
		cp = cp * 16 + (uint32_t)v;
		n++;
	}
	if (3 + n >= len || text[3 + n] != '}' || !hexpoint_ok(text + 3, n, cp))
		return 0;
	utf8_encode(cp, out);
	return 3 + n + 1;
}

int unitext_decode(const char *text, size_t len, struct str *out, const char **error_r)
{
	size_t i = 0;
	while (i < len) {
		unsigned char c = (unsigned char)text[i];
		size_t n;
		if (c == '\\') {
			n = unitext_escape(text + i, len - i, out);
			if (n == 0) {
				*error_r = "bad unitext escape";
				return -1;
			}
		} else if (c < 0x80) {
			if (!is_qchar(c)) {
				*error_r = "invalid character in unitext";
				return -1;
			}
			str_append_char(out, (char)c);
			n = 1;
		} else {
			n = utf8_char_len(text + i, len - i, NULL);
			if (n == 0) {
				*error_r = "invalid UTF-8 in unitext";
				return -1;
			}
			str_append(out, text + i, n);
		}
		i += n;
	}
	return 0;
}

static void append_escape(uint32_t cp, struct str *out)
{
	str_printf(out, "\\x{%02" PRIX32 "}", cp);
}

int unitext_encode(const char *text, size_t len, bool ascii_only, struct str *out)
{
	size_t i = 0;
	while (i < len) {
		uint32_t cp;
		size_t n = utf8_char_len(text + i, len - i, &cp);
		if (n == 0 || cp == 0)
			return -1;
		if (cp < 0x80 && is_qchar((unsigned char)cp))
			str_append_char(out, (char)cp);
		else if (cp >= 0x80 && !ascii_only)
			str_append(out, text + i, n);
		else
			append_escape(cp, out);
		i += n;
	}
	return 0;
}

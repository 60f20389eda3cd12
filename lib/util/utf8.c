/*
 * UTF-8 validation and encoding (RFC 3629), byte by byte with the table
 * of well-formed sequences from RFC 3629 section 4.
 */
#include "util/utf8.h"

/* The allowed range of the second byte for each lead byte; the third and
 * fourth bytes are always 0x80..0xBF. */
static bool lead_info(unsigned char c, size_t *len_r, unsigned char *lo_r, unsigned char *hi_r)
{
	*lo_r = 0x80;
	*hi_r = 0xBF;
	if (c >= 0xC2 && c <= 0xDF)
		*len_r = 2;
	else if (c == 0xE0) {
		*len_r = 3;
		*lo_r = 0xA0; /* no overlongs */
	} else if (c == 0xED) {
		*len_r = 3;
		*hi_r = 0x9F; /* no surrogates */
	} else if (c >= 0xE1 && c <= 0xEF)
		*len_r = 3;
	else if (c == 0xF0) {
		*len_r = 4;
		*lo_r = 0x90; /* no overlongs */
	} else if (c >= 0xF1 && c <= 0xF3)
		*len_r = 4;
	else if (c == 0xF4) {
		*len_r = 4;
		*hi_r = 0x8F; /* nothing past U+10FFFF */
	} else
		return false;
	return true;
}

size_t utf8_char_len(const char *s, size_t len, uint32_t *cp_r)
{
	if (len == 0)
		return 0;
	const unsigned char *p = (const unsigned char *)s;
	if (p[0] < 0x80) {
		if (cp_r)
			*cp_r = p[0];
		return 1;
	}
	size_t n;
	unsigned char lo, hi;
	if (!lead_info(p[0], &n, &lo, &hi) || len < n)
		return 0;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xBF)
			return 0;
	if (cp_r) {
		uint32_t cp = p[0] & (n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07);
		for (size_t i = 1; i < n; i++)
			cp = (cp << 6) | (p[i] & 0x3F);
		*cp_r = cp;
	}
	return n;
}

bool utf8_valid(const char *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		size_t n = utf8_char_len(s + i, len - i, NULL);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

bool utf8_has_non_ascii(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			return true;
	return false;
}

bool utf8_encode(uint32_t cp, struct str *out)
{
	if (cp < 0x80) {
		str_append_char(out, (char)cp);
	} else if (cp < 0x800) {
		str_append_char(out, (char)(0xC0 | (cp >> 6)));
		str_append_char(out, (char)(0x80 | (cp & 0x3F)));
	} else if (cp < 0x10000) {
		if (cp >= 0xD800 && cp <= 0xDFFF)
			return false;
		str_append_char(out, (char)(0xE0 | (cp >> 12)));
		str_append_char(out, (char)(0x80 | ((cp >> 6) & 0x3F)));
		str_append_char(out, (char)(0x80 | (cp & 0x3F)));
	} else if (cp <= 0x10FFFF) {
		str_append_char(out, (char)(0xF0 | (cp >> 18)));
		str_append_char(out, (char)(0x80 | ((cp >> 12) & 0x3F)));
		str_append_char(out, (char)(0x80 | ((cp >> 6) & 0x3F)));
		str_append_char(out, (char)(0x80 | (cp & 0x3F)));
	} else {
		return false;
	}
	return true;
}

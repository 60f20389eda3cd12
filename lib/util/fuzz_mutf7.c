/* Fuzz target: IMAP modified UTF-7. Whatever the input, decoding does not
 * crash; well-formed UTF-8 (by an independent check here) encodes to
 * printable ASCII that decodes back to it, and nothing else encodes; what
 * decodes is UTF-8 whose encoding is the input again (one form per name). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/mutf7.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* RFC 3629's table of well-formed byte sequences. */
static bool reference_utf8_valid(const uint8_t *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		uint8_t c = s[i];
		size_t n;
		uint8_t lo = 0x80, hi = 0xbf; /* range of the second byte */
		if (c <= 0x7f) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			n = 2;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 3;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 4;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
		} else {
			return false;
		}
		if (len - i < n || s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (size_t k = 2; k < n; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xbf)
				return false;
		i += n;
	}
	return true;
}

static bool same(const struct str *s, const void *data, size_t len)
{
	return s->len == len && (len == 0 || memcmp(s->data, data, len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	const char *error = NULL;
	struct str enc = STR_INIT, dec = STR_INIT;

	bool valid = reference_utf8_valid(data, size);
	if ((mutf7_encode(text, size, &enc, &error) == 0) != valid)
		abort();
	if (valid) {
		for (size_t i = 0; i < enc.len; i++)
			if (enc.data[i] < 0x20 || enc.data[i] > 0x7e)
				abort();
		if (mutf7_decode(enc.data, enc.len, &dec, &error) != 0 || !same(&dec, data, size))
			abort();
	} else if (enc.len != 0 || error == NULL) {
		abort();
	}

	str_clear(&enc);
	str_clear(&dec);
	if (mutf7_decode(text, size, &dec, &error) == 0) {
		if (!reference_utf8_valid((const uint8_t *)dec.data, dec.len))
			abort();
		if (mutf7_encode(dec.data, dec.len, &enc, &error) != 0 || !same(&enc, data, size))
			abort();
	} else if (dec.len != 0) {
		abort();
	}
	str_free(&enc);
	str_free(&dec);
	return 0;
}

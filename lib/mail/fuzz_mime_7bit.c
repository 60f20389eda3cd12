/* Fuzz target: the 7-bit conversion of any content gives the same result
 * however the input is cut in either pass, leaves content with no 8-bit
 * byte and no "8bit" or "binary" label byte for byte as it was, and
 * changes nothing when run again on its own output. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/mime_7bit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool has_label(const uint8_t *data, size_t size)
{
	for (size_t i = 0; i < size; i++) {
		if (size - i >= 4 && strncasecmp((const char *)data + i, "8bit", 4) == 0)
			return true;
		if (size - i >= 6 && strncasecmp((const char *)data + i, "binary", 6) == 0)
			return true;
	}
	return false;
}

static bool has_8bit(const uint8_t *data, size_t size)
{
	for (size_t i = 0; i < size; i++)
		if (data[i] & 0x80)
			return true;
	return false;
}

static bool same(const struct str *a, const struct str *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct str whole = STR_INIT, cut = STR_INIT, again = STR_INIT;
	mime_7bit_convert(data, size, &whole);

	/* Pieces whose sizes come from the input itself. */
	struct mime_7bit *m = mime_7bit_new();
	for (size_t at = 0, n; at < size; at += n) {
		n = 1 + data[at] % 13;
		mime_7bit_scan(m, data + at, size - at < n ? size - at : n);
	}
	mime_7bit_scan_end(m);
	for (size_t at = 0, n; at < size; at += n) {
		n = 1 + data[size - 1 - at] % 29;
		mime_7bit_put(m, data + at, size - at < n ? size - at : n, &cut);
	}
	mime_7bit_end(m, &cut);
	mime_7bit_free(m);
	if (!same(&whole, &cut))
		abort();

	if (!has_8bit(data, size) && !has_label(data, size) &&
	    (whole.len != size || (size && memcmp(whole.data, data, size) != 0)))
		abort();

	mime_7bit_convert(whole.data, whole.len, &again);
	if (!same(&whole, &again))
		abort();
	str_free(&whole);
	str_free(&cut);
	str_free(&again);
	return 0;
}

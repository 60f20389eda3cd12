/* Fuzz target: mailbox parsing, HELO checks, xtext and unitext. The first
 * byte selects SMTPUTF8; the rest is the text. Checks that the canonical
 * form of a parsed address parses to the same address and that encoders
 * and decoders are inverses. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/address.h"
#include "smtp/xtext.h"
#include "util/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same_bytes(const struct str *s, const char *text, size_t len)
{
	return s->len == len && (len == 0 || memcmp(s->data, text, len) == 0);
}

static void fuzz_address(const char *text, size_t len, bool utf8)
{
	struct address a, b;
	const char *error = NULL;
	if (address_parse(text, len, utf8, &a, &error) != 0) {
		if (error == NULL || a.local != NULL || a.domain != NULL)
			abort();
		return;
	}
	if (!utf8 && !address_is_ascii(&a))
		abort();
	char *canonical = address_to_string(&a);
	if (strlen(canonical) > len)
		abort(); /* canonical is never longer than what was sent */
	if (address_parse(canonical, strlen(canonical), utf8, &b, &error) != 0 ||
	    strcmp(a.local, b.local) != 0 || strcmp(a.domain, b.domain) != 0)
		abort();
	char *again = address_to_string(&b);
	if (strcmp(canonical, again) != 0)
		abort();
	/* Quoting the local part and unquoting it gives it back. */
	struct str quoted = STR_INIT, unquoted = STR_INIT;
	if (!address_is_null(&a)) {
		address_quote_local(a.local, strlen(a.local), &quoted);
		if (address_unquote_local(quoted.data, quoted.len, utf8, &unquoted, &error) != 0 ||
		    strcmp(str_cstr(&unquoted), a.local) != 0)
			abort();
	}
	str_free(&quoted);
	str_free(&unquoted);
	free(again);
	free(canonical);
	address_free(&a);
	address_free(&b);
}

static void fuzz_xtext(const char *text, size_t len)
{
	struct str enc = STR_INIT, dec = STR_INIT;
	const char *error;
	/* Anything without NUL survives encode + decode. */
	if (memchr(text, '\0', len) == NULL) {
		xtext_encode(text, len, &enc);
		if (xtext_decode(enc.data, enc.len, &dec, &error) != 0 ||
		    !same_bytes(&dec, text, len))
			abort();
	}
	str_clear(&enc);
	str_clear(&dec);
	/* Whatever decodes, re-encodes to something that decodes the same. */
	if (xtext_decode(text, len, &dec, &error) == 0) {
		xtext_encode(dec.data, dec.len, &enc);
		struct str dec2 = STR_INIT;
		if (xtext_decode(enc.data, enc.len, &dec2, &error) != 0 ||
		    !same_bytes(&dec2, dec.data, dec.len))
			abort();
		str_free(&dec2);
	}
	str_free(&enc);
	str_free(&dec);
}

static void fuzz_unitext(const char *text, size_t len)
{
	struct str enc = STR_INIT, dec = STR_INIT;
	const char *error;
	bool encodable = utf8_valid(text, len) && memchr(text, '\0', len) == NULL;
	for (int ascii = 0; ascii < 2; ascii++) {
		str_clear(&enc);
		str_clear(&dec);
		if ((unitext_encode(text, len, ascii, &enc) == 0) != encodable)
			abort();
		if (encodable && (unitext_decode(enc.data, enc.len, &dec, &error) != 0 ||
		                  !same_bytes(&dec, text, len)))
			abort();
		if (encodable && ascii && utf8_has_non_ascii(enc.data, enc.len))
			abort();
	}
	str_clear(&dec);
	if (unitext_decode(text, len, &dec, &error) == 0 && !utf8_valid(dec.data, dec.len))
		abort();
	str_free(&enc);
	str_free(&dec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	bool utf8 = data[0] & 1;
	const char *text = (const char *)data + 1;
	size_t len = size - 1;
	fuzz_address(text, len, utf8);
	if (helo_syntax_ok(text, len, true) && !helo_syntax_ok(text, len, false))
		abort();
	const char *error;
	(void)address_check_domain(text, len, utf8, &error);
	fuzz_xtext(text, len);
	fuzz_unitext(text, len);
	return 0;
}

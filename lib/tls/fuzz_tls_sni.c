/* Fuzz target: the check of an SNI name a TLS client sends
 * (tls_sni_name_valid) and the parent-domain keys looked up for it,
 * checking what they promise: a valid name is at most 255 bytes of
 * letters, digits, '-', '_' and '.', with no empty label and not only
 * digits and dots; every look-up key is a ".domain" suffix of the name,
 * each shorter than the one before. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tls/tls_sni.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool allowed(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *name = (const char *)data;
	if (!tls_sni_name_valid(name, size))
		return 0;
	if (size == 0 || size > TLS_SNI_NAME_MAX || name[0] == '.' || name[size - 1] == '.')
		abort();
	bool only_digits = true;
	for (size_t i = 0; i < size; i++) {
		unsigned char c = data[i];
		if (!allowed(c) || (c == '.' && i + 1 < size && name[i + 1] == '.'))
			abort();
		if (c != '.' && (c < '0' || c > '9'))
			only_digits = false;
	}
	if (only_digits)
		abort();
	char copy[TLS_SNI_NAME_MAX + 1];
	memcpy(copy, data, size);
	copy[size] = '\0';
	size_t before = size;
	for (const char *key = tls_sni_parent(copy); key != NULL; key = tls_sni_parent(key)) {
		size_t len = strlen(key);
		if (key[0] != '.' || len < 2 || len >= before || key < copy || key >= copy + size)
			abort();
		before = len;
	}
	return 0;
}

/*
 * Password hashing and verification with libxcrypt's crypt_rn() and
 * crypt_gensalt_rn(). The comparison of the computed hash with the stored
 * one takes the same time wherever they differ (CRYPTO_memcmp), and the
 * buffers that held derived material are cleared afterwards.
 */
#include "auth/password.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

/* Preferred first; the first one this system's libcrypt supports is used. */
static const char *const hash_prefixes[] = {"$y$", "$6$"};

char *password_hash(const char *plain, const char **error_r)
{
	if (plain == NULL || *plain == '\0') {
		*error_r = "empty password";
		return NULL;
	}
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *data = xcalloc(1, sizeof(*data));
	char *result = NULL;
	for (size_t i = 0; i < sizeof(hash_prefixes) / sizeof(hash_prefixes[0]); i++) {
		if (crypt_gensalt_rn(hash_prefixes[i], 0, NULL, 0, setting, sizeof(setting)) ==
		    NULL)
			continue;
		const char *hash = crypt_rn(plain, setting, data, (int)sizeof(*data));
		if (hash != NULL && hash[0] != '*') {
			result = xstrdup(hash);
			break;
		}
	}
	explicit_bzero(data, sizeof(*data));
	free(data);
	if (result == NULL)
		*error_r = "crypt(3) supports neither yescrypt nor sha512-crypt";
	return result;
}

bool password_hash_usable(const char *hash)
{
	if (hash == NULL || hash[0] == '\0' || hash[0] == '!' || hash[0] == '*')
		return false;
	return strpbrk(hash, " \t\r\n:") == NULL;
}

bool password_verify(const char *plain, const char *hash)
{
	if (plain == NULL || !password_hash_usable(hash))
		return false;
	struct crypt_data *data = xcalloc(1, sizeof(*data));
	const char *computed = crypt_rn(plain, hash, data, (int)sizeof(*data));
	bool match = false;
	if (computed != NULL && computed[0] != '*') {
		size_t len = strlen(hash);
		match = strlen(computed) == len && CRYPTO_memcmp(computed, hash, len) == 0;
	}
	explicit_bzero(data, sizeof(*data));
	free(data);
	return match;
}

/*
 * Password hashes in crypt(3) form (libxcrypt): yescrypt ("$y$") for new
 * hashes, sha512-crypt ("$6$") where yescrypt is unavailable; any hash the
 * system's crypt understands verifies. A hash that is empty or starts with
 * '!' or '*' is a locked account and never verifies. Plain-text passwords
 * are never stored.
 */
#ifndef POSTERN_AUTH_PASSWORD_H
#define POSTERN_AUTH_PASSWORD_H

#include <stdbool.h>

/* Hash plain (non-empty) with a fresh random salt. Returns a malloc'd
 * string, or NULL with *error_r (static). */
char *password_hash(const char *plain, const char **error_r);

/* True if hash can ever verify: not empty, not locked ('!' or '*' first),
 * free of white space and ':'. */
bool password_hash_usable(const char *hash);

/* True if plain matches hash. Computes crypt(plain, hash) and compares the
 * result in constant time; false for unusable hashes and on any error. */
bool password_verify(const char *plain, const char *hash);

#endif

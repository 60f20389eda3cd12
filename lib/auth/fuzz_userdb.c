/* Fuzz target: the user database source parser (userdb.h): addresses come
 * out normalized, errors exactly when it fails, diagnostics name the file,
 * and what it writes back parses to the same users. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/userdb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Parse text; abort on a broken promise. Returns the number of users, or
 * -1 if the text had errors. */
static long parse_checked(const char *text, size_t size, struct str *formatted)
{
	struct userdb *db = userdb_new();
	struct diag_list diags;
	diag_list_init(&diags);
	int rc = userdb_parse(db, "users", text, size, &diags);
	if ((rc == 0) == diag_has_errors(&diags))
		abort();
	for (size_t i = 0; i < diags.count; i++)
		if (strncmp(diags.items[i].text, "users:", 6) != 0)
			abort();
	size_t pos = 0, n = 0;
	const struct userdb_user *u;
	while ((u = userdb_next(db, &pos)) != NULL) {
		n++;
		if (strpbrk(u->address, "ABCDEFGHIJKLMNOPQRSTUVWXYZ: \t") != NULL ||
		    strchr(u->address, '@') == NULL || u->hash[0] == '\0' ||
		    userdb_find(db, u->address) == NULL)
			abort();
	}
	if (n != userdb_count(db))
		abort();
	if (rc == 0 && formatted != NULL)
		userdb_format(db, formatted);
	diag_list_free(&diags);
	userdb_free(db);
	return rc == 0 ? (long)n : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct str out = STR_INIT;
	long n = parse_checked((const char *)data, size, &out);
	if (n >= 0 && parse_checked(str_cstr(&out), out.len, NULL) != n)
		abort();
	str_free(&out);
	return 0;
}

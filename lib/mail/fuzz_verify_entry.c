/* Fuzz target: an address verification cache entry as read from the file
 * (another version, a damaged file). Whatever parses must encode to text
 * that parses again to the same entry. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/verify_cache.h"
#include "util/str.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct verify_entry e;
	if (!verify_entry_parse((const char *)data, size, &e))
		return 0;
	struct str text = STR_INIT;
	verify_entry_encode(&e, &text);
	struct verify_entry again;
	if (!verify_entry_parse(text.data, text.len, &again))
		abort();
	if (again.status != e.status || again.updated != e.updated || again.probed != e.probed ||
	    strcmp(again.reason, e.reason) != 0)
		abort();
	verify_entry_free(&again);
	verify_entry_free(&e);
	str_free(&text);
	return 0;
}

/* Fuzz target: virtual alias expansion of untrusted recipient addresses
 * (virtual_alias_expand, extension_base_len) over a fixed table with
 * chains, a catch-all, bare user keys, extensions and loops, checking
 * that the outcome and its addresses agree: an unchanged address comes
 * back as itself, an expansion has addresses and no duplicates, a
 * failure has a status and a reason and no addresses. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "mail/extension.h"
#include "mail/virtual_alias.h"
#include "table/table.h"
#include "util/alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct table_entry entries[] = {
    {"a@v.test", "b@v.test, c@m.test"},
    {"b@v.test", "d@m.test e"},
    {"l1@v.test", "l2@v.test"},
    {"l2@v.test", "l1@v.test, x@m.test"},
    {"s@v.test", "s@v.test s@m.test"},
    {"@c.test", "a@v.test"},
    {"u", "u@m.test"},
    {"v.test", "domain"},
};

static struct virtual_alias *va;
static char dir[] = "/tmp/postern-fuzz-valias-XXXXXX";
static char *path;

static void cleanup(void)
{
	unlink(path);
	rmdir(dir);
}

static void setup(void)
{
	if (mkdtemp(dir) == NULL)
		abort();
	path = xasprintf("%s/virtual.lmdb", dir);
	atexit(cleanup);
	const char *error;
	if (table_build_lmdb(path, entries, sizeof(entries) / sizeof(entries[0]), 0644, (gid_t)-1,
	                     &error) != 0)
		abort();
	static char *maps[2];
	static char *domains[3];
	static char *mydest[] = {"l.test", NULL};
	maps[0] = xasprintf("lmdb:%s", path);
	domains[0] = maps[0];
	domains[1] = "c.test";
	struct virtual_alias_settings s = {
	    .maps = maps,
	    .domains = domains,
	    .mydestination = mydest,
	    .myorigin = "o.test",
	    .delimiter = "+-",
	    .recursion_limit = 20,
	    .expansion_limit = 20,
	};
	va = virtual_alias_new(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (va == NULL)
		setup();
	char *address = xstrndup((const char *)data, size); /* up to a NUL */
	size_t len = strlen(address);
	if (extension_base_len(address, len, "+-") > len)
		abort();
	struct virtual_alias_expansion x;
	enum virtual_alias_outcome rc = virtual_alias_expand(va, address, &x);
	switch (rc) {
	case VIRTUAL_ALIAS_UNCHANGED:
		if (x.count != 1 || strcmp(x.addresses[0], address) != 0)
			abort();
		break;
	case VIRTUAL_ALIAS_EXPANDED:
		if (x.count == 0 || x.count > 20)
			abort();
		for (size_t i = 0; i < x.count; i++)
			for (size_t j = i + 1; j < x.count; j++)
				if (strcasecmp(x.addresses[i], x.addresses[j]) == 0)
					abort();
		break;
	default:
		if (x.count != 0 || x.reason == NULL || x.status[0] == '\0')
			abort();
		break;
	}
	virtual_alias_expansion_free(&x);
	free(address);
	return 0;
}

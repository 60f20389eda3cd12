/*
 * Tests of generic(5) mapping (generic_map.h): the key order (the
 * address, without its extension, the bare user for local domains only,
 * @domain), several tables searched key by key, case, "@otherdomain"
 * results, results without a domain, extensions propagated or not,
 * address literals of this host, multi-valued and bad values, a regexp
 * table asked only the whole address, and a table that cannot be opened.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mail/generic_map.h"
#include "util/alloc.h"
#include "util/testing.h"

static char tmpdir[] = "/tmp/postern-test-generic-XXXXXX";
static char *result;

static char *const mydestination[] = {"box.local", "localhost", NULL};

static const char *primary = "inline:{ root@localhost.localdomain=me@example.com, "
                             "exact+tag@box.local=tagged@example.com, "
                             "user@box.local=user@example.com, "
                             "local=local-result@example.com, "
                             "@localdomain.local=me@example.com, "
                             "@rename.local=@example.net, "
                             "Upper@Box.Local=never@example.com, "
                             "bare@box.local=nodomain, "
                             "{ multi@box.local = first@example.com, second@example.com }, "
                             "{ named@box.local = Some One <someone@example.com> }, "
                             "bad@box.local=@, "
                             "{ bad2@box.local = not an address } }";

static const char *secondary = "inline:{ user@box.local=second-table@example.com, "
                               "other@box.local=other@example.com, "
                               "@box.local=catchall@example.com }";

/* Map address with these tables; "ERROR: ..." on failure, "-" when
 * unchanged. */
static const char *map_with(char *const *maps, bool propagate, const struct addr_set *own,
                            const char *address)
{
	struct generic_map_settings s = {
	    .maps = maps,
	    .mydestination = mydestination,
	    .myorigin = "localhost.localdomain",
	    .delimiter = "+",
	    .propagate = propagate,
	    .own_addrs = own,
	};
	struct generic_map *gm = generic_map_new(&s);
	struct str out = STR_INIT;
	const char *error = "";
	int rc = generic_map_lookup(gm, address, &out, &error);
	free(result);
	if (rc == 1)
		result = xstrdup(str_cstr(&out));
	else if (rc == 0)
		result = xstrdup("-");
	else
		result = xasprintf("ERROR: %s", error);
	str_free(&out);
	generic_map_free(gm);
	return result;
}

static const char *map(const char *address)
{
	char *maps[] = {(char *)primary, (char *)secondary, NULL};
	return map_with(maps, false, NULL, address);
}

TEST(key_order)
{
	CHECK_STR(map("root@localhost.localdomain"), "me@example.com");
	CHECK_STR(map("ROOT@LocalHost.LocalDomain"), "me@example.com");
	/* The first table's user@box.local wins over the second's. */
	CHECK_STR(map("user@box.local"), "user@example.com");
	/* A key the first table lacks is looked for in the second before
	 * the next key is tried in the first. */
	CHECK_STR(map("other@box.local"), "other@example.com");
	/* @domain comes last. */
	CHECK_STR(map("someone@localdomain.local"), "me@example.com");
	CHECK_STR(map("nobody@box.local"), "catchall@example.com");
	CHECK_STR(map("nobody@elsewhere.example"), "-");
	CHECK_STR(map(""), "-");
	/* A table key with capitals never matches (keys are lower-cased). */
	CHECK_STR(map("upper@box.local"), "catchall@example.com");
}

TEST(bare_user_keys)
{
	/* "local" applies to myorigin and mydestination only. */
	CHECK_STR(map("local@localhost.localdomain"), "local-result@example.com");
	CHECK_STR(map("local@localhost"), "local-result@example.com");
	CHECK_STR(map("local@elsewhere.example"), "-");
	/* An address without a domain is taken as @myorigin. */
	CHECK_STR(map("root"), "me@example.com");
	CHECK_STR(map("local"), "local-result@example.com");
	/* [address] of this host is local too. */
	struct addr_set *own = addr_set_new();
	const char *error = "";
	CHECK(addr_set_add_address(own, "192.0.2.7", &error) == 0);
	CHECK(addr_set_add_address(own, "2001:db8::7", &error) == 0);
	char *maps[] = {(char *)primary, NULL};
	CHECK_STR(map_with(maps, false, own, "local@[192.0.2.7]"), "local-result@example.com");
	CHECK_STR(map_with(maps, false, own, "local@[IPv6:2001:db8::7]"),
	          "local-result@example.com");
	CHECK_STR(map_with(maps, false, own, "local@[192.0.2.8]"), "-");
	CHECK_STR(map_with(maps, false, NULL, "local@[192.0.2.7]"), "-");
	addr_set_free(own);
}

TEST(results)
{
	/* @otherdomain keeps the user. */
	CHECK_STR(map("Someone@rename.local"), "Someone@example.net");
	/* Without a domain: @myorigin. */
	CHECK_STR(map("bare@box.local"), "nodomain@localhost.localdomain");
	/* More than one: the first. */
	CHECK_STR(map("multi@box.local"), "first@example.com");
	/* The address of "Name <address>". */
	CHECK_STR(map("named@box.local"), "someone@example.com");
	CHECK(strncmp(map("bad@box.local"), "ERROR: ", 7) == 0);
	CHECK(strstr(map("bad2@box.local"), "is not an address") != NULL);
}

TEST(extensions)
{
	/* The exact key with its extension wins. */
	CHECK_STR(map("exact+tag@box.local"), "tagged@example.com");
	/* Matched without the extension: it is dropped, unless propagate. */
	CHECK_STR(map("user+news@box.local"), "user@example.com");
	char *maps[] = {(char *)primary, (char *)secondary, NULL};
	CHECK_STR(map_with(maps, true, NULL, "user+news@box.local"), "user+news@example.com");
	CHECK_STR(map_with(maps, true, NULL, "local+x@localhost"), "local-result+x@example.com");
	CHECK_STR(map_with(maps, false, NULL, "local+x@localhost"), "local-result@example.com");
	/* @domain keeps the whole local part, extension included. */
	CHECK_STR(map("a+b@rename.local"), "a+b@example.net");
	CHECK_STR(map("a+b@localdomain.local"), "me@example.com");
}

TEST(regexp_table)
{
	char *path = xasprintf("%s/generic.regexp", tmpdir);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f == NULL)
		return;
	fputs("/^(.*)@host\\.local$/ ${1}@example.org\n/^local$/ must-not-match@example.org\n"
	      "/^@/ must-not-match@example.org\n",
	      f);
	fclose(f);
	char *spec = xasprintf("regexp:%s", path);
	char *maps[] = {spec, NULL};
	/* The whole address, as written. */
	CHECK_STR(map_with(maps, false, NULL, "John.Smith@host.local"), "John.Smith@example.org");
	/* Never a bare user or @domain key. */
	CHECK_STR(map_with(maps, false, NULL, "local@localhost"), "-");
	CHECK_STR(map_with(maps, false, NULL, "x@other.local"), "-");
	unlink(path);
	free(spec);
	free(path);
}

TEST(table_errors)
{
	char *maps[] = {(char *)"lmdb:/nonexistent/generic", NULL};
	CHECK(strncmp(map_with(maps, false, NULL, "root@localhost"), "ERROR: ", 7) == 0);
	char *none[] = {NULL};
	CHECK_STR(map_with(none, false, NULL, "root@localhost"), "-");
	struct generic_map_settings s = {.maps = none};
	struct generic_map *gm = generic_map_new(&s);
	CHECK(!generic_map_enabled(gm));
	generic_map_free(gm);
}

int main(void)
{
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	RUN(key_order);
	RUN(bare_user_keys);
	RUN(results);
	RUN(extensions);
	RUN(regexp_table);
	RUN(table_errors);
	rmdir(tmpdir);
	free(result);
	return TESTING_DONE();
}

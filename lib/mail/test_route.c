/* Unit tests for mail_route: local and virtual mailbox domains, remote
 * domains with and without relayhost, and transport_maps (address, domain,
 * parent domain; empty parts keep the defaults; a failed look-up). */
#include <string.h>
#include <strings.h>

#include "mail/route.h"
#include "util/str.h"
#include "util/testing.h"

static int fail_lookups;

/* A transport table in memory. */
static int lookup(const char *spec, const char *key, struct str *value)
{
	static const char *const table[][2] = {
	    {"special@remote.test", "smtp:[special.relay]:2525"},
	    {"err.test", "error:5.1.2 no such domain here"},
	    {".sub.test", "local:"},
	    {"hop.test", ":[other.hop]"},
	};
	if (strcmp(spec, "lmdb:/transport") != 0 || fail_lookups)
		return -1;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (strcmp(table[i][0], key) == 0) {
			str_clear(value);
			str_append(value, table[i][1], strlen(table[i][1]));
			return 1;
		}
	return 0;
}

static char *const mydestination[] = {"mx.example.test", "localhost", NULL};
static char *const virtual_domains[] = {"virt.test", NULL};

static void check(const struct mail_route_settings *rs, const char *address, const char *transport,
                  const char *nexthop)
{
	struct str t = STR_INIT, n = STR_INIT;
	mail_route(rs, address, &t, &n);
	CHECK_STR(str_cstr(&t), transport);
	CHECK_STR(str_cstr(&n), nexthop);
	str_free(&t);
	str_free(&n);
}

TEST(defaults)
{
	struct mail_route_settings rs = {.mydestination = mydestination,
	                                 .virtual_domains = virtual_domains,
	                                 .relayhost = "",
	                                 .myhostname = "mx.example.test",
	                                 .transport_maps = ""};
	check(&rs, "bob@mx.example.test", "local", "mx.example.test");
	check(&rs, "bob@LOCALHOST", "local", "mx.example.test");
	check(&rs, "bob", "local", "mx.example.test");
	check(&rs, "", "local", "mx.example.test");
	check(&rs, "ann@virt.test", "local", "mx.example.test");
	check(&rs, "bob@remote.test", "smtp", "remote.test");
	rs.relayhost = "[relay.example.test]:587";
	check(&rs, "bob@remote.test", "smtp", "[relay.example.test]:587");
	check(&rs, "bob@mx.example.test", "local", "mx.example.test");
}

TEST(transport_maps)
{
	struct mail_route_settings rs = {.mydestination = mydestination,
	                                 .virtual_domains = virtual_domains,
	                                 .relayhost = "[relay]",
	                                 .myhostname = "mx.example.test",
	                                 .transport_maps = "lmdb:/transport",
	                                 .lookup = lookup};
	check(&rs, "Special@Remote.test", "smtp", "[special.relay]:2525");
	check(&rs, "other@remote.test", "smtp", "[relay]");
	check(&rs, "x@err.test", "error", "5.1.2 no such domain here");
	check(&rs, "x@a.sub.test", "local", "mx.example.test");
	check(&rs, "x@hop.test", "smtp", "[other.hop]");
	fail_lookups = 1;
	check(&rs, "Special@remote.test", "smtp", "[relay]");
	fail_lookups = 0;
}

int main(void)
{
	RUN(defaults);
	RUN(transport_maps);
	return TESTING_DONE();
}

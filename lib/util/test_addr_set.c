/* Unit tests for util/addr_set. */
#include "util/addr_set.h"
#include "util/testing.h"

#include <string.h>

TEST(addresses)
{
	struct addr_set *set = addr_set_new();
	const char *error = NULL;
	CHECK(addr_set_count(set) == 0);
	CHECK(!addr_set_contains(set, "192.0.2.1"));
	CHECK(addr_set_add_address(set, "192.0.2.1", &error) == 0);
	CHECK(addr_set_add_address(set, "2001:DB8::1", &error) == 0);
	CHECK(addr_set_add_address(set, "[2001:db8::2]", &error) == 0);
	CHECK(addr_set_add_address(set, "[IPv6:2001:db8::3]", &error) == 0);
	CHECK(addr_set_add_address(set, "fe80::1%lo", &error) == 0);
	CHECK(addr_set_count(set) == 5);
	CHECK(addr_set_contains(set, "192.0.2.1"));
	CHECK(addr_set_contains(set, "2001:db8:0::1"));
	CHECK(addr_set_contains(set, "2001:db8::2"));
	CHECK(addr_set_contains(set, "[2001:db8::3]"));
	CHECK(addr_set_contains(set, "fe80::1"));
	CHECK(!addr_set_contains(set, "192.0.2.2"));
	CHECK(!addr_set_contains(set, "2001:db8::4"));
	CHECK(!addr_set_contains(set, "not an address"));
	CHECK(!addr_set_contains(set, ""));
	/* An IPv4-mapped IPv6 address is the IPv4 address, both ways. */
	CHECK(addr_set_contains(set, "::ffff:192.0.2.1"));
	CHECK(addr_set_add_address(set, "::ffff:198.51.100.7", &error) == 0);
	CHECK(addr_set_contains(set, "198.51.100.7"));
	/* No duplicates. */
	CHECK(addr_set_add_address(set, "198.51.100.7", &error) == 0);
	CHECK(addr_set_add_address(set, "2001:db8::0:1", &error) == 0);
	CHECK(addr_set_count(set) == 6);
	addr_set_free(set);
	CHECK(!addr_set_contains(NULL, "192.0.2.1"));
	addr_set_free(NULL);
}

TEST(bad_addresses)
{
	struct addr_set *set = addr_set_new();
	const char *cases[] = {"",
	                       "[]",
	                       "host.example",
	                       "192.0.2.256",
	                       "192.0.2.1/24",
	                       "[192.0.2.1",
	                       "2001:db8::1::2",
	                       "[ipv6:]"};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *error = NULL;
		CHECK(addr_set_add_address(set, cases[i], &error) == -1);
		CHECK(error != NULL && strstr(error, "not an IP address") != NULL);
	}
	CHECK(addr_set_count(set) == 0);
	addr_set_free(set);
}

/* A host name: its addresses (localhost from the hosts file); an address
 * written as a host is taken as it is. */
TEST(hosts)
{
	struct addr_set *set = addr_set_new();
	const char *error = NULL;
	CHECK(addr_set_add_host(set, "192.0.2.9", &error) == 0);
	CHECK(addr_set_add_host(set, "[2001:db8::9]", &error) == 0);
	CHECK(addr_set_count(set) == 2);
	CHECK(addr_set_add_host(set, "localhost", &error) == 0);
	CHECK(addr_set_contains(set, "127.0.0.1") || addr_set_contains(set, "::1"));
	CHECK(addr_set_contains(set, "192.0.2.9") && addr_set_contains(set, "2001:db8::9"));
	addr_set_free(set);
}

/* The interfaces that are up: loopback at least. */
TEST(interfaces)
{
	struct addr_set *set = addr_set_new();
	const char *error = NULL;
	CHECK(addr_set_add_interfaces(set, &error) == 0);
	CHECK(addr_set_count(set) >= 1);
	CHECK(addr_set_contains(set, "127.0.0.1"));
	CHECK(!addr_set_contains(set, "192.0.2.255"));
	addr_set_free(set);
}

int main(void)
{
	RUN(addresses);
	RUN(bad_addresses);
	RUN(hosts);
	RUN(interfaces);
	return TESTING_DONE();
}

/* Unit tests for mail_route: local and virtual mailbox domains, remote
 * domains with and without relayhost, and transport_maps (address, domain,
 * parent domain; empty parts keep the defaults; a failed look-up);
 * sender_dependent_relayhost_maps and its precedence; the key orders of
 * sender-indexed tables and of smtp_sasl_password_maps. */
#include <string.h>
#include <strings.h>

#include "mail/route.h"
#include "util/str.h"
#include "util/testing.h"

static int fail_lookups; /* 1: transport_maps fails, 2: the relay table fails */
static const char *looked_up[16];
static size_t looked_up_count;

/* A transport table in memory. */
static int lookup(const char *spec, const char *key, struct str *value)
{
	static const char *const table[][2] = {
	    {"special@remote.test", "smtp:[special.relay]:2525"},
	    {"err.test", "error:5.1.2 no such domain here"},
	    {".sub.test", "local:"},
	    {"hop.test", ":[other.hop]"},
	};
	static const char *const relays[][2] = {
	    {"ann@a.test", "[relay-ann.test]:587"},
	    {"@a.test", "[relay-a.test]"},
	    {"@b.test", " relay-b.test:2525 "},
	    {"dunno@b.test", "DUNNO"},
	    {"empty@b.test", ""},
	    {"<>", "[bounce.relay]"},
	};
	const char *const(*rows)[2] = table;
	size_t count = sizeof(table) / sizeof(table[0]);
	if (strcmp(spec, "lmdb:/relays") == 0) {
		rows = relays;
		count = sizeof(relays) / sizeof(relays[0]);
		if (fail_lookups == 2)
			return -1;
	} else if (strcmp(spec, "lmdb:/transport") != 0 || fail_lookups == 1) {
		return -1;
	}
	looked_up[looked_up_count++ % 16] = key;
	for (size_t i = 0; i < count; i++)
		if (strcmp(rows[i][0], key) == 0) {
			str_clear(value);
			str_append(value, rows[i][1], strlen(rows[i][1]));
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

static void check_sender(const struct mail_route_settings *rs, const char *sender,
                         const char *address, const char *transport, const char *nexthop, int rc)
{
	struct str t = STR_INIT, n = STR_INIT;
	CHECK(mail_route_sender(rs, sender, address, &t, &n) == rc);
	CHECK_STR(str_cstr(&t), transport);
	CHECK_STR(str_cstr(&n), nexthop);
	str_free(&t);
	str_free(&n);
}

TEST(sender_dependent_relayhost)
{
	struct mail_route_settings rs = {.mydestination = mydestination,
	                                 .virtual_domains = virtual_domains,
	                                 .relayhost = "[relay]",
	                                 .myhostname = "mx.example.test",
	                                 .transport_maps = "lmdb:/transport",
	                                 .sender_relay_maps = "lmdb:/relays",
	                                 .lookup = lookup};
	/* The address, then @domain; case does not matter. */
	check_sender(&rs, "Ann@A.test", "x@remote.test", "smtp", "[relay-ann.test]:587", 0);
	check_sender(&rs, "bob@a.test", "x@remote.test", "smtp", "[relay-a.test]", 0);
	check_sender(&rs, "bob@b.test", "x@remote.test", "smtp", "relay-b.test:2525", 0);
	/* No entry, DUNNO or an empty entry: relayhost. */
	check_sender(&rs, "bob@c.test", "x@remote.test", "smtp", "[relay]", 0);
	check_sender(&rs, "dunno@b.test", "x@remote.test", "smtp", "[relay]", 0);
	check_sender(&rs, "empty@b.test", "x@remote.test", "smtp", "[relay]", 0);
	check_sender(&rs, "", "x@remote.test", "smtp", "[bounce.relay]", 0);
	/* Local mail is not relayed; a transport_maps next hop wins, a
	 * transport without one takes the sender's relay. */
	check_sender(&rs, "ann@a.test", "x@mx.example.test", "local", "mx.example.test", 0);
	check_sender(&rs, "ann@a.test", "special@remote.test", "smtp", "[special.relay]:2525", 0);
	check_sender(&rs, "ann@a.test", "x@hop.test", "smtp", "[other.hop]", 0);
	check_sender(&rs, "ann@a.test", "x@err.test", "error", "5.1.2 no such domain here", 0);
	/* mail_route and a NULL sender never look at the table. */
	check(&rs, "x@remote.test", "smtp", "[relay]");
	check_sender(&rs, NULL, "x@remote.test", "smtp", "[relay]", 0);
	/* Without relayhost: the domain. */
	rs.relayhost = "";
	check_sender(&rs, "bob@c.test", "x@remote.test", "smtp", "remote.test", 0);
	check_sender(&rs, "bob@a.test", "x@remote.test", "smtp", "[relay-a.test]", 0);
	/* A failed look-up: the default route, and -1 (qmgr defers). */
	fail_lookups = 2;
	check_sender(&rs, "bob@a.test", "x@remote.test", "smtp", "remote.test", -1);
	check_sender(&rs, "bob@a.test", "x@mx.example.test", "local", "mx.example.test", 0);
	fail_lookups = 0;
	/* Keys tried in order: the address, then @domain. */
	looked_up_count = 0;
	rs.transport_maps = "";
	check_sender(&rs, "Nobody@D.test", "x@remote.test", "smtp", "remote.test", 0);
	CHECK(looked_up_count == 2);
	looked_up_count = 0;
}

static void check_keys(const struct mail_keys *k, const char *const *want)
{
	size_t n = 0;
	while (want[n] != NULL)
		n++;
	CHECK(k->count == n);
	for (size_t i = 0; i < n && i < k->count; i++)
		CHECK_STR(k->key[i], want[i]);
}

TEST(sender_keys)
{
	struct mail_keys k = {0};
	mail_keys_sender(&k, "Ann+Tag@Example.TEST", "<>");
	check_keys(&k, (const char *const[]){"ann+tag@example.test", "@example.test", NULL});
	mail_keys_free(&k);
	mail_keys_sender(&k, "", "<>");
	check_keys(&k, (const char *const[]){"<>", NULL});
	mail_keys_free(&k);
	mail_keys_sender(&k, "", NULL);
	check_keys(&k, (const char *const[]){NULL});
	mail_keys_sender(&k, "user", NULL);
	check_keys(&k, (const char *const[]){"user", NULL});
	mail_keys_free(&k);
	mail_keys_sender(&k, "odd@", NULL);
	check_keys(&k, (const char *const[]){"odd@", NULL});
	mail_keys_free(&k);
}

TEST(sasl_keys)
{
	struct mail_keys k = {0};
	/* Host, then the next hop as written. */
	mail_keys_sasl(&k, NULL, "MX1.Example.com", "example.com");
	check_keys(&k, (const char *const[]){"mx1.example.com", "example.com", NULL});
	mail_keys_free(&k);
	mail_keys_sasl(&k, NULL, "smtp.provider.test", "[smtp.provider.test]:587");
	check_keys(&k,
	           (const char *const[]){"smtp.provider.test", "[smtp.provider.test]:587", NULL});
	mail_keys_free(&k);
	/* With sender-dependent authentication the sender comes first. */
	mail_keys_sasl(&k, "Ann@A.test", "relay.test", "[relay.test]:587");
	check_keys(&k, (const char *const[]){"ann@a.test", "@a.test", "relay.test",
	                                     "[relay.test]:587", NULL});
	mail_keys_free(&k);
	/* The null sender has no sender keys; a domain without MX is its
	 * own host: one key. */
	mail_keys_sasl(&k, "", "example.org", "example.org");
	check_keys(&k, (const char *const[]){"example.org", NULL});
	mail_keys_free(&k);
}

int main(void)
{
	RUN(defaults);
	RUN(transport_maps);
	RUN(sender_dependent_relayhost);
	RUN(sender_keys);
	RUN(sasl_keys);
	return TESTING_DONE();
}

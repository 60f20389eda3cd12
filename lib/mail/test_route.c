/* Unit tests for mail_route: local and virtual mailbox domains, remote
 * domains with and without relayhost, and transport_maps (address, domain,
 * parent domain; empty parts keep the defaults; a failed look-up);
 * sender_dependent_relayhost_maps and its precedence; the transports of
 * the address classes (local_transport, virtual_transport,
 * relay_transport, default_transport), their next hops and their place
 * after transport_maps; the key orders of sender-indexed tables and of
 * smtp_sasl_password_maps. */
#include <string.h>
#include <strings.h>

#include "mail/route.h"
#include "util/str.h"
#include "util/testing.h"

/* 1: transport_maps fails, 2: the relay table fails, 3: the sender
 * transport table fails */
static int fail_lookups;
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
	static const char *const sender_transports[][2] = {
	    {"@bulk.test", "bulk"},
	    {"vip@bulk.test", "smtp:[vip.relay]:2525"},
	    {"plain@bulk.test", "DUNNO"},
	    {"<>", "bounces:"},
	};
	const char *const(*rows)[2] = table;
	size_t count = sizeof(table) / sizeof(table[0]);
	if (strcmp(spec, "lmdb:/sender_transport") == 0) {
		rows = sender_transports;
		count = sizeof(sender_transports) / sizeof(sender_transports[0]);
		if (fail_lookups == 3)
			return -1;
	} else if (strcmp(spec, "lmdb:/relays") == 0) {
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
	CHECK(mail_route_sender(rs, sender, address, &t, &n, NULL) == rc);
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

/* The route of address from sender, and the parameter that named its
 * transport. */
static void check_param(const struct mail_route_settings *rs, const char *sender,
                        const char *address, const char *transport, const char *nexthop,
                        const char *param)
{
	struct str t = STR_INIT, n = STR_INIT;
	const char *p = NULL;
	CHECK(mail_route_sender(rs, sender, address, &t, &n, &p) == 0);
	CHECK_STR(str_cstr(&t), transport);
	CHECK_STR(str_cstr(&n), nexthop);
	CHECK_STR(p, param);
	str_free(&t);
	str_free(&n);
}

static char *const relay_domains[] = {"relay.test", "mx.example.test", NULL};

/* What qmgr's master.conf would say: slow and relay run smtp, mylocal
 * runs local. */
static bool smtp_transport(const char *name)
{
	return strcmp(name, "smtp") == 0 || strcmp(name, "slow") == 0 || strcmp(name, "relay") == 0;
}

TEST(sender_dependent_default_transport)
{
	struct mail_route_settings rs = {.mydestination = mydestination,
	                                 .virtual_domains = virtual_domains,
	                                 .relayhost = "[relay]",
	                                 .myhostname = "mx.example.test",
	                                 .transport_maps = "lmdb:/transport",
	                                 .sender_transport_maps = "lmdb:/sender_transport",
	                                 .default_transport = "smtp",
	                                 .lookup = lookup};
	/* @domain: a transport without a next hop goes on to relayhost. */
	check_sender(&rs, "ann@bulk.test", "x@remote.test", "bulk", "[relay]", 0);
	/* The address first; its own next hop wins over relayhost. */
	check_sender(&rs, "VIP@bulk.test", "x@remote.test", "smtp", "[vip.relay]:2525", 0);
	/* DUNNO, no entry, or no sender: default_transport. */
	check_sender(&rs, "plain@bulk.test", "x@remote.test", "smtp", "[relay]", 0);
	check_sender(&rs, "bob@other.test", "x@remote.test", "smtp", "[relay]", 0);
	check_sender(&rs, "", "x@remote.test", "bounces", "[relay]", 0);
	struct str t = STR_INIT, n = STR_INIT;
	const char *param = NULL;
	CHECK(mail_route_sender(&rs, "ann@bulk.test", "x@remote.test", &t, &n, &param) == 0);
	CHECK_STR(param, "sender_dependent_default_transport_maps");
	CHECK(mail_route(&rs, "x@remote.test", &t, &n) == 0);
	CHECK_STR(str_cstr(&t), "smtp");
	str_free(&t);
	str_free(&n);
	/* Only the default class: transport_maps, local, virtual and relay
	 * mail are not affected. */
	check_sender(&rs, "ann@bulk.test", "special@remote.test", "smtp", "[special.relay]:2525",
	             0);
	check_sender(&rs, "ann@bulk.test", "x@mx.example.test", "local", "mx.example.test", 0);
	check_sender(&rs, "ann@bulk.test", "x@virt.test", "local", "mx.example.test", 0);
	/* A failed look-up: the route of default_transport, and -1. */
	fail_lookups = 3;
	check_sender(&rs, "ann@bulk.test", "x@remote.test", "smtp", "[relay]", -1);
	fail_lookups = 0;
}

TEST(class_defaults)
{
	/* Unset (NULL) and Postern's defaults route alike: local, local,
	 * smtp, smtp; each class names its parameter. */
	struct mail_route_settings rs = {.mydestination = mydestination,
	                                 .virtual_domains = virtual_domains,
	                                 .relay_domains = relay_domains,
	                                 .relayhost = "",
	                                 .myhostname = "mx.example.test",
	                                 .transport_maps = ""};
	for (int set = 0; set < 2; set++) {
		if (set) {
			rs.local_transport = "local";
			rs.virtual_transport = "local";
			rs.relay_transport = "smtp";
			rs.default_transport = "smtp";
			rs.smtp_transport = smtp_transport;
		}
		check_param(&rs, NULL, "bob@mx.example.test", "local", "mx.example.test",
		            "local_transport");
		check_param(&rs, NULL, "bob", "local", "mx.example.test", "local_transport");
		check_param(&rs, NULL, "ann@Virt.test", "local", "mx.example.test",
		            "virtual_transport");
		check_param(&rs, NULL, "x@RELAY.test", "smtp", "RELAY.test", "relay_transport");
		check_param(&rs, NULL, "x@remote.test", "smtp", "remote.test", "default_transport");
	}
	/* relayhost serves relay domains too, as in Postfix. */
	rs.relayhost = "[relay]";
	check_param(&rs, NULL, "x@relay.test", "smtp", "[relay]", "relay_transport");
	check_param(&rs, NULL, "x@remote.test", "smtp", "[relay]", "default_transport");
}

TEST(default_transport)
{
	struct mail_route_settings rs = {.mydestination = mydestination,
	                                 .virtual_domains = virtual_domains,
	                                 .relay_domains = relay_domains,
	                                 .relayhost = "",
	                                 .myhostname = "mx.example.test",
	                                 .transport_maps = "lmdb:/transport",
	                                 .sender_relay_maps = "lmdb:/relays",
	                                 .default_transport =
	                                     "error:outbound mail is disabled here",
	                                 .smtp_transport = smtp_transport,
	                                 .lookup = lookup};
	/* The error transport's next hop is its text; local, virtual and
	 * relay mail is not affected. */
	check_param(&rs, NULL, "x@remote.test", "error", "outbound mail is disabled here",
	            "default_transport");
	check_param(&rs, "ann@a.test", "x@remote.test", "error", "outbound mail is disabled here",
	            "default_transport");
	check_param(&rs, NULL, "bob@mx.example.test", "local", "mx.example.test",
	            "local_transport");
	check_param(&rs, NULL, "ann@virt.test", "local", "mx.example.test", "virtual_transport");
	check_param(&rs, NULL, "x@relay.test", "smtp", "relay.test", "relay_transport");
	/* transport_maps comes first: its transport, or its next hop with
	 * the class's transport. */
	check_param(&rs, NULL, "special@remote.test", "smtp", "[special.relay]:2525",
	            "transport_maps");
	check_param(&rs, NULL, "x@hop.test", "error", "[other.hop]", "default_transport");
	/* error without a text: no next hop (qmgr's default text). */
	rs.default_transport = "error";
	check_param(&rs, NULL, "x@remote.test", "error", "", "default_transport");

	/* Another smtp transport without a next hop: the sender's relay,
	 * relayhost, the domain, as smtp. */
	rs.default_transport = "slow";
	check_param(&rs, NULL, "x@remote.test", "slow", "remote.test", "default_transport");
	check_param(&rs, "ann@a.test", "x@remote.test", "slow", "[relay-ann.test]:587",
	            "default_transport");
	rs.relayhost = "[relay]";
	check_param(&rs, NULL, "x@remote.test", "slow", "[relay]", "default_transport");
	check_param(&rs, "bob@a.test", "x@remote.test", "slow", "[relay-a.test]",
	            "default_transport");
	check_param(&rs, NULL, "x@hop.test", "slow", "[other.hop]", "default_transport");

	/* Its own next hop wins over the sender's relay and relayhost (as
	 * Postfix's "an explicit main.cf transport:nexthop setting overrides
	 * the nexthop"), not over transport_maps. */
	rs.default_transport = " slow : [127.0.0.9]:2525 ";
	check_param(&rs, NULL, "x@remote.test", "slow", "[127.0.0.9]:2525", "default_transport");
	check_param(&rs, "ann@a.test", "x@remote.test", "slow", "[127.0.0.9]:2525",
	            "default_transport");
	check_param(&rs, NULL, "x@hop.test", "slow", "[other.hop]", "default_transport");
	check_param(&rs, NULL, "x@err.test", "error", "5.1.2 no such domain here",
	            "transport_maps");

	/* A transport that does not deliver to hosts gets no relay. */
	rs.default_transport = "mylocal";
	check_param(&rs, "ann@a.test", "x@remote.test", "mylocal", "", "default_transport");
	/* Without the callback, every transport but local and error does. */
	rs.smtp_transport = NULL;
	check_param(&rs, "ann@a.test", "x@remote.test", "mylocal", "[relay-ann.test]:587",
	            "default_transport");
	rs.default_transport = "error";
	check_param(&rs, "ann@a.test", "x@remote.test", "error", "", "default_transport");
	/* A value without a transport names none (qmgr defers). */
	rs.default_transport = ":[x.test]";
	check_param(&rs, NULL, "x@remote.test", "", "[x.test]", "default_transport");
}

TEST(relay_transport)
{
	struct mail_route_settings rs = {.mydestination = mydestination,
	                                 .virtual_domains = virtual_domains,
	                                 .relay_domains = relay_domains,
	                                 .relayhost = "[relay]",
	                                 .myhostname = "mx.example.test",
	                                 .transport_maps = "",
	                                 .sender_relay_maps = "lmdb:/relays",
	                                 .relay_transport = "relay:[inbound.example.com]",
	                                 .default_transport = "smtp",
	                                 .smtp_transport = smtp_transport,
	                                 .lookup = lookup};
	check_param(&rs, NULL, "x@relay.test", "relay", "[inbound.example.com]", "relay_transport");
	check_param(&rs, "ann@a.test", "x@relay.test", "relay", "[inbound.example.com]",
	            "relay_transport");
	check_param(&rs, NULL, "x@remote.test", "smtp", "[relay]", "default_transport");
	/* A domain in mydestination and relay_domains is local. */
	check_param(&rs, NULL, "x@mx.example.test", "local", "mx.example.test", "local_transport");
	rs.relay_transport = "relay";
	check_param(&rs, NULL, "x@relay.test", "relay", "[relay]", "relay_transport");
	check_param(&rs, "bob@b.test", "x@relay.test", "relay", "relay-b.test:2525",
	            "relay_transport");
	rs.relayhost = "";
	check_param(&rs, NULL, "x@relay.test", "relay", "relay.test", "relay_transport");
	/* A failed look-up of the sender's relay: -1, as for smtp; none is
	 * made when the transport has its own next hop. */
	fail_lookups = 2;
	check_sender(&rs, "bob@b.test", "x@relay.test", "relay", "relay.test", -1);
	rs.relay_transport = "relay:[inbound.example.com]";
	check_sender(&rs, "bob@b.test", "x@relay.test", "relay", "[inbound.example.com]", 0);
	fail_lookups = 0;
}

TEST(local_and_virtual_transport)
{
	struct mail_route_settings rs = {.mydestination = mydestination,
	                                 .virtual_domains = virtual_domains,
	                                 .relay_domains = relay_domains,
	                                 .relayhost = "[relay]",
	                                 .myhostname = "mx.example.test",
	                                 .transport_maps = "",
	                                 .sender_relay_maps = "lmdb:/relays",
	                                 .local_transport = "local:mx.example.test",
	                                 .virtual_transport = "mylocal",
	                                 .smtp_transport = smtp_transport,
	                                 .lookup = lookup};
	/* Postfix's local:$myhostname. */
	check_param(&rs, "ann@a.test", "bob@localhost", "local", "mx.example.test",
	            "local_transport");
	/* A local transport under another name: no next hop. */
	check_param(&rs, "ann@a.test", "ann@virt.test", "mylocal", "", "virtual_transport");
	/* Final delivery elsewhere over smtp: the value's next hop, else the
	 * recipient domain (myhostname for an unqualified address), never
	 * relayhost or the sender's relay. */
	rs.local_transport = "relay:[mailhub.test]";
	rs.virtual_transport = "relay";
	check_param(&rs, "ann@a.test", "bob@localhost", "relay", "[mailhub.test]",
	            "local_transport");
	check_param(&rs, "ann@a.test", "ann@virt.test", "relay", "virt.test", "virtual_transport");
	rs.local_transport = "slow";
	check_param(&rs, "ann@a.test", "bob@localhost", "slow", "localhost", "local_transport");
	check_param(&rs, "ann@a.test", "bob", "slow", "mx.example.test", "local_transport");
	/* transport_maps still comes first. */
	rs.transport_maps = "lmdb:/transport";
	check_param(&rs, NULL, "x@a.sub.test", "local", "mx.example.test", "transport_maps");
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
	RUN(sender_dependent_default_transport);
	RUN(class_defaults);
	RUN(default_transport);
	RUN(relay_transport);
	RUN(local_and_virtual_transport);
	RUN(sender_keys);
	RUN(sasl_keys);
	return TESTING_DONE();
}

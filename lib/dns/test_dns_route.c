/*
 * Unit tests for routing (dns_route_resolve) against a fake DNS server:
 * a child process on a loopback UDP port that answers from a small table
 * (and any name under fresh.example, with 192.0.2.99, so a look-up can
 * be one the cache has not seen) and never answers names under
 * drop.example (a black-holed zone), and that reports every name it is
 * asked for, so the tests see which hosts were looked up as well as how
 * long routing took. The last test has one resolver look up good names
 * right after black-holed ones. Loop prevention takes 192.0.2.50 and
 * 2001:db8::50 as this host's addresses.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dns/dns.h"
#include "dns/dns_route.h"
#include "util/event.h"
#include "util/testing.h"

struct fake_rr {
	const char *name;
	int type;
	const char *data; /* address, or "preference host" for MX */
};

static const struct fake_rr zone[] = {
    {"order.route.example", DNS_TYPE_MX, "20 b.route.example"},
    {"order.route.example", DNS_TYPE_MX, "10 a.route.example"},
    {"a.route.example", DNS_TYPE_A, "192.0.2.1"},
    {"a.route.example", DNS_TYPE_AAAA, "2001:db8::1"},
    {"b.route.example", DNS_TYPE_A, "192.0.2.2"},
    {"good.route.example", DNS_TYPE_A, "192.0.2.3"},
    /* The best MX is good, then many black-holed ones. */
    {"holes.route.example", DNS_TYPE_MX, "10 good.route.example"},
    {"holes.route.example", DNS_TYPE_MX, "20 h0.drop.example"},
    {"holes.route.example", DNS_TYPE_MX, "20 h1.drop.example"},
    {"holes.route.example", DNS_TYPE_MX, "20 h2.drop.example"},
    {"holes.route.example", DNS_TYPE_MX, "20 h3.drop.example"},
    {"holes.route.example", DNS_TYPE_MX, "20 h4.drop.example"},
    {"holes.route.example", DNS_TYPE_MX, "20 h5.drop.example"},
    {"holes.route.example", DNS_TYPE_MX, "20 h6.drop.example"},
    {"holes.route.example", DNS_TYPE_MX, "20 h7.drop.example"},
    /* Only a black-holed mail host (no MX): the domain itself. */
    {"nomx.route.example", DNS_TYPE_TXT, "x"},
    /* Three addresses at the best MX fill a limit of two. */
    {"wide.route.example", DNS_TYPE_MX, "10 w1.route.example"},
    {"wide.route.example", DNS_TYPE_MX, "20 w2.route.example"},
    {"wide.route.example", DNS_TYPE_MX, "30 w3.route.example"},
    {"w1.route.example", DNS_TYPE_A, "192.0.2.11"},
    {"w1.route.example", DNS_TYPE_A, "192.0.2.12"},
    {"w1.route.example", DNS_TYPE_A, "192.0.2.13"},
    {"w2.route.example", DNS_TYPE_A, "192.0.2.21"},
    {"w3.route.example", DNS_TYPE_A, "192.0.2.31"},
    /* Hosts that do not exist do not take a place: good is reached. */
    {"typo.route.example", DNS_TYPE_MX, "10 nx1.route.example"},
    {"typo.route.example", DNS_TYPE_MX, "20 nx2.route.example"},
    {"typo.route.example", DNS_TYPE_MX, "30 good.route.example"},
    /* A black-holed host takes a place: the good one after it is not
     * asked for with a limit of one. */
    {"first.route.example", DNS_TYPE_MX, "10 f0.drop.example"},
    {"first.route.example", DNS_TYPE_MX, "20 good.route.example"},
    /* This host (self, at 192.0.2.50 and 2001:db8::50) as an MX. */
    {"self.route.example", DNS_TYPE_A, "192.0.2.50"},
    {"self6.route.example", DNS_TYPE_AAAA, "2001:db8::50"},
    {"loop.route.example", DNS_TYPE_MX, "10 self.route.example"},
    {"loop6.route.example", DNS_TYPE_MX, "10 self6.route.example"},
    {"backup.route.example", DNS_TYPE_MX, "10 a.route.example"},
    {"backup.route.example", DNS_TYPE_MX, "20 self.route.example"},
    {"backup.route.example", DNS_TYPE_MX, "30 b.route.example"},
    {"equal.route.example", DNS_TYPE_MX, "10 good.route.example"},
    {"equal.route.example", DNS_TYPE_MX, "10 self.route.example"},
    {"equal.route.example", DNS_TYPE_MX, "20 b.route.example"},
    {"noprimary.route.example", DNS_TYPE_MX, "5 nx1.route.example"},
    {"noprimary.route.example", DNS_TYPE_MX, "10 self.route.example"},
    {"noprimary.route.example", DNS_TYPE_MX, "20 b.route.example"},
    {"named.route.example", DNS_TYPE_MX, "5 nx1.route.example"},
    {"named.route.example", DNS_TYPE_MX, "10 me.route.example"},
    /* No MX, and one of the domain's addresses is this host's. */
    {"selfa.route.example", DNS_TYPE_A, "192.0.2.3"},
    {"selfa.route.example", DNS_TYPE_A, "192.0.2.50"},
};

/* "blackhole.route.example": 50 MX hosts, all under drop.example. */
#define BLACKHOLE_HOSTS 50

static bool name_is(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

static size_t put_name(unsigned char *out, const char *name)
{
	size_t n = 0;
	while (*name) {
		const char *dot = strchr(name, '.');
		size_t len = dot ? (size_t)(dot - name) : strlen(name);
		out[n++] = (unsigned char)len;
		memcpy(out + n, name, len);
		n += len;
		name += len + (dot != NULL);
	}
	out[n++] = 0;
	return n;
}

static size_t put_rr(unsigned char *out, int type, const char *data)
{
	size_t n = 0;
	out[n++] = 0xc0; /* the name: a pointer to the question's */
	out[n++] = 12;
	out[n++] = (unsigned char)(type >> 8);
	out[n++] = (unsigned char)type;
	out[n++] = 0;
	out[n++] = 1; /* IN */
	out[n++] = 0;
	out[n++] = 0;
	out[n++] = 1;
	out[n++] = 44; /* TTL 300 */
	unsigned char *rdlen = out + n;
	n += 2;
	size_t start = n;
	if (type == DNS_TYPE_A) {
		inet_pton(AF_INET, data, out + n);
		n += 4;
	} else if (type == DNS_TYPE_AAAA) {
		inet_pton(AF_INET6, data, out + n);
		n += 16;
	} else if (type == DNS_TYPE_MX) {
		int pref = atoi(data);
		out[n++] = (unsigned char)(pref >> 8);
		out[n++] = (unsigned char)pref;
		n += put_name(out + n, strchr(data, ' ') + 1);
	} else {
		out[n++] = (unsigned char)strlen(data);
		memcpy(out + n, data, strlen(data));
		n += strlen(data);
	}
	rdlen[0] = (unsigned char)((n - start) >> 8);
	rdlen[1] = (unsigned char)(n - start);
	return n;
}

/* Answer one query in buf (len bytes) into out; 0: drop it. The name
 * asked for goes to report. */
static size_t fake_answer(const unsigned char *buf, size_t len, unsigned char *out, int report)
{
	if (len < 17)
		return 0;
	char qname[256];
	size_t pos = 12, q = 0;
	while (pos < len && buf[pos] != 0) {
		size_t label = buf[pos++];
		if (label > 63 || pos + label > len || q + label + 2 > sizeof(qname))
			return 0;
		if (q > 0)
			qname[q++] = '.';
		memcpy(qname + q, buf + pos, label);
		q += label;
		pos += label;
	}
	qname[q] = '\0';
	if (pos + 5 > len)
		return 0;
	int qtype = (buf[pos + 1] << 8) | buf[pos + 2];
	size_t qend = pos + 5;
	char line[300];
	int n = snprintf(line, sizeof(line), "%s %d\n", qname, qtype);
	if (write(report, line, (size_t)n) < 0)
		return 0;
	size_t dlen = strlen(".drop.example");
	if (q >= dlen && name_is(qname + q - dlen, ".drop.example"))
		return 0;
	bool known = false;
	size_t count = 0, at = qend;
	char mx[64];
	size_t flen = strlen(".fresh.example");
	if (q >= flen && name_is(qname + q - flen, ".fresh.example")) {
		known = true;
		if (qtype == DNS_TYPE_A) {
			at += put_rr(out + at, qtype, "192.0.2.99");
			count++;
		}
	}
	for (size_t i = 0; i < sizeof(zone) / sizeof(zone[0]); i++) {
		if (!name_is(zone[i].name, qname))
			continue;
		known = true;
		if (zone[i].type == qtype) {
			at += put_rr(out + at, qtype, zone[i].data);
			count++;
		}
	}
	if (name_is(qname, "blackhole.route.example")) {
		/* The first host in full, the others as their first label and
		 * a pointer to its "drop.example", to fit in one datagram. */
		known = true;
		size_t suffix = 0;
		for (int i = 0; qtype == DNS_TYPE_MX && i < BLACKHOLE_HOSTS; i++) {
			snprintf(mx, sizeof(mx), "10 bh%d.drop.example", i);
			size_t rr = put_rr(out + at, qtype, mx);
			if (suffix == 0) {
				suffix = at + 12 + 2 + 4;
			} else {
				unsigned char *rdata = out + at + 12;
				size_t label = 1 + rdata[2];
				rdata[2 + label] = (unsigned char)(0xc0 | (suffix >> 8));
				rdata[2 + label + 1] = (unsigned char)suffix;
				rr = 12 + 2 + label + 2;
				out[at + 10] = 0;
				out[at + 11] = (unsigned char)(2 + label + 2);
			}
			at += rr;
			count++;
		}
	}
	memcpy(out, buf, qend);
	out[2] = 0x84 | (buf[2] & 0x01); /* QR, AA, RD as asked */
	out[3] = known ? 0x80 : 0x83;    /* RA; NOERROR or NXDOMAIN */
	out[4] = 0;
	out[5] = 1;
	out[6] = (unsigned char)(count >> 8);
	out[7] = (unsigned char)count;
	memset(out + 8, 0, 4);
	if (buf[11] > 0) {
		/* The query had EDNS (an OPT record): so has the answer, 1232
		 * bytes. */
		static const unsigned char opt[] = {0, 0, 41, 4, 208, 0, 0, 0, 0, 0, 0};
		memcpy(out + at, opt, sizeof(opt));
		at += sizeof(opt);
		out[11] = 1;
	}
	return at;
}

static pid_t server_pid;
static int server_port;
static int server_report = -1; /* read end: "name type" lines */

static void fake_server_start(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t slen = sizeof(sin);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &slen) != 0) {
		perror("fake DNS server");
		exit(1);
	}
	server_port = ntohs(sin.sin_port);
	int p[2];
	if (pipe(p) != 0)
		exit(1);
	server_pid = fork();
	if (server_pid == 0) {
		close(p[0]);
		unsigned char buf[512], out[8192];
		for (;;) {
			struct sockaddr_storage from;
			socklen_t flen = sizeof(from);
			ssize_t n =
			    recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);
			if (n <= 0)
				continue;
			size_t olen = fake_answer(buf, (size_t)n, out, p[1]);
			if (olen > 0)
				(void)sendto(fd, out, olen, 0, (struct sockaddr *)&from, flen);
		}
	}
	close(p[1]);
	close(fd);
	server_report = p[0];
	fcntl(server_report, F_SETFL, O_NONBLOCK);
}

static void fake_server_stop(void)
{
	kill(server_pid, SIGKILL);
	waitpid(server_pid, NULL, 0);
	close(server_report);
}

/* The names asked for since the last call, as "name type" lines. */
static char asked[65536];
static const char *fake_server_asked(void)
{
	size_t len = 0;
	ssize_t n;
	while (len < sizeof(asked) - 1 &&
	       (n = read(server_report, asked + len, sizeof(asked) - 1 - len)) > 0)
		len += (size_t)n;
	asked[len] = '\0';
	return asked;
}

static bool was_asked(const char *name)
{
	char line[300];
	snprintf(line, sizeof(line), "%s ", name);
	for (const char *p = asked; (p = strstr(p, line)) != NULL; p++)
		if (p == asked || p[-1] == '\n')
			return true;
	return false;
}

/* Each routing gets a fresh resolver: no cache, no server state from the
 * time-outs of another. */
static struct dns_resolver *resolver(void)
{
	char fwd[32];
	snprintf(fwd, sizeof(fwd), "127.0.0.1@%d", server_port);
	char *forwarders[] = {fwd, NULL};
	struct dns_settings s = {.forwarders = forwarders};
	const char *error = NULL;
	struct dns_resolver *r = dns_resolver_new(&s, &error);
	if (r == NULL) {
		fprintf(stderr, "resolver: %s\n", error);
		exit(1);
	}
	return r;
}

/* Route domain; returns how long it took (ms). */
static int64_t route(const char *domain, enum dns_family_pref family, int timeout_ms,
                     size_t max_targets, struct dns_route *out)
{
	struct dns_resolver *r = resolver();
	(void)fake_server_asked();
	struct dns_route_request req = {
	    .domain = domain,
	    .use_mx = true,
	    .family = family,
	    .timeout_ms = timeout_ms,
	    .max_targets = max_targets,
	};
	int64_t start = event_now_ms();
	dns_route_resolve(r, &req, out);
	int64_t took = event_now_ms() - start;
	dns_resolver_free(r);
	(void)fake_server_asked();
	return took;
}

/* Route domain by MX with this host's name and addresses (own NULL: no
 * address check), IPv4 first (the tests below expect that order; "any"
 * is random, see TEST(order)). */
static void route_self(const char *domain, bool use_mx, const char *myhostname,
                       const struct addr_set *own, struct dns_route *out)
{
	struct dns_resolver *r = resolver();
	struct dns_route_request req = {
	    .domain = domain,
	    .use_mx = use_mx,
	    .myhostname = myhostname,
	    .own_addrs = own,
	    .family = DNS_PREFER_IPV4,
	    .timeout_ms = 2000,
	    .max_targets = 5,
	};
	dns_route_resolve(r, &req, out);
	dns_resolver_free(r);
}

static bool target_is(const struct dns_route *rt, size_t i, const char *host, const char *addr)
{
	return i < rt->count && name_is(rt->targets[i].host, host) &&
	       strcmp(rt->targets[i].address, addr) == 0;
}

/* MX preference first, each host's addresses in the family order, A and
 * AAAA asked for together. */
TEST(order)
{
	struct dns_route rt;
	/* "any": either family first, at random for each host; over many
	 * routings both orders come (each with a chance of one half). */
	bool v4_first = false, v6_first = false;
	for (int n = 0; n < 64 && !(v4_first && v6_first); n++) {
		route("order.route.example", DNS_PREFER_ANY, 2000, 5, &rt);
		CHECK(rt.status == ROUTE_OK && rt.count == 3);
		bool a4 = target_is(&rt, 0, "a.route.example", "192.0.2.1") &&
		          target_is(&rt, 1, "a.route.example", "2001:db8::1");
		bool a6 = target_is(&rt, 0, "a.route.example", "2001:db8::1") &&
		          target_is(&rt, 1, "a.route.example", "192.0.2.1");
		CHECK(a4 || a6);
		v4_first |= a4;
		v6_first |= a6;
		CHECK(target_is(&rt, 2, "b.route.example", "192.0.2.2"));
		CHECK(rt.count == 3 && rt.targets[0].preference == 10 &&
		      rt.targets[2].preference == 20);
		dns_route_free(&rt);
	}
	CHECK(v4_first && v6_first);
	route("order.route.example", DNS_PREFER_IPV4, 2000, 5, &rt);
	CHECK(rt.status == ROUTE_OK && rt.count == 3);
	CHECK(target_is(&rt, 0, "a.route.example", "192.0.2.1"));
	CHECK(target_is(&rt, 1, "a.route.example", "2001:db8::1"));
	dns_route_free(&rt);
	route("order.route.example", DNS_PREFER_IPV6, 2000, 5, &rt);
	CHECK(rt.status == ROUTE_OK && rt.count == 3);
	CHECK(target_is(&rt, 0, "a.route.example", "2001:db8::1"));
	CHECK(target_is(&rt, 1, "a.route.example", "192.0.2.1"));
	CHECK(target_is(&rt, 2, "b.route.example", "192.0.2.2"));
	dns_route_free(&rt);
	route("order.route.example", DNS_ONLY_IPV6, 2000, 5, &rt);
	CHECK(rt.status == ROUTE_OK && rt.count == 1);
	CHECK(target_is(&rt, 0, "a.route.example", "2001:db8::1"));
	CHECK(!strstr(asked, " 1\n")); /* no A query at all */
	dns_route_free(&rt);
}

/* The good best MX is used; black-holed hosts after it cost one query
 * time-out at most, and only as many are asked for as can fill the
 * limit. */
TEST(holes)
{
	struct dns_route rt;
	int64_t took = route("holes.route.example", DNS_PREFER_IPV4, 400, 5, &rt);
	CHECK(rt.status == ROUTE_OK && rt.count == 1);
	CHECK(target_is(&rt, 0, "good.route.example", "192.0.2.3"));
	CHECK(took < 400 + 300);
	int drops = 0;
	char name[32];
	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "h%d.drop.example", i);
		drops += was_asked(name);
	}
	CHECK(drops == 4);
	dns_route_free(&rt);
}

/* 50 black-holed MX hosts: a temporary failure that says why, after one
 * round of address look-ups, with five hosts asked for. */
TEST(blackhole)
{
	struct dns_route rt;
	int64_t took = route("blackhole.route.example", DNS_PREFER_IPV4, 400, 5, &rt);
	CHECK(rt.status == ROUTE_TEMPFAIL && rt.count == 0);
	CHECK(rt.error &&
	      strstr(rt.error, "DNS lookups for the MX hosts of blackhole.route.example "
	                       "took too long (no answer for 5 of 5 hosts asked)"));
	CHECK(took >= 400 && took < 400 + 300);
	int drops = 0;
	char name[32];
	for (int i = 0; i < BLACKHOLE_HOSTS; i++) {
		snprintf(name, sizeof(name), "bh%d.drop.example", i);
		drops += was_asked(name);
	}
	CHECK(drops == 5);
	dns_route_free(&rt);
	/* Without a limit, rounds of hosts go on only until twice the query
	 * time limit is up. */
	took = route("blackhole.route.example", DNS_PREFER_IPV4, 400, 0, &rt);
	CHECK(rt.status == ROUTE_TEMPFAIL && rt.count == 0);
	CHECK(rt.error && strstr(rt.error, "took too long") &&
	      strstr(rt.error, "not asked in time"));
	CHECK(took < 2 * 400 + 300);
	dns_route_free(&rt);
}

/* No MX: the domain's own address look-ups, bounded the same way. */
TEST(no_mx)
{
	struct dns_route rt;
	struct dns_resolver *r = resolver();
	struct dns_route_request req = {
	    .domain = "h0.drop.example", .use_mx = false, .timeout_ms = 300, .max_targets = 5};
	int64_t start = event_now_ms();
	dns_route_resolve(r, &req, &rt);
	CHECK(event_now_ms() - start < 300 + 300);
	CHECK(rt.status == ROUTE_TEMPFAIL);
	CHECK_STR(rt.error,
	          "DNS lookups for h0.drop.example took too long (no answer for 1 of 1 host "
	          "asked)");
	dns_route_free(&rt);
	dns_resolver_free(r);
	route("nomx.route.example", DNS_PREFER_IPV4, 2000, 5, &rt);
	CHECK(rt.status == ROUTE_NOT_FOUND);
	dns_route_free(&rt);
}

/* Enough addresses from the best hosts: the rest are not asked for. */
TEST(limit)
{
	struct dns_route rt;
	route("wide.route.example", DNS_ONLY_IPV4, 2000, 2, &rt);
	CHECK(rt.status == ROUTE_OK && rt.count == 2);
	CHECK(rt.count == 2 && name_is(rt.targets[0].host, "w1.route.example") &&
	      name_is(rt.targets[1].host, "w1.route.example"));
	CHECK(!was_asked("w3.route.example"));
	dns_route_free(&rt);
	/* Hosts that do not exist take no place... */
	route("typo.route.example", DNS_PREFER_IPV4, 2000, 2, &rt);
	CHECK(rt.status == ROUTE_OK && rt.count == 1);
	CHECK(target_is(&rt, 0, "good.route.example", "192.0.2.3"));
	dns_route_free(&rt);
	/* ...a host that does not answer does. */
	route("first.route.example", DNS_PREFER_IPV4, 300, 1, &rt);
	CHECK(rt.status == ROUTE_TEMPFAIL && rt.count == 0);
	CHECK(!was_asked("good.route.example"));
	dns_route_free(&rt);
	route("first.route.example", DNS_PREFER_IPV4, 300, 2, &rt);
	CHECK(rt.status == ROUTE_OK && rt.count == 1);
	CHECK(target_is(&rt, 0, "good.route.example", "192.0.2.3"));
	dns_route_free(&rt);
}

/* An MX host with one of this host's addresses is this host, as one
 * named myhostname is: it and the hosts at its preference or worse are
 * dropped; a loop when that leaves nothing, unless better MX hosts gave
 * no address. */
TEST(self)
{
	struct addr_set *own = addr_set_new();
	const char *error = NULL;
	CHECK(addr_set_add_address(own, "192.0.2.50", &error) == 0);
	CHECK(addr_set_add_address(own, "2001:db8::50", &error) == 0);
	struct dns_route rt;
	/* Without the addresses the check is not made. */
	route_self("loop.route.example", true, "me.route.example", NULL, &rt);
	CHECK(rt.status == ROUTE_OK && rt.count == 1 && !rt.self_mx);
	CHECK(target_is(&rt, 0, "self.route.example", "192.0.2.50"));
	dns_route_free(&rt);
	route_self("loop.route.example", true, "me.route.example", own, &rt);
	CHECK(rt.status == ROUTE_LOOP && rt.count == 0 && rt.self_mx);
	CHECK_STR(rt.error, "mail for loop.route.example loops back to myself");
	dns_route_free(&rt);
	route_self("loop6.route.example", true, NULL, own, &rt);
	CHECK(rt.status == ROUTE_LOOP && rt.count == 0);
	dns_route_free(&rt);
	/* A better MX host is used; the worse one is not. */
	route_self("backup.route.example", true, NULL, own, &rt);
	CHECK(rt.status == ROUTE_OK && rt.count == 2 && rt.self_mx);
	CHECK(target_is(&rt, 0, "a.route.example", "192.0.2.1"));
	CHECK(target_is(&rt, 1, "a.route.example", "2001:db8::1"));
	dns_route_free(&rt);
	/* An MX host of the same preference as this host goes too. */
	for (int i = 0; i < 8; i++) {
		route_self("equal.route.example", true, NULL, own, &rt);
		CHECK(rt.status == ROUTE_LOOP && rt.count == 0);
		dns_route_free(&rt);
	}
	/* The better MX host does not exist: no loop, but no relay either. */
	route_self("noprimary.route.example", true, NULL, own, &rt);
	CHECK(rt.status == ROUTE_NO_PRIMARY && rt.count == 0);
	CHECK_STR(rt.error, "unable to find primary relay for noprimary.route.example");
	dns_route_free(&rt);
	/* The same when this host is found by its name. */
	route_self("named.route.example", true, "ME.route.example", NULL, &rt);
	CHECK(rt.status == ROUTE_NO_PRIMARY && rt.count == 0 && rt.self_mx);
	dns_route_free(&rt);
	/* No MX: one of the domain's addresses is this host's. */
	route_self("selfa.route.example", true, NULL, own, &rt);
	CHECK(rt.status == ROUTE_LOOP && rt.count == 0);
	CHECK_STR(rt.error, "mail for selfa.route.example loops back to myself");
	dns_route_free(&rt);
	/* An address look-up only ([host]) is checked when asked to. */
	route_self("self.route.example", false, NULL, own, &rt);
	CHECK(rt.status == ROUTE_LOOP);
	dns_route_free(&rt);
	route_self("self.route.example", false, NULL, NULL, &rt);
	CHECK(rt.status == ROUTE_OK && rt.count == 1 && !rt.self_mx);
	dns_route_free(&rt);
	addr_set_free(own);
}

/* Questions of different types in one wait; a time-out is marked. */
TEST(questions)
{
	struct dns_resolver *r = resolver();
	struct dns_question q[] = {
	    {"a.route.example", DNS_TYPE_A},
	    {"a.route.example", DNS_TYPE_AAAA},
	    {"h0.drop.example", DNS_TYPE_A},
	};
	struct dns_answer a[3];
	int64_t start = event_now_ms();
	dns_lookup_questions(r, q, 3, 300, a);
	int64_t took = event_now_ms() - start;
	CHECK(took >= 300 && took < 300 + 300);
	CHECK(a[0].status == DNS_FOUND && a[0].count == 1 && !a[0].timed_out);
	CHECK(a[1].status == DNS_FOUND && a[1].count == 1);
	if (a[1].count == 1)
		CHECK_STR(a[1].rrs[0].text, "2001:db8::1");
	CHECK(a[2].status == DNS_TEMPFAIL && a[2].timed_out);
	for (int i = 0; i < 3; i++)
		dns_answer_free(&a[i]);
	dns_resolver_free(r);
}

/* Look up a name under fresh.example in one wait with n black-holed
 * names (asked first); true if it was answered with its address. */
static bool fresh_answered(struct dns_resolver *r, int round, size_t n, int timeout_ms)
{
	struct dns_question q[48];
	char names[48][40];
	if (n >= 48)
		return false;
	for (size_t i = 0; i < n; i++) {
		snprintf(names[i], sizeof(names[i]), "r%d-%zu.drop.example", round, i);
		q[i] = (struct dns_question){names[i], DNS_TYPE_A};
	}
	snprintf(names[n], sizeof(names[n]), "r%d.fresh.example", round);
	q[n] = (struct dns_question){names[n], DNS_TYPE_A};
	struct dns_answer a[48];
	dns_lookup_questions(r, q, n + 1, timeout_ms, a);
	bool ok = a[n].status == DNS_FOUND && a[n].count == 1 &&
	          strcmp(a[n].rrs[0].text, "192.0.2.99") == 0;
	for (size_t i = 0; i <= n; i++)
		dns_answer_free(&a[i]);
	return ok;
}

/* One long-lived resolver, as the smtp client's: queries it gave up on
 * (libunbound keeps resending them) must not hold up or fail the look-ups
 * after them, nor one asked in the same wait as 40 black-holed names. */
TEST(recover)
{
	struct dns_resolver *r = resolver();
	CHECK(fresh_answered(r, 0, 40, 300));
	for (int round = 1; round <= 6; round++) {
		const char *names[40];
		char buf[40][40];
		struct dns_answer a[40];
		for (int i = 0; i < 40; i++) {
			snprintf(buf[i], sizeof(buf[i]), "b%d-%d.drop.example", round, i);
			names[i] = buf[i];
		}
		dns_lookup_many(r, names, 40, DNS_TYPE_A, 300, a);
		CHECK(a[0].timed_out && a[39].timed_out);
		for (int i = 0; i < 40; i++)
			dns_answer_free(&a[i]);
		int64_t start = event_now_ms();
		CHECK(fresh_answered(r, round, 0, 1000));
		CHECK(event_now_ms() - start < 200);
	}
	dns_resolver_free(r);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	fake_server_start();
	RUN(order);
	RUN(holes);
	RUN(blackhole);
	RUN(no_mx);
	RUN(limit);
	RUN(self);
	RUN(questions);
	RUN(recover);
	fake_server_stop();
	return TESTING_DONE();
}

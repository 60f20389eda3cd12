/*
 * From a domain to the addresses to try (RFC 5321 section 5, RFC 7505),
 * with the address look-ups of the MX hosts asked together in rounds, the
 * whole routing bounded in time, and this host's own name and addresses
 * taken out of the list (loop prevention; see dns_route.h).
 */
#include "dns/dns_route.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/event.h"

int dns_family_pref_parse(const char *text)
{
	if (strcasecmp(text, "any") == 0)
		return DNS_PREFER_ANY;
	if (strcasecmp(text, "ipv4") == 0)
		return DNS_PREFER_IPV4;
	if (strcasecmp(text, "ipv6") == 0)
		return DNS_PREFER_IPV6;
	return -1;
}

static int compare_pref(const void *a, const void *b)
{
	const struct dns_rr *x = a, *y = b;
	return x->preference - y->preference;
}

void dns_mx_sort(struct dns_rr *mx, size_t count, unsigned (*random_fn)(void *), void *ctx)
{
	/* Shuffle first (Fisher-Yates), then a stable sort keeps the random
	 * order among equal preferences. qsort is not stable: insertion sort. */
	for (size_t i = count; i > 1; i--) {
		size_t j = random_fn(ctx) % i;
		struct dns_rr tmp = mx[i - 1];
		mx[i - 1] = mx[j];
		mx[j] = tmp;
	}
	for (size_t i = 1; i < count; i++) {
		struct dns_rr cur = mx[i];
		size_t j = i;
		while (j > 0 && compare_pref(&mx[j - 1], &cur) > 0) {
			mx[j] = mx[j - 1];
			j--;
		}
		mx[j] = cur;
	}
}

/* random(), seeded from the kernel at the first use in the process: each
 * smtp process then shuffles differently (unseeded, every process would
 * start the same sequence and pick the same equal-preference MX). */
static unsigned default_random(void *ctx)
{
	static bool seeded;
	(void)ctx;
	if (!seeded) {
		unsigned seed;
		if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed))
			seed = (unsigned)time(NULL) ^ ((unsigned)getpid() << 16);
		srandom(seed);
		seeded = true;
	}
	return (unsigned)random();
}

static void route_fail(struct dns_route *route, enum dns_route_status status, char *error)
{
	route->status = status;
	free(route->error);
	route->error = error;
}

static void add_target(struct dns_route *route, size_t *cap, const char *host, const char *addr,
                       const char *canon, int pref, bool mx_secure, bool addr_secure)
{
	if (route->count == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		route->targets = xreallocarray(route->targets, *cap, sizeof(*route->targets));
	}
	struct dns_target *t = &route->targets[route->count++];
	t->host = xstrdup(host);
	t->address = xstrdup(addr);
	t->preference = pref;
	t->mx_secure = mx_secure;
	t->addr_secure = addr_secure;
	t->canon = NULL;
	if (canon != NULL) {
		size_t n = strlen(canon);
		while (n > 0 && canon[n - 1] == '.')
			n--;
		if (n > 0 && (strlen(host) != n || strncasecmp(canon, host, n) != 0))
			t->canon = xstrndup(canon, n);
	}
}

/* Most hosts whose addresses are asked for in one wait (twice as many
 * queries with both families). */
#define ROUTE_BATCH_HOSTS 16

/* The address types of a host, in the order its addresses are tried;
 * returns how many. */
static size_t family_types(enum dns_family_pref family, int types[2])
{
	switch (family) {
	case DNS_ONLY_IPV4:
		types[0] = DNS_TYPE_A;
		return 1;
	case DNS_ONLY_IPV6:
		types[0] = DNS_TYPE_AAAA;
		return 1;
	case DNS_PREFER_IPV6:
		types[0] = DNS_TYPE_AAAA;
		types[1] = DNS_TYPE_A;
		return 2;
	default:
		types[0] = DNS_TYPE_A;
		types[1] = DNS_TYPE_AAAA;
		return 2;
	}
}

/* One host to look up: an MX host or the domain itself. */
struct route_host {
	const char *name;
	int preference;
};

/* What the address look-ups of one routing came to, beyond the targets. */
struct route_progress {
	size_t cap;          /* of route->targets */
	size_t asked;        /* hosts whose addresses were asked for */
	size_t failed_hosts; /* hosts without an address because of a temporary failure */
	size_t timed_out;    /* hosts of those that were not answered in time */
	size_t unasked;      /* hosts left when the time was up */
	char *error;         /* the first temporary failure */
};

static bool route_full(const struct dns_route_request *req, const struct dns_route *route,
                       const struct route_progress *p)
{
	return req->max_targets && route->count + p->failed_hosts >= req->max_targets;
}

/* Ask for the addresses of count hosts at once (every address type of
 * every host in one wait of at most timeout_ms), then add the targets in
 * host order and, within a host, in the preferred family order (with
 * DNS_PREFER_ANY, IPv4 or IPv6 first at random for each host). */
static void lookup_hosts(struct dns_resolver *r, const struct dns_route_request *req,
                         struct dns_route *route, struct route_progress *p,
                         const struct route_host *hosts, size_t count, bool mx_secure,
                         int timeout_ms)
{
	int types[2];
	size_t ntypes = family_types(req->family, types);
	size_t nq = count * ntypes;
	struct dns_question *q = xcalloc(nq ? nq : 1, sizeof(*q));
	struct dns_answer *a = xcalloc(nq ? nq : 1, sizeof(*a));
	for (size_t i = 0; i < count; i++)
		for (size_t j = 0; j < ntypes; j++)
			q[i * ntypes + j] = (struct dns_question){hosts[i].name, types[j]};
	dns_lookup_questions(r, q, nq, timeout_ms, a);
	for (size_t i = 0; i < count; i++) {
		bool found = false, tempfail = false, timed_out = false;
		/* "any": this host's families in a random order (Postfix's). */
		bool swap =
		    req->family == DNS_PREFER_ANY && ntypes == 2 && (default_random(NULL) & 1);
		for (size_t j = 0; j < ntypes; j++) {
			const struct dns_answer *ans = &a[i * ntypes + (swap ? ntypes - 1 - j : j)];
			if (ans->status == DNS_TEMPFAIL) {
				tempfail = true;
				timed_out |= ans->timed_out;
				if (p->error == NULL)
					p->error = xasprintf("%s: %s", hosts[i].name,
					                     ans->error ? ans->error
					                                : "temporary failure");
			}
			for (size_t k = 0; ans->status == DNS_FOUND && k < ans->count; k++) {
				if (req->max_targets && route->count >= req->max_targets)
					break;
				add_target(route, &p->cap, hosts[i].name, ans->rrs[k].text,
				           ans->canonname, hosts[i].preference, mx_secure,
				           ans->secure);
				found = true;
			}
		}
		/* A host that gave nothing because its look-ups failed takes a
		 * place under max_targets, so that failing hosts cannot make
		 * the routing wait for one host after another. */
		if (!found && tempfail) {
			p->failed_hosts++;
			p->timed_out += timed_out;
		}
	}
	for (size_t i = 0; i < nq; i++)
		dns_answer_free(&a[i]);
	free(a);
	free(q);
}

/* Ask for the addresses of the hosts, best first, in rounds of at most
 * ROUTE_BATCH_HOSTS and no more than can still fill max_targets, until
 * the targets are full, the hosts run out or the deadline passes. */
static void lookup_all(struct dns_resolver *r, const struct dns_route_request *req,
                       struct dns_route *route, struct route_progress *p,
                       const struct route_host *hosts, size_t count, bool mx_secure,
                       int64_t deadline)
{
	size_t next = 0;
	while (next < count && !route_full(req, route, p)) {
		int64_t left = deadline - event_now_ms();
		if (left <= 0) {
			p->unasked = count - next;
			return;
		}
		size_t n = count - next;
		if (n > ROUTE_BATCH_HOSTS)
			n = ROUTE_BATCH_HOSTS;
		if (req->max_targets && n > req->max_targets - route->count - p->failed_hosts)
			n = req->max_targets - route->count - p->failed_hosts;
		int timeout = left < req->timeout_ms ? (int)left : req->timeout_ms;
		lookup_hosts(r, req, route, p, hosts + next, n, mx_secure, timeout);
		p->asked += n;
		next += n;
	}
}

/* Why routing that found no address ran out of time. */
static char *too_long(const char *what, const struct route_progress *p)
{
	char *unasked = p->unasked ? xasprintf("; %zu not asked in time", p->unasked) : xstrdup("");
	char *why = xasprintf("DNS lookups for %s took too long (no answer for %zu of %zu host%s "
	                      "asked%s)",
	                      what, p->timed_out, p->asked, p->asked == 1 ? "" : "s", unasked);
	free(unasked);
	return why;
}

/* Drop the targets that are this host: from the first whose address is
 * one of own_addrs, it and every target of its preference or worse (the
 * targets are in preference order). True if one was found. */
static bool drop_self(const struct addr_set *own_addrs, struct dns_route *route)
{
	size_t self = 0;
	while (self < route->count && !addr_set_contains(own_addrs, route->targets[self].address))
		self++;
	if (self == route->count)
		return false;
	size_t keep = self;
	while (keep > 0 && route->targets[keep - 1].preference >= route->targets[self].preference)
		keep--;
	for (size_t i = keep; i < route->count; i++) {
		free(route->targets[i].host);
		free(route->targets[i].address);
		free(route->targets[i].canon);
	}
	route->count = keep;
	return true;
}

void dns_route_resolve(struct dns_resolver *r, const struct dns_route_request *req,
                       struct dns_route *route)
{
	memset(route, 0, sizeof(*route));
	/* One round of MX look-up and one of address look-ups, each taking
	 * up to the query time limit; further rounds only in the time left. */
	int64_t deadline = event_now_ms() + 2 * (int64_t)req->timeout_ms;
	struct route_progress p = {0};
	struct route_host self = {req->domain, 0};
	char *what = NULL;    /* what was looked up, for a time-out */
	int best_pref = 0;    /* of the hosts looked up */
	bool self_mx = false; /* an MX host at a worse preference was this host */
	if (!req->use_mx) {
		lookup_all(r, req, route, &p, &self, 1, false, deadline);
		goto done;
	}
	struct dns_answer mx;
	dns_lookup(r, req->domain, DNS_TYPE_MX, req->timeout_ms, &mx);
	switch (mx.status) {
	case DNS_TEMPFAIL:
		route_fail(route, ROUTE_TEMPFAIL,
		           xasprintf("MX lookup of %s: %s", req->domain,
		                     mx.error ? mx.error : "temporary failure"));
		dns_answer_free(&mx);
		return;
	case DNS_NXDOMAIN:
		route_fail(route, ROUTE_NOT_FOUND,
		           xasprintf("Host or domain name not found: %s", req->domain));
		dns_answer_free(&mx);
		return;
	case DNS_NODATA:
		/* No MX: the domain itself is the mail host (RFC 5321 5.1). */
		lookup_all(r, req, route, &p, &self, 1, mx.secure, deadline);
		dns_answer_free(&mx);
		goto done;
	case DNS_FOUND:
		break;
	}
	if (mx.count == 1 && strcmp(mx.rrs[0].name, ".") == 0) {
		route_fail(route, ROUTE_NULL_MX,
		           xasprintf("Domain %s does not accept mail (nullMX)", req->domain));
		dns_answer_free(&mx);
		return;
	}
	dns_mx_sort(mx.rrs, mx.count, default_random, NULL);
	size_t usable = mx.count;
	for (size_t i = 0; req->myhostname && i < mx.count; i++) {
		if (strcasecmp(mx.rrs[i].name, req->myhostname) == 0) {
			usable = i;
			while (usable > 0 && mx.rrs[usable - 1].preference >= mx.rrs[i].preference)
				usable--;
			self_mx = true;
			break;
		}
	}
	route->self_mx = self_mx;
	if (usable == 0) {
		route_fail(route, ROUTE_LOOP,
		           xasprintf("mail for %s loops back to myself", req->domain));
		dns_answer_free(&mx);
		return;
	}
	struct route_host *hosts = xcalloc(usable, sizeof(*hosts));
	size_t nhosts = 0;
	for (size_t i = 0; i < usable; i++)
		if (strcmp(mx.rrs[i].name, ".") != 0)
			hosts[nhosts++] = (struct route_host){mx.rrs[i].name, mx.rrs[i].preference};
	best_pref = nhosts > 0 ? hosts[0].preference : 0;
	lookup_all(r, req, route, &p, hosts, nhosts, mx.secure, deadline);
	free(hosts);
	dns_answer_free(&mx);
	what = xasprintf("the MX hosts of %s", req->domain);
done:
	if (req->own_addrs != NULL && route->count > 0) {
		/* Postfix's smtp_find_self: this host at the best preference
		 * found is a loop, unless better hosts gave no address. */
		int best_found = route->targets[0].preference;
		if (drop_self(req->own_addrs, route)) {
			self_mx = true;
			if (route->count == 0 && best_found == best_pref) {
				route_fail(
				    route, ROUTE_LOOP,
				    xasprintf("mail for %s loops back to myself", req->domain));
				goto out;
			}
		}
	}
	if (route->count > 0) {
		route->status = ROUTE_OK;
	} else if (p.unasked > 0 || p.timed_out > 0) {
		route_fail(route, ROUTE_TEMPFAIL, too_long(what ? what : req->domain, &p));
	} else if (p.failed_hosts > 0) {
		route_fail(route, ROUTE_TEMPFAIL, p.error);
		p.error = NULL;
	} else if (self_mx) {
		route_fail(route, ROUTE_NO_PRIMARY,
		           xasprintf("unable to find primary relay for %s", req->domain));
	} else {
		route_fail(route, ROUTE_NOT_FOUND,
		           xasprintf("no address found for the mail hosts of %s", req->domain));
	}
out:
	route->self_mx = self_mx;
	free(p.error);
	free(what);
}

void dns_route_free(struct dns_route *route)
{
	for (size_t i = 0; i < route->count; i++) {
		free(route->targets[i].host);
		free(route->targets[i].address);
		free(route->targets[i].canon);
	}
	free(route->targets);
	free(route->error);
	memset(route, 0, sizeof(*route));
}

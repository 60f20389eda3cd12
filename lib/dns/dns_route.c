/*
 * From a domain to the addresses to try (RFC 5321 section 5, RFC 7505).
 */
#include "dns/dns_route.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/alloc.h"

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

static unsigned default_random(void *ctx)
{
	(void)ctx;
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

/* Look up one host's addresses of one type, adding targets; returns the
 * answer status. */
static enum dns_status add_addresses(struct dns_resolver *r, const struct dns_route_request *req,
                                     struct dns_route *route, size_t *cap, const char *host,
                                     int type, int pref, bool mx_secure, char **error_r)
{
	struct dns_answer a;
	dns_lookup(r, host, type, req->timeout_ms, &a);
	enum dns_status status = a.status;
	if (status == DNS_TEMPFAIL && *error_r == NULL)
		*error_r = xasprintf("%s: %s", host, a.error ? a.error : "temporary failure");
	for (size_t i = 0; status == DNS_FOUND && i < a.count; i++) {
		if (req->max_targets && route->count >= req->max_targets)
			break;
		add_target(route, cap, host, a.rrs[i].text, a.canonname, pref, mx_secure, a.secure);
	}
	dns_answer_free(&a);
	return status;
}

/* Addresses of one host in the preferred family order. */
static void host_addresses(struct dns_resolver *r, const struct dns_route_request *req,
                           struct dns_route *route, size_t *cap, const char *host, int pref,
                           bool mx_secure, bool *tempfail, char **error_r)
{
	int order[2];
	size_t n = 0;
	switch (req->family) {
	case DNS_ONLY_IPV4:
		order[n++] = DNS_TYPE_A;
		break;
	case DNS_ONLY_IPV6:
		order[n++] = DNS_TYPE_AAAA;
		break;
	case DNS_PREFER_IPV6:
		order[n++] = DNS_TYPE_AAAA;
		order[n++] = DNS_TYPE_A;
		break;
	default:
		order[n++] = DNS_TYPE_A;
		order[n++] = DNS_TYPE_AAAA;
		break;
	}
	for (size_t i = 0; i < n; i++)
		if (add_addresses(r, req, route, cap, host, order[i], pref, mx_secure, error_r) ==
		    DNS_TEMPFAIL)
			*tempfail = true;
}

void dns_route_resolve(struct dns_resolver *r, const struct dns_route_request *req,
                       struct dns_route *route)
{
	memset(route, 0, sizeof(*route));
	size_t cap = 0;
	bool tempfail = false;
	char *error = NULL;
	if (!req->use_mx) {
		host_addresses(r, req, route, &cap, req->domain, 0, false, &tempfail, &error);
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
		host_addresses(r, req, route, &cap, req->domain, 0, mx.secure, &tempfail, &error);
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
			break;
		}
	}
	if (usable == 0) {
		route_fail(route, ROUTE_LOOP,
		           xasprintf("mail for %s loops back to myself", req->domain));
		dns_answer_free(&mx);
		return;
	}
	for (size_t i = 0; i < usable; i++) {
		if (strcmp(mx.rrs[i].name, ".") == 0)
			continue;
		if (req->max_targets && route->count >= req->max_targets)
			break;
		host_addresses(r, req, route, &cap, mx.rrs[i].name, mx.rrs[i].preference, mx.secure,
		               &tempfail, &error);
	}
	dns_answer_free(&mx);
done:
	if (route->count > 0) {
		free(error);
		route->status = ROUTE_OK;
	} else if (tempfail) {
		route_fail(route, ROUTE_TEMPFAIL, error ? error : xstrdup("temporary DNS failure"));
	} else {
		free(error);
		route_fail(route, ROUTE_NOT_FOUND,
		           xasprintf("no address found for the mail hosts of %s", req->domain));
	}
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

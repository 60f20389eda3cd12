/*
 * libunbound behind dns.h: resolver set-up, asynchronous queries, answers
 * turned into parsed records with their DNSSEC state, and a bounded wait
 * for callers without an event loop.
 *
 * A query given up on after its time limit is not stopped by ub_cancel:
 * libunbound goes on resending it in the background, and every time-out
 * doubles the forwarder's retransmit time in its infrastructure cache
 * until the forwarder counts as down (then even queries it would answer
 * get SERVFAIL, for infra-host-ttl) and its 16 outgoing ports are taken
 * by the abandoned queries. So once a wait has given up on a query, the
 * next look-up starts on a new libunbound context: each look-up gets its
 * own time limit, as with the system resolver.
 */
#include "dns/dns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unbound.h>

#include "util/alloc.h"
#include "util/str.h"

struct dns_resolver {
	struct ub_ctx *ub;
	bool validates;
	struct event_loop *loop;
	/* The settings, kept to make a new context. */
	char **forwarders;
	char *hosts_file;
	char *trust_anchor_file;
	size_t abandoned;     /* queries given up on in this context */
	size_t async_pending; /* dns_lookup_async queries not answered yet */
	bool processing;      /* in ub_process: the context stays */
};

/* One query in flight. */
struct dns_query {
	dns_callback *cb;
	void *ctx;
	struct dns_resolver *async; /* set for dns_lookup_async's queries */
};

static char dns_error[256];

void dns_rr_free(struct dns_rr *rr)
{
	free(rr->name);
	free(rr->text);
	free(rr->data);
	memset(rr, 0, sizeof(*rr));
}

void dns_answer_free(struct dns_answer *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->count; i++)
		dns_rr_free(&a->rrs[i]);
	free(a->rrs);
	free(a->error);
	free(a->canonname);
	memset(a, 0, sizeof(*a));
}

int dns_name_to_text(const unsigned char *wire, size_t len, char **text_r)
{
	struct str out = STR_INIT;
	size_t pos = 0;
	for (;;) {
		if (pos >= len)
			goto bad;
		size_t label = wire[pos++];
		if (label == 0)
			break;
		if (label > 63 || label > len - pos || out.len + label > 253)
			goto bad;
		if (out.len > 0)
			str_append_char(&out, '.');
		for (size_t i = 0; i < label; i++) {
			unsigned char c = wire[pos + i];
			/* Keep names printable; escape anything else. */
			if (c > 0x20 && c < 0x7f && c != '.' && c != '\\')
				str_append_char(&out, (char)c);
			else
				str_printf(&out, "\\%03u", c);
		}
		pos += label;
	}
	if (out.len == 0)
		str_append_char(&out, '.');
	*text_r = str_steal(&out);
	return (int)pos;
bad:
	str_free(&out);
	return -1;
}

int dns_rr_parse(int type, const unsigned char *rdata, size_t len, struct dns_rr *rr)
{
	memset(rr, 0, sizeof(*rr));
	rr->type = type;
	char buf[INET6_ADDRSTRLEN];
	int used;
	switch (type) {
	case DNS_TYPE_A:
	case DNS_TYPE_AAAA: {
		size_t want = type == DNS_TYPE_A ? 4 : 16;
		if (len != want)
			return -1;
		inet_ntop(type == DNS_TYPE_A ? AF_INET : AF_INET6, rdata, buf, sizeof(buf));
		rr->text = xstrdup(buf);
		rr->data = xmemdup(rdata, len);
		rr->data_len = len;
		return 0;
	}
	case DNS_TYPE_MX:
		if (len < 3)
			return -1;
		rr->preference = (rdata[0] << 8) | rdata[1];
		used = dns_name_to_text(rdata + 2, len - 2, &rr->name);
		if (used < 0 || (size_t)used != len - 2) {
			dns_rr_free(rr);
			return -1;
		}
		return 0;
	case DNS_TYPE_PTR:
		used = dns_name_to_text(rdata, len, &rr->name);
		if (used < 0 || (size_t)used != len) {
			dns_rr_free(rr);
			return -1;
		}
		return 0;
	case DNS_TYPE_TXT: {
		struct str out = STR_INIT;
		size_t pos = 0;
		while (pos < len) {
			size_t n = rdata[pos++];
			if (n > len - pos) {
				str_free(&out);
				return -1;
			}
			str_append(&out, rdata + pos, n);
			pos += n;
		}
		if (len == 0)
			return -1;
		rr->text = str_steal(&out);
		return 0;
	}
	case DNS_TYPE_TLSA:
		if (len < 4)
			return -1;
		rr->usage = rdata[0];
		rr->selector = rdata[1];
		rr->matching = rdata[2];
		rr->data_len = len - 3;
		rr->data = xmemdup(rdata + 3, len - 3);
		return 0;
	default:
		return -1;
	}
}

static void answer_from_result(struct dns_answer *a, int err, struct ub_result *res)
{
	memset(a, 0, sizeof(*a));
	if (err != 0 || res == NULL) {
		a->status = DNS_TEMPFAIL;
		a->error = xasprintf("resolver error: %s", ub_strerror(err));
		return;
	}
	a->secure = res->secure != 0;
	if (res->canonname)
		a->canonname = xstrdup(res->canonname);
	if (res->bogus) {
		a->status = DNS_TEMPFAIL;
		a->bogus = true;
		a->error = xasprintf("DNSSEC validation failed: %s",
		                     res->why_bogus ? res->why_bogus : "bogus answer");
		return;
	}
	if (res->nxdomain) {
		a->status = DNS_NXDOMAIN;
		return;
	}
	if (res->rcode != 0) {
		a->status = DNS_TEMPFAIL;
		a->error = xasprintf("server failure (rcode %d)", res->rcode);
		return;
	}
	if (!res->havedata) {
		a->status = DNS_NODATA;
		return;
	}
	size_t n = 0;
	while (res->data[n] != NULL)
		n++;
	a->rrs = xcalloc(n ? n : 1, sizeof(*a->rrs));
	for (size_t i = 0; i < n; i++) {
		struct dns_rr *rr = &a->rrs[a->count];
		if (dns_rr_parse(res->qtype, (const unsigned char *)res->data[i],
		                 (size_t)res->len[i], rr) == 0) {
			rr->ttl = (uint32_t)res->ttl;
			a->count++;
		}
	}
	a->status = a->count > 0 ? DNS_FOUND : DNS_NODATA;
	if (a->count == 0 && n > 0) {
		a->status = DNS_TEMPFAIL;
		a->error = xstrdup("malformed records in the answer");
	}
}

static void on_result(void *mydata, int err, struct ub_result *res)
{
	struct dns_query *q = mydata;
	struct dns_answer *a = xmalloc(sizeof(*a));
	answer_from_result(a, err, res);
	if (res)
		ub_resolve_free(res);
	if (q->async)
		q->async->async_pending--;
	dns_callback *cb = q->cb;
	void *ctx = q->ctx;
	free(q);
	cb(ctx, a);
}

static bool set(const char *s)
{
	return s != NULL && *s != '\0';
}

/* Deliver the answers that are ready (callbacks may start look-ups). */
static void process(struct dns_resolver *r)
{
	bool outer = !r->processing;
	r->processing = true;
	(void)ub_process(r->ub);
	if (outer)
		r->processing = false;
}

static void on_readable(struct event_loop *loop, int fd, int events, void *ctx)
{
	(void)loop;
	(void)fd;
	(void)events;
	process(ctx);
}

/* A libunbound context for the settings; NULL with *error_r (static). */
static struct ub_ctx *context_new(char *const *forwarders, const char *hosts_file,
                                  const char *trust_anchor_file, const char **error_r)
{
	struct ub_ctx *ub = ub_ctx_create();
	if (ub == NULL) {
		*error_r = "cannot create a libunbound context";
		return NULL;
	}
	int rc = ub_ctx_async(ub, 1);
	const char *what = "threads";
	if (rc == 0 && forwarders && forwarders[0]) {
		(void)ub_ctx_set_option(ub, "do-not-query-localhost:", "no");
		for (size_t i = 0; rc == 0 && forwarders[i]; i++) {
			what = forwarders[i];
			rc = ub_ctx_set_fwd(ub, forwarders[i]);
		}
	} else if (rc == 0) {
		what = "/etc/resolv.conf";
		rc = ub_ctx_resolvconf(ub, NULL);
		/* A system without resolv.conf still resolves from the root. */
		if (rc != 0)
			rc = 0;
	}
	/* Room for the queries of one wait (a routing round asks up to 32
	 * questions) beyond libunbound's 16 for library use, so an answer is
	 * not held up behind queries that go unanswered. */
	if (rc == 0) {
		what = "outgoing-range";
		rc = ub_ctx_set_option(ub, "outgoing-range:", "64");
	}
	/* Loopback's reverse names are asked of the resolver, as the system's
	 * resolver does, not answered by libunbound's built-in zone (which
	 * knows 127.0.0.1 only); the hosts file's names for addresses are
	 * dns_hosts_name's. */
	if (rc == 0) {
		what = "local-zone";
		rc = ub_ctx_set_option(ub, "local-zone:", "127.in-addr.arpa. transparent");
	}
	if (rc == 0 && set(hosts_file)) {
		what = hosts_file;
		rc = ub_ctx_hosts(ub, hosts_file);
	}
	if (rc == 0 && set(trust_anchor_file)) {
		what = trust_anchor_file;
		rc = ub_ctx_add_ta_file(ub, trust_anchor_file);
	}
	if (rc != 0) {
		snprintf(dns_error, sizeof(dns_error), "resolver setting %s: %s", what,
		         ub_strerror(rc));
		*error_r = dns_error;
		ub_ctx_delete(ub);
		return NULL;
	}
	return ub;
}

struct dns_resolver *dns_resolver_new(const struct dns_settings *s, const char **error_r)
{
	struct ub_ctx *ub =
	    context_new(s->forwarders, s->hosts_file, s->trust_anchor_file, error_r);
	if (ub == NULL)
		return NULL;
	struct dns_resolver *r = xcalloc(1, sizeof(*r));
	r->ub = ub;
	r->validates = set(s->trust_anchor_file);
	size_t n = 0;
	while (s->forwarders && s->forwarders[n])
		n++;
	r->forwarders = xcalloc(n + 1, sizeof(*r->forwarders));
	for (size_t i = 0; i < n; i++)
		r->forwarders[i] = xstrdup(s->forwarders[i]);
	r->hosts_file = set(s->hosts_file) ? xstrdup(s->hosts_file) : NULL;
	r->trust_anchor_file = set(s->trust_anchor_file) ? xstrdup(s->trust_anchor_file) : NULL;
	return r;
}

/* Before starting queries: if queries were given up on in this context
 * and no answer is still awaited from it, go on in a new one. Should that
 * fail, the old one serves (and the next look-up tries again). */
static void context_renew(struct dns_resolver *r)
{
	if (r->abandoned == 0 || r->async_pending > 0 || r->processing)
		return;
	const char *error;
	struct ub_ctx *ub = context_new(r->forwarders, r->hosts_file, r->trust_anchor_file, &error);
	if (ub == NULL)
		return;
	if (r->loop)
		event_del_fd(r->loop, ub_fd(r->ub));
	ub_ctx_delete(r->ub);
	r->ub = ub;
	r->abandoned = 0;
	if (r->loop)
		event_add_fd(r->loop, ub_fd(r->ub), EVENT_READ, on_readable, r);
}

void dns_resolver_free(struct dns_resolver *r)
{
	if (r == NULL)
		return;
	if (r->loop)
		event_del_fd(r->loop, ub_fd(r->ub));
	ub_ctx_delete(r->ub);
	for (size_t i = 0; r->forwarders[i]; i++)
		free(r->forwarders[i]);
	free(r->forwarders);
	free(r->hosts_file);
	free(r->trust_anchor_file);
	free(r);
}

bool dns_resolver_validates(const struct dns_resolver *r)
{
	return r->validates;
}

int dns_lookup_async(struct dns_resolver *r, const char *name, int type, dns_callback *cb,
                     void *ctx, const char **error_r)
{
	context_renew(r);
	struct dns_query *q = xmalloc(sizeof(*q));
	q->cb = cb;
	q->ctx = ctx;
	q->async = r;
	int id;
	int rc = ub_resolve_async(r->ub, name, type, 1 /* IN */, q, on_result, &id);
	if (rc != 0) {
		free(q);
		snprintf(dns_error, sizeof(dns_error), "cannot start a DNS query: %s",
		         ub_strerror(rc));
		*error_r = dns_error;
		return -1;
	}
	r->async_pending++;
	return 0;
}

void dns_resolver_process(struct dns_resolver *r)
{
	process(r);
}

void dns_resolver_attach(struct dns_resolver *r, struct event_loop *loop)
{
	r->loop = loop;
	event_add_fd(loop, ub_fd(r->ub), EVENT_READ, on_readable, r);
}

/* The state of one look-up that a caller waits for. */
struct wait_state {
	bool done;
	struct dns_answer *answer;
};

static void on_wait_done(void *ctx, struct dns_answer *answer)
{
	struct wait_state *w = ctx;
	w->done = true;
	w->answer = answer;
}

/* For an answer that came after its wait had given up on it. */
static void on_late_answer(void *ctx, struct dns_answer *answer)
{
	(void)ctx;
	dns_answer_free(answer);
	free(answer);
}

void dns_lookup_questions(struct dns_resolver *r, const struct dns_question *questions,
                          size_t count, int timeout_ms, struct dns_answer *answers)
{
	struct wait_state *w = xcalloc(count ? count : 1, sizeof(*w));
	struct dns_query **q = xcalloc(count ? count : 1, sizeof(*q));
	int *ids = xcalloc(count ? count : 1, sizeof(*ids));
	size_t pending = 0;
	context_renew(r);
	for (size_t i = 0; i < count; i++) {
		memset(&answers[i], 0, sizeof(answers[i]));
		q[i] = xmalloc(sizeof(*q[i]));
		q[i]->cb = on_wait_done;
		q[i]->ctx = &w[i];
		q[i]->async = NULL;
		int rc = ub_resolve_async(r->ub, questions[i].name, questions[i].type, 1, q[i],
		                          on_result, &ids[i]);
		if (rc != 0) {
			free(q[i]);
			q[i] = NULL;
			w[i].done = true;
			answers[i].status = DNS_TEMPFAIL;
			answers[i].error =
			    xasprintf("cannot start a DNS query: %s", ub_strerror(rc));
			continue;
		}
		pending++;
	}
	int64_t deadline = event_now_ms() + timeout_ms;
	while (pending > 0) {
		int64_t left = deadline - event_now_ms();
		if (left <= 0)
			break;
		struct pollfd pfd = {.fd = ub_fd(r->ub), .events = POLLIN};
		int n = poll(&pfd, 1, (int)left);
		if (n < 0 && errno != EINTR)
			break;
		if (n > 0)
			process(r);
		pending = 0;
		for (size_t i = 0; i < count; i++)
			pending += !w[i].done;
	}
	for (size_t i = 0; i < count; i++) {
		if (q[i] == NULL)
			continue;
		if (!w[i].done) {
			/* ub_cancel frees nothing of ours: the query record is
			 * ours. One answered but not yet delivered cannot be
			 * cancelled: its answer is dropped when it comes. The
			 * context's work on the query goes on either way. */
			if (ub_cancel(r->ub, ids[i]) == 0) {
				free(q[i]);
			} else {
				q[i]->cb = on_late_answer;
				q[i]->ctx = NULL;
			}
			r->abandoned++;
			answers[i].status = DNS_TEMPFAIL;
			answers[i].timed_out = true;
			answers[i].error =
			    xasprintf("DNS query for %s timed out", questions[i].name);
			continue;
		}
		answers[i] = *w[i].answer;
		free(w[i].answer);
	}
	free(ids);
	free(q);
	free(w);
}

void dns_lookup_many(struct dns_resolver *r, const char *const *names, size_t count, int type,
                     int timeout_ms, struct dns_answer *answers)
{
	struct dns_question *q = xcalloc(count ? count : 1, sizeof(*q));
	for (size_t i = 0; i < count; i++)
		q[i] = (struct dns_question){.name = names[i], .type = type};
	dns_lookup_questions(r, q, count, timeout_ms, answers);
	free(q);
}

void dns_lookup(struct dns_resolver *r, const char *name, int type, int timeout_ms,
                struct dns_answer *answer)
{
	dns_lookup_many(r, &name, 1, type, timeout_ms, answer);
}

char *dns_reverse_name(const char *address)
{
	return dns_reverse_name_under(address, strchr(address, ':') ? "ip6.arpa" : "in-addr.arpa");
}

char *dns_reverse_name_under(const char *address, const char *domain)
{
	unsigned char b[16];
	if (inet_pton(AF_INET, address, b) == 1)
		return xasprintf("%u.%u.%u.%u.%s", b[3], b[2], b[1], b[0], domain);
	if (inet_pton(AF_INET6, address, b) != 1)
		return NULL;
	struct str out = STR_INIT;
	static const char hex[] = "0123456789abcdef";
	for (int i = 15; i >= 0; i--)
		str_printf(&out, "%c.%c.", hex[b[i] & 15], hex[b[i] >> 4]);
	str_append_cstr(&out, domain);
	return str_steal(&out);
}

/*
 * Delivery of routed recipients. Which transport delivers a recipient, and
 * to which next hop, is mail_route_sender's answer (lib/mail/route.h:
 * transport_maps, then the transport of the address's class,
 * local_transport, virtual_transport, relay_transport or
 * default_transport; an smtp one of the last two without a next hop of
 * its own goes to the sender's relay from
 * sender_dependent_relayhost_maps, relayhost or the domain). A
 * transport is a delivery service in master.conf (transports.c): its
 * program makes it an smtp one (a request to private/TRANSPORT with the
 * next hop; none given in transport_maps means the recipient domain, as
 * in Postfix), a local one (no next hop), or an error or discard one,
 * which qmgr is itself (the next hop is the bounce or discard reason).
 * Any other name defers the recipient, with a
 * reason naming the parameter that named it, as does a failed table
 * lookup. An address verification probe (smtpd/verify.c; not a sendmail
 * -bv report) is routed the same way with the address_verify_
 * parameters in place of the routing ones (qmgr.probe_routing, Postfix's
 * address_verify_transport_maps, address_verify_relayhost,
 * address_verify_local_transport and the like, each by default the
 * parameter it stands for), and a reason names the parameter of the
 * probe's routing. A message with a content filter (content_filter or an access
 * table's FILTER, recorded in its envelope) goes to the filter instead,
 * every recipient. Recipients with the same transport and next hop
 * go in one request (at most TRANSPORT_destination_recipient_limit),
 * within the transport's and destinations' concurrency limits
 * (limits.c). Called from the delivery threads: the tables are opened
 * and read under a lock.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mail/route.h"
#include "qmgr/qmgr.h"
#include "table/table.h"
#include "util/alloc.h"
#include "util/log.h"

/* transport_maps, sender_dependent_relayhost_maps,
 * sender_dependent_default_transport_maps and
 * address_verify_transport_maps, by spec (one table when two name the
 * same). */
static struct table *route_tables[4];
static pthread_mutex_t transport_lock = PTHREAD_MUTEX_INITIALIZER;

struct route {
	char *transport;
	char *nexthop;
	const char *param;         /* transport_maps, default_transport... */
	char *problem;             /* set when the route cannot be decided now */
	const struct transport *t; /* NULL: no such transport */
};

void agent_info_free(struct agent_info *info)
{
	free(info->relay);
	free(info->tls);
	info->relay = NULL;
	info->tls = NULL;
}

/* mail_route's table lookup: one of route_tables, each opened on first
 * use. */
static int transport_lookup(const char *spec, const char *key, struct str *value)
{
	const char *error = "";
	pthread_mutex_lock(&transport_lock);
	static const char *const names[] = {"transport_maps", "sender_dependent_relayhost_maps",
	                                    "sender_dependent_default_transport_maps",
	                                    "address_verify_transport_maps"};
	int which = strcmp(spec, qmgr.mail_routing.transport_maps) == 0    ? 0
	            : strcmp(spec, qmgr.sender_relay_maps) == 0            ? 1
	            : strcmp(spec, qmgr.sender_transport_maps) == 0        ? 2
	            : strcmp(spec, qmgr.probe_routing.transport_maps) == 0 ? 3
	                                                                   : -1;
	if (which < 0) {
		pthread_mutex_unlock(&transport_lock);
		log_warn("route look-up in an unknown table %s", spec);
		return -1;
	}
	const char *name = names[which];
	struct table **table = &route_tables[which];
	if (*table == NULL)
		*table = table_open(spec, &error);
	int rc = -1;
	if (*table == NULL)
		log_warn("%s %s: %s", name, spec, error);
	else if ((rc = table_lookup(*table, key, value, &error)) < 0)
		log_warn("%s lookup of %s: %s", name, key, error);
	pthread_mutex_unlock(&transport_lock);
	return rc;
}

/* Does transport take a next hop host (mail_route's question)? */
static bool smtp_transport(const char *name)
{
	const struct transport *t = transport_find(name);
	return t != NULL && t->kind == TRANSPORT_SMTP;
}

/* A content filter ("transport:nexthop", the transport alone allowed) takes
 * every recipient of the message, as Postfix's content_filter and FILTER. */
static void route_filter(const char *filter, const char *address, struct route *route)
{
	size_t len = strcspn(filter, ":");
	route->transport = xstrndup(filter, len);
	route->param = "content_filter";
	route->t = transport_find(route->transport);
	const char *nexthop = filter[len] == ':' ? filter + len + 1 : "";
	if (*nexthop == '\0' && route->t != NULL && route->t->kind == TRANSPORT_SMTP) {
		const char *at = strrchr(address, '@');
		nexthop = at ? at + 1 : "";
	}
	route->nexthop = xstrdup(nexthop);
}

/* Is env an address verification probe (routed with probe_routing)? */
static bool is_probe(const struct queue_envelope *env)
{
	return env->verify != NULL && strcmp(env->verify, QUEUE_VERIFY_PROBE) == 0;
}

/* The parameter of a probe's routing that stands for param, the name
 * mail_route_sender gave (the sender-dependent tables have none). */
static const char *probe_param(const char *param)
{
	static const char *const names[] = {
	    "address_verify_transport_maps",    "address_verify_local_transport",
	    "address_verify_virtual_transport", "address_verify_relay_transport",
	    "address_verify_default_transport",
	};
	static const size_t prefix_len = sizeof("address_verify_") - 1;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(names[i] + prefix_len, param) == 0)
			return names[i];
	return param;
}

static void route_resolve(const struct queue_envelope *env, const char *address,
                          struct route *route)
{
	memset(route, 0, sizeof(*route));
	if (env->filter != NULL && *env->filter != '\0') {
		route_filter(env->filter, address, route);
		return;
	}
	const char *sender = env->sender;
	bool probe = is_probe(env);
	const struct qmgr_routing *r = probe ? &qmgr.probe_routing : &qmgr.mail_routing;
	struct mail_route_settings rs = {
	    .mydestination = qmgr.mydestination,
	    .virtual_domains = qmgr.virtual_domains,
	    .relay_domains = qmgr.relay_domains,
	    .relayhost = r->relayhost,
	    .myhostname = qmgr.hostname,
	    .transport_maps = r->transport_maps,
	    .sender_relay_maps = qmgr.sender_relay_maps,
	    .sender_transport_maps = qmgr.sender_transport_maps,
	    .local_transport = r->local_transport,
	    .virtual_transport = r->virtual_transport,
	    .relay_transport = r->relay_transport,
	    .default_transport = r->default_transport,
	    .smtp_transport = smtp_transport,
	    .lookup = transport_lookup,
	};
	struct str transport = STR_INIT, nexthop = STR_INIT;
	if (mail_route_sender(&rs, sender ? sender : "", address, &transport, &nexthop,
	                      &route->param) != 0)
		route->problem =
		    xasprintf("%s, sender_dependent_relayhost_maps or "
		              "sender_dependent_default_transport_maps lookup failed",
		              probe ? "address_verify_transport_maps" : "transport_maps");
	if (probe)
		route->param = probe_param(route->param);
	route->t = transport_find(str_cstr(&transport));
	if (route->t != NULL &&
	    (route->t->kind == TRANSPORT_SMTP || route->t->kind == TRANSPORT_DISCARD) &&
	    nexthop.len == 0) {
		const char *at = strrchr(address, '@');
		str_append_cstr(&nexthop, at ? at + 1 : "");
	}
	route->transport = str_steal(&transport);
	route->nexthop = str_steal(&nexthop);
}

static void route_free(struct route *r)
{
	free(r->transport);
	free(r->nexthop);
	free(r->problem);
}

static void set_all(struct rcpt_result *results, struct agent_info *info, const size_t *group,
                    size_t n, enum rcpt_state state, const char *status, const char *reason,
                    const char *relay)
{
	for (size_t k = 0; k < n; k++) {
		rcpt_result_set(&results[group[k]], state, status, reason, (int64_t)time(NULL));
		free(info[group[k]].relay);
		info[group[k]].relay = xstrdup(relay);
	}
}

/* The length of an RFC 3463 status ("5.1.1") at the start of text and
 * the blank after it, or 0. */
static size_t status_prefix_len(const char *text)
{
	size_t i = 0;
	for (int part = 0; part < 3; part++) {
		size_t digits = 0;
		while (text[i + digits] >= '0' && text[i + digits] <= '9')
			digits++;
		if (digits == 0 || digits > 3 || (part == 0 && digits != 1))
			return 0;
		i += digits;
		if (part < 2 && text[i++] != '.')
			return 0;
	}
	return text[i] == ' ' ? i + 1 : 0;
}

/* The transports qmgr is itself, as Postfix's error(8) and discard(8):
 * the next hop is the reason, which may start with a status ("error:4.7.1
 * try later" defers, "error:5.1.1 no such user" bounces with that code;
 * discard's is 2.x.x). An error without a reason bounces with Postfix's
 * text; a discard without one names the next hop (the domain). */
static void builtin_transport(enum transport_kind kind, const char *nexthop,
                              struct rcpt_result *results, struct agent_info *info,
                              const size_t *group, size_t n)
{
	bool error = kind == TRANSPORT_ERROR;
	size_t len = status_prefix_len(nexthop);
	char status[16];
	snprintf(status, sizeof(status), "%s", error ? "5.0.0" : "2.0.0");
	if (len > 0 && len <= sizeof(status) &&
	    (error ? nexthop[0] == '4' || nexthop[0] == '5' : nexthop[0] == '2'))
		snprintf(status, sizeof(status), "%.*s", (int)len - 1, nexthop);
	else
		len = 0;
	const char *reason = nexthop + len;
	if (*reason == '\0')
		reason = error ? "mail for this address is refused" : "discarded";
	enum rcpt_state state = !error             ? RCPT_DELIVERED
	                        : status[0] == '4' ? RCPT_DEFERRED
	                                           : RCPT_BOUNCED;
	set_all(results, info, group, n, state, status, reason, "none");
}

/* Deliver one group (positions into indexes) through its transport. */
static void deliver_group(const struct queue_envelope *env, const size_t *indexes,
                          const size_t *group, size_t n, const struct route *route,
                          struct rcpt_result *results, struct agent_info *info)
{
	const struct transport *t = route->t;
	if (route->problem) {
		set_all(results, info, group, n, RCPT_DEFERRED, "4.3.0", route->problem, "none");
		return;
	}
	if (t != NULL && (t->kind == TRANSPORT_ERROR || t->kind == TRANSPORT_DISCARD)) {
		builtin_transport(t->kind, route->nexthop, results, info, group, n);
		return;
	}
	if (t == NULL || t->kind == TRANSPORT_OTHER) {
		char *reason =
		    t == NULL
		        ? xasprintf("unknown transport \"%s\" in %s: no unix "
		                    "service of that name in master.conf",
		                    route->transport, route->param)
		        : xasprintf(
		              "transport \"%s\" in %s: its master.conf "
		              "service runs %s, not smtp, lmtp, pipe, local, error or discard",
		              route->transport, route->param, t->program);
		set_all(results, info, group, n, RCPT_DEFERRED, "4.3.5", reason, "none");
		free(reason);
		return;
	}
	bool is_local = t->kind == TRANSPORT_LOCAL;
	size_t *sub = xcalloc(n, sizeof(*sub));
	for (size_t k = 0; k < n; k++)
		sub[k] = indexes[group[k]];
	const char *nexthop = is_local ? NULL : route->nexthop;
	struct limit_claim *claim = limits_claim(t, nexthop, env, sub, n);
	if (claim == NULL) {
		/* No room at the destination now: put off (results left
		 * pending), the message waits in line for it (limits.c). */
		free(sub);
		return;
	}
	struct rcpt_result *sub_results = xcalloc(n, sizeof(*sub_results));
	struct agent_info *sub_info = xcalloc(n, sizeof(*sub_info));
	deliver_agent(t->name, nexthop, env, sub, n, sub_results, sub_info);
	limits_release(claim);
	for (size_t k = 0; k < n; k++) {
		struct rcpt_result *r = &sub_results[k];
		rcpt_result_copy(&results[group[k]], r);
		rcpt_result_free(r);
		agent_info_free(&info[group[k]]);
		info[group[k]] = sub_info[k];
		if (info[group[k]].relay == NULL)
			info[group[k]].relay = xstrdup(is_local ? t->name : "none");
	}
	free(sub);
	free(sub_results);
	free(sub_info);
}

void deliver_routed(const struct queue_envelope *env, const size_t *indexes, size_t count,
                    struct rcpt_result *results, struct agent_info *info)
{
	struct route *routes = xcalloc(count, sizeof(*routes));
	bool *done = xcalloc(count, sizeof(*done));
	size_t *group = xcalloc(count, sizeof(*group));
	for (size_t i = 0; i < count; i++)
		route_resolve(env, env->rcpts[indexes[i]].address, &routes[i]);
	for (size_t i = 0; i < count; i++) {
		if (done[i])
			continue;
		size_t n = 0;
		for (size_t j = i; j < count; j++) {
			if (done[j])
				continue;
			bool same = (routes[i].problem != NULL) == (routes[j].problem != NULL) &&
			            (routes[i].problem != NULL ||
			             (strcmp(routes[i].transport, routes[j].transport) == 0 &&
			              strcasecmp(routes[i].nexthop, routes[j].nexthop) == 0));
			if (same) {
				group[n++] = j;
				done[j] = true;
			}
		}
		/* A transport takes at most its
		 * TRANSPORT_destination_recipient_limit recipients a request
		 * (smtp: a transaction): more go in further requests (and
		 * transactions, over the same session where the server allows). */
		size_t per = n;
		const struct transport *t = routes[i].t;
		if (routes[i].problem == NULL && t != NULL &&
		    (t->kind == TRANSPORT_SMTP || t->kind == TRANSPORT_LOCAL) &&
		    t->recipient_limit > 0 && (size_t)t->recipient_limit < n)
			per = (size_t)t->recipient_limit;
		for (size_t off = 0; off < n; off += per)
			deliver_group(env, indexes, group + off, n - off < per ? n - off : per,
			              &routes[i], results, info);
	}
	for (size_t i = 0; i < count; i++)
		route_free(&routes[i]);
	free(routes);
	free(done);
	free(group);
}

/*
 * Which agent delivers a recipient, and to which next hop:
 *   1. transport_maps (an LMDB table built by mailctl): the full address,
 *      then the domain, then each parent domain as ".parent"; the value is
 *      "transport:nexthop" with transport smtp, local or error (error's
 *      next hop is the bounce text); an empty transport or next hop keeps
 *      the default for that part;
 *   2. local domains (mydestination, virtual_mailbox_domains, no domain)
 *      go to local;
 *   3. everything else goes to smtp, with relayhost as the next hop when
 *      it is set, else the recipient's domain (MX routing).
 * Recipients with the same transport and next hop go in one request,
 * within the transport's and destinations' concurrency limits (limits.c).
 * Called from the delivery threads: the table is opened and read under a
 * lock.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "qmgr/qmgr.h"
#include "table/table.h"
#include "util/alloc.h"
#include "util/log.h"

static struct table *transport_table;
static pthread_mutex_t transport_lock = PTHREAD_MUTEX_INITIALIZER;

struct route {
	char *transport;
	char *nexthop;
	char *problem; /* set when the route cannot be decided now */
};

void agent_info_free(struct agent_info *info)
{
	free(info->relay);
	free(info->tls);
	info->relay = NULL;
	info->tls = NULL;
}

/* 1 found (value set), 0 not found, -1 error (route->problem set). */
static int table_find(const char *address, struct str *value, struct route *route)
{
	if (*qmgr.transport_maps == '\0')
		return 0;
	const char *error = "";
	pthread_mutex_lock(&transport_lock);
	if (transport_table == NULL) {
		transport_table = table_open(qmgr.transport_maps, &error);
		if (transport_table == NULL) {
			route->problem = xasprintf("transport_maps: %s", error);
			pthread_mutex_unlock(&transport_lock);
			return -1;
		}
	}
	char *key = xstrdup(address);
	for (char *c = key; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	int rc = table_lookup(transport_table, key, value, &error);
	char *at = strrchr(key, '@');
	const char *domain = at ? at + 1 : NULL;
	if (rc == 0 && domain && *domain)
		rc = table_lookup(transport_table, domain, value, &error);
	for (const char *dot = domain ? strchr(domain, '.') : NULL; rc == 0 && dot;
	     dot = strchr(dot + 1, '.'))
		rc = table_lookup(transport_table, dot, value, &error);
	if (rc < 0)
		route->problem = xasprintf("transport_maps lookup: %s", error);
	pthread_mutex_unlock(&transport_lock);
	free(key);
	return rc;
}

static void route_resolve(const char *address, struct route *route)
{
	memset(route, 0, sizeof(*route));
	struct str value = STR_INIT;
	int found = table_find(address, &value, route);
	if (found < 0) {
		str_free(&value);
		return;
	}
	bool local = qmgr_address_is_local(address);
	const char *at = strrchr(address, '@');
	const char *domain = at ? at + 1 : "";
	const char *dflt_transport = local ? "local" : "smtp";
	const char *dflt_nexthop = local ? "" : *qmgr.relayhost ? qmgr.relayhost : domain;
	if (found == 1) {
		const char *v = str_cstr(&value);
		while (isspace((unsigned char)*v))
			v++;
		const char *colon = strchr(v, ':');
		char *t = colon ? xstrndup(v, (size_t)(colon - v)) : xstrdup(v);
		const char *nh = colon ? colon + 1 : "";
		route->transport = xstrdup(*t ? t : dflt_transport);
		free(t);
		if (*nh == '\0' && strcmp(route->transport, "smtp") == 0)
			nh = *qmgr.relayhost ? qmgr.relayhost : domain;
		route->nexthop = xstrdup(nh);
		size_t len = strlen(route->nexthop);
		while (len > 0 && isspace((unsigned char)route->nexthop[len - 1]))
			route->nexthop[--len] = '\0';
	} else {
		route->transport = xstrdup(dflt_transport);
		route->nexthop = xstrdup(dflt_nexthop);
	}
	str_free(&value);
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

/* Deliver one group (positions into indexes) through its transport. */
static void deliver_group(const struct queue_envelope *env, const size_t *indexes,
                          const size_t *group, size_t n, const struct route *route,
                          struct rcpt_result *results, struct agent_info *info)
{
	if (route->problem) {
		set_all(results, info, group, n, RCPT_DEFERRED, "4.3.0", route->problem, "none");
		return;
	}
	if (strcmp(route->transport, "error") == 0) {
		set_all(results, info, group, n, RCPT_BOUNCED, "5.0.0",
		        *route->nexthop ? route->nexthop : "mail for this address is refused",
		        "none");
		return;
	}
	bool is_local = strcmp(route->transport, "local") == 0;
	if (!is_local && strcmp(route->transport, "smtp") != 0) {
		char *reason =
		    xasprintf("unknown transport \"%s\" in transport_maps", route->transport);
		set_all(results, info, group, n, RCPT_DEFERRED, "4.3.5", reason, "none");
		free(reason);
		return;
	}
	size_t *sub = xcalloc(n, sizeof(*sub));
	struct rcpt_result *sub_results = xcalloc(n, sizeof(*sub_results));
	struct agent_info *sub_info = xcalloc(n, sizeof(*sub_info));
	for (size_t k = 0; k < n; k++)
		sub[k] = indexes[group[k]];
	struct limit_claim *claim = limits_claim(route->transport, env, sub, n);
	deliver_agent(route->transport, is_local ? NULL : route->nexthop, env, sub, n, sub_results,
	              sub_info);
	limits_release(claim);
	for (size_t k = 0; k < n; k++) {
		struct rcpt_result *r = &sub_results[k];
		rcpt_result_set(&results[group[k]], r->state, r->status, r->reason, r->time);
		rcpt_result_free(r);
		agent_info_free(&info[group[k]]);
		info[group[k]] = sub_info[k];
		if (info[group[k]].relay == NULL)
			info[group[k]].relay = xstrdup(is_local ? "local" : "none");
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
		route_resolve(env->rcpts[indexes[i]].address, &routes[i]);
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
		deliver_group(env, indexes, group, n, &routes[i], results, info);
	}
	for (size_t i = 0; i < count; i++)
		route_free(&routes[i]);
	free(routes);
	free(done);
	free(group);
}

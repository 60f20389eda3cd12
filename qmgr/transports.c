/*
 * The transports qmgr delivers through, as in Postfix: a transport is a
 * unix service in master.conf, and the service's program (its command's
 * file name) says how qmgr hands it mail. smtp: the smtp client, given a
 * next hop; local: the local agent, without one; error: no agent at all,
 * qmgr bounces the recipients itself (Postern has no error program, so
 * that is the error transport alone). So "relay unix - n n - - smtp -o
 * smtp_helo_name=..." is one more smtp transport, with the service's own
 * options, process limit and socket (private/relay). A service of another
 * program is no transport. smtp, local and error are those transports
 * whatever program their service runs (a wrapper, say), and without a
 * service of theirs in master.conf too.
 *
 * Each transport's limits come from main.conf at start:
 * TRANSPORT_destination_concurrency_limit and
 * TRANSPORT_destination_recipient_limit, when unset
 * default_destination_concurrency_limit and
 * default_destination_recipient_limit (a local transport takes all of a
 * request's recipients when its recipient limit is unset),
 * TRANSPORT_destination_rate_delay (default_destination_rate_delay); the process
 * limit is the service's maxproc ('-': default_process_limit). The list
 * is built once, before the delivery threads start, and only read after.
 * lmtp, the LMTP client, is a transport with a next hop as smtp is (its
 * kind is TRANSPORT_SMTP), but only with a service in master.conf, as
 * Postfix's "lmtp unix - - n - - lmtp"; so is pipe, the agent that runs a
 * command (Postfix's pipe(8): "dovecot unix - n n - - pipe ..."), whose
 * next hop is the recipient domain or the transport table's.
 *
 * A transport that local_transport, virtual_transport, relay_transport or
 * default_transport names and that is none of these is warned about at
 * start: the mail of that class will be deferred (transport.c). So is one
 * that their address_verify_ counterpart names, when it differs: the
 * probes of that class will be deferred.
 */
#include <stdlib.h>
#include <string.h>

#include "conf/masterconf.h"
#include "mail/route.h"
#include "qmgr/qmgr.h"
#include "util/alloc.h"
#include "util/log.h"

static struct transport *transports;
static size_t transport_count;

/* The transports qmgr has without a master.conf service of theirs. */
static const char *const kind_programs[] = {
    [TRANSPORT_SMTP] = "smtp",
    [TRANSPORT_LOCAL] = "local",
    [TRANSPORT_ERROR] = "error",
    [TRANSPORT_DISCARD] = "discard",
};

static enum transport_kind kind_of(const char *program)
{
	for (size_t k = 0; k < sizeof(kind_programs) / sizeof(kind_programs[0]); k++)
		if (strcmp(kind_programs[k], program) == 0)
			return (enum transport_kind)k;
	/* The LMTP client and the pipe agent take requests as smtp does,
	 * with a next hop (pipe's ${nexthop}). */
	if (strcmp(program, "lmtp") == 0 || strcmp(program, "pipe") == 0)
		return TRANSPORT_SMTP;
	return TRANSPORT_OTHER;
}

/* TRANSPORT_SUFFIX if set, else fallback (NULL: 0); *name_r: which. */
static int64_t limit_param(const struct conf *conf, const char *transport, const char *suffix,
                           const char *fallback, char **name_r)
{
	char *name = xasprintf("%s%s", transport, suffix);
	if (!conf_is_set(conf, name)) {
		free(name);
		name = fallback ? xstrdup(fallback) : NULL;
	}
	*name_r = name;
	return name ? conf_get_int(conf, name) : 0;
}

static void add(const struct conf *conf, const char *name, const char *program, int max_proc)
{
	struct transport *t = &transports[transport_count++];
	t->name = xstrdup(name);
	t->program = xstrdup(program);
	t->kind = kind_of(name) != TRANSPORT_OTHER ? kind_of(name) : kind_of(program);
	t->process_limit = max_proc < 0 ? conf_get_int(conf, "default_process_limit") : max_proc;
	char *param;
	/* Below 1: no limit. */
	t->destination_limit = limit_param(conf, name, "_destination_concurrency_limit",
	                                   "default_destination_concurrency_limit", &param);
	free(param);
	char *delay_name = xasprintf("%s_destination_rate_delay", name);
	t->rate_delay = conf_get_time(
	    conf, conf_is_set(conf, delay_name) ? delay_name : "default_destination_rate_delay");
	free(delay_name);
	t->recipient_limit = limit_param(
	    conf, name, "_destination_recipient_limit",
	    t->kind == TRANSPORT_LOCAL ? NULL : "default_destination_recipient_limit", &param);
	if (t->recipient_limit < 0)
		log_fatal("%s must be 0 (no limit) or more", param);
	free(param);
}

/* Warn about the transport that param names when qmgr cannot deliver
 * through it; outcome says what becomes of the messages routed there. */
static void check_class_transport(const struct conf *conf, const char *param, const char *outcome)
{
	struct str name = STR_INIT, nexthop = STR_INIT;
	const char *value = conf_get(conf, param);
	mail_route_split(value, &name, &nexthop);
	const struct transport *t = transport_find(str_cstr(&name));
	if (t == NULL)
		log_warn("%s = %s: no unix service %s in master.conf: %s", param, value,
		         str_cstr(&name), outcome);
	else if (t->kind == TRANSPORT_OTHER)
		log_warn("%s = %s: service %s runs %s, not smtp, lmtp, pipe, local, error or "
		         "discard: %s",
		         param, value, t->name, t->program, outcome);
	str_free(&name);
	str_free(&nexthop);
}

static void check_class_transports(const struct conf *conf)
{
	static const char *const params[] = {"local_transport", "virtual_transport",
	                                     "relay_transport", "default_transport"};
	for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
		check_class_transport(conf, params[i], "mail routed through it is deferred");
		char *probe_param = xasprintf("address_verify_%s", params[i]);
		if (strcmp(conf_get(conf, probe_param), conf_get(conf, params[i])) != 0)
			check_class_transport(conf, probe_param,
			                      "address verification probes routed through it are "
			                      "deferred");
		free(probe_param);
	}
}

void transports_init(const struct conf *conf)
{
	char *path = xasprintf("%s/master.conf", conf_get(conf, "config_directory"));
	struct service_list services;
	struct diag_list diags;
	service_list_init(&services);
	diag_list_init(&diags);
	/* master reports the same errors; the good lines still count. */
	if (masterconf_load_file(path, &services, &diags) != 0)
		for (size_t i = 0; i < diags.count; i++)
			if (diags.items[i].severity == DIAG_ERROR)
				log_warn("transports: %s", diags.items[i].text);
	size_t built_ins = sizeof(kind_programs) / sizeof(kind_programs[0]);
	transports = xcalloc(services.count + built_ins, sizeof(*transports));
	for (size_t i = 0; i < services.count; i++) {
		const struct service_def *def = &services.items[i];
		if (def->type != SERVICE_UNIX)
			continue;
		const char *slash = strrchr(def->argv[0], '/');
		add(conf, def->name, slash ? slash + 1 : def->argv[0], def->max_proc);
	}
	for (size_t k = 0; k < built_ins; k++)
		if (transport_find(kind_programs[k]) == NULL)
			add(conf, kind_programs[k], kind_programs[k], -1);
	check_class_transports(conf);
	diag_list_free(&diags);
	service_list_free(&services);
	free(path);
}

const struct transport *transport_find(const char *name)
{
	for (size_t i = 0; i < transport_count; i++)
		if (strcmp(transports[i].name, name) == 0)
			return &transports[i];
	return NULL;
}

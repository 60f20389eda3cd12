/*
 * mailctl check: the services of master.conf (command, chroot, user,
 * address, -o settings, a pipe service's own arguments), and the transports main.conf names for
 * them (per-transport parameters, local_transport and the other class transports), as master and
 * qmgr will use them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"
#include "conf/masterconf.h"
#include "conf/params.h"
#include "conf/postfix_hints.h"
#include "mail/pipe_args.h"
#include "mail/route.h"
#include "mailctl/check.h"
#include "util/alloc.h"
#include "util/privs.h"
#include "util/sock.h"
#include "util/str.h"

static void check_pipe_service(struct checker *ck, const struct service_def *def,
                               const char *where);

void check_service(struct checker *ck, const struct service_def *def)
{
	char *where = xasprintf("%s:%d", def->file, def->line);
	const char *cmd = def->argv[0];
	char *program = cmd[0] == '/'
	                    ? xstrdup(cmd)
	                    : xasprintf("%s/%s", conf_get(ck->conf, "daemon_directory"), cmd);
	const char *hint = postfix_program_hint(cmd);
	if (access(program, X_OK) != 0 && hint != NULL)
		report(ck, true, where, "service %s: command %s: %s (Postfix's %s: %s)", def->name,
		       program, strerror(errno), cmd, hint);
	else if (access(program, X_OK) != 0)
		report(ck, true, where, "service %s: command %s: %s", def->name, program,
		       strerror(errno));
	free(program);
	if (def->chroot_path && access(def->chroot_path, X_OK) != 0)
		report(ck, true, where, "service %s: chroot %s: %s", def->name, def->chroot_path,
		       strerror(errno));
	if (def->privilege == SERVICE_USER) {
		uid_t uid;
		gid_t gid;
		const char *error;
		if (privs_lookup(def->user_spec, &uid, &gid, &error) != 0)
			report(ck, privs_are_root(), where, "service %s: user %s: %s", def->name,
			       def->user_spec, error);
		else if (uid == 0)
			report(ck, true, where,
			       "service %s: user %s is root; say 'n' in the unpriv column instead",
			       def->name, def->user_spec);
	}
	if (def->type == SERVICE_INET) {
		char *host = NULL, *port = NULL;
		const char *error;
		if (sock_split_hostport(def->name, &host, &port, &error) != 0)
			report(ck, true, where, "service %s: %s", def->name, error);
		free(host);
		free(port);
	}
	for (int i = 1; i + 1 < def->argc; i++) {
		if (strcmp(def->argv[i], "-o") != 0)
			continue;
		const char *setting = def->argv[++i];
		const char *eq = strchr(setting, '=');
		if (eq == NULL) {
			report(ck, true, where, "service %s: -o %s: expected name=value", def->name,
			       setting);
			continue;
		}
		char *name = xstrndup(setting, (size_t)(eq - setting));
		const struct param_def *p = param_find(name);
		const char *error;
		char *value = conf_expand(ck->conf, eq + 1);
		if (p == NULL && postfix_hint(name) != NULL)
			report(ck, false, where,
			       "service %s: -o %s: unknown parameter (Postfix's: %s)", def->name,
			       name, postfix_hint(name));
		else if (p == NULL)
			report(ck, false, where, "service %s: -o %s: unknown parameter", def->name,
			       name);
		else if (param_validate(p->type, value, &error) != 0)
			report(ck, true, where, "service %s: -o %s: %s", def->name, setting, error);
		free(value);
		free(name);
	}
	check_service_policy(ck, def, where);
	check_pipe_service(ck, def, where);
	free(where);
}

/* A pipe service's own arguments (after the skeleton's -o, -v): what
 * pipe reads at start (lib/mail/pipe_args.h), and the user it runs the
 * command as, which must exist and be neither root nor mail_owner. */
static void check_pipe_service(struct checker *ck, const struct service_def *def, const char *where)
{
	const char *slash = strrchr(def->argv[0], '/');
	if (strcmp(slash ? slash + 1 : def->argv[0], "pipe") != 0)
		return;
	int i = 1;
	while (i < def->argc && (strcmp(def->argv[i], "-v") == 0 ||
	                         (strcmp(def->argv[i], "-o") == 0 && i + 1 < def->argc)))
		i += strcmp(def->argv[i], "-v") == 0 ? 1 : 2;
	struct pipe_args pa;
	struct str error = STR_INIT;
	if (pipe_args_parse(def->argv + i, (size_t)(def->argc - i), &pa, &error) != 0) {
		report(ck, true, where, "service %s: pipe: %s (its mail is deferred)", def->name,
		       str_cstr(&error));
		str_free(&error);
		return;
	}
	uid_t uid, owner_uid;
	gid_t gid, owner_gid;
	const char *why;
	if (privs_lookup(pa.user, &uid, &gid, &why) != 0)
		report(ck, privs_are_root(), where, "service %s: pipe: user=%s: %s", def->name,
		       pa.user, why);
	else if (uid == 0)
		report(ck, true, where, "service %s: pipe: user=%s is root: refused", def->name,
		       pa.user);
	else if (privs_lookup(conf_get(ck->conf, "mail_owner"), &owner_uid, &owner_gid, &why) ==
	             0 &&
	         owner_uid == uid)
		report(ck, true, where, "service %s: pipe: user=%s is the mail_owner: refused",
		       def->name, pa.user);
	if (pa.argv[0][0] == '/' && access(pa.argv[0], X_OK) != 0)
		report(ck, false, where, "service %s: pipe: argv=%s: %s", def->name, pa.argv[0],
		       strerror(errno));
	pipe_args_free(&pa);
	str_free(&error);
}

/* Per-transport parameters (TRANSPORT_destination_concurrency_limit...)
 * set for a transport that master.conf lacks: qmgr has no use for them. */
void check_transport_params(struct checker *ck, const struct service_list *services)
{
	for (const char *const *n = conf_set_names(ck->conf); *n; n++) {
		const struct param_pattern *pattern = param_find_pattern(*n);
		if (pattern == NULL || param_find(*n) != &pattern->def)
			continue;
		size_t len = strlen(*n) - strlen(pattern->suffix);
		const struct service_def *def = NULL;
		for (size_t i = 0; def == NULL && i < services->count; i++)
			if (services->items[i].type == SERVICE_UNIX &&
			    strncmp(services->items[i].name, *n, len) == 0 &&
			    services->items[i].name[len] == '\0')
				def = &services->items[i];
		if (def != NULL)
			continue;
		char *where = param_where(ck, *n);
		report(ck, false, where, "%s: no unix service %.*s in master.conf to apply it to",
		       *n, (int)len, *n);
		free(where);
	}
}

/* local_transport, virtual_transport, relay_transport and
 * default_transport name a transport qmgr has (smtp, local, error, or a
 * unix service in master.conf running one of them, lmtp or pipe), as qmgr defers the
 * mail of that class otherwise. */
void check_class_transports(struct checker *ck, const struct service_list *services)
{
	static const char *const params[] = {"local_transport", "virtual_transport",
	                                     "relay_transport", "default_transport",
	                                     "content_filter"};
	/* qmgr's built-in transports, and the programs it delivers through
	 * (lmtp only with a service of its own). */
	static const char *const built_ins[] = {"smtp", "local", "error", "discard"};
	static const char *const programs[] = {"smtp", "lmtp", "pipe", "local", "error"};
	struct str name = STR_INIT, nexthop = STR_INIT;
	for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
		const char *value = conf_get(ck->conf, params[i]);
		if (*value == '\0' && strcmp(params[i], "content_filter") == 0)
			continue;
		mail_route_split(value, &name, &nexthop);
		bool built_in = false;
		for (size_t k = 0; k < sizeof(built_ins) / sizeof(built_ins[0]); k++)
			built_in |= strcmp(str_cstr(&name), built_ins[k]) == 0;
		const struct service_def *def = NULL;
		for (size_t k = 0; !built_in && def == NULL && k < services->count; k++)
			if (services->items[k].type == SERVICE_UNIX &&
			    strcmp(services->items[k].name, str_cstr(&name)) == 0)
				def = &services->items[k];
		const char *program = NULL;
		if (def != NULL) {
			const char *slash = strrchr(def->argv[0], '/');
			program = slash ? slash + 1 : def->argv[0];
			for (size_t k = 0; program && k < sizeof(programs) / sizeof(programs[0]);
			     k++)
				if (strcmp(program, programs[k]) == 0)
					program = NULL;
		}
		char *where = param_where(ck, params[i]);
		if (name.len == 0)
			report(ck, true, where, "%s = %s: no transport named", params[i], value);
		else if (!built_in && def == NULL)
			report(ck, false, where,
			       "%s = %s: no unix service %s in master.conf: qmgr defers the mail "
			       "routed through it",
			       params[i], value, str_cstr(&name));
		else if (program != NULL)
			report(ck, false, where,
			       "%s = %s: service %s runs %s, not smtp, lmtp, pipe, local, error or "
			       "discard: "
			       "qmgr "
			       "defers the mail routed through it",
			       params[i], value, str_cstr(&name), program);
		free(where);
	}
	str_free(&name);
	str_free(&nexthop);
}

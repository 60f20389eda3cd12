/*
 * mailctl check: validate main.conf and master.conf and the paths, users
 * and programs they name (and the services that per-transport parameters
 * and the transports of the address classes, local_transport and the
 * like, name), smtpd's DNS blocklist entries and policy servers, the
 * smtp client's TLS policy table source, the certificate files of
 * tls_server_sni_maps, and relaying by client certificate
 * (relay_clientcerts). Prints every problem as "file:line: error:
 * message" or "file:line: warning: message" ("main.conf (default NAME)"
 * in place of file:line for a parameter left at its default), then the
 * counts, and exits 1 if any is an error (2 on a usage error).
 *
 * This file loads the two files, runs the checks in a fixed order and
 * does the printing and counting; the checks themselves live in the
 * check_*.c files, grouped by concern (see check.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"
#include "conf/masterconf.h"
#include "mailctl/check.h"
#include "mailctl/mailctl.h"
#include "util/alloc.h"

void report(struct checker *ck, bool error, const char *where, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("%s: %s", where, error ? "error: " : "warning: ");
	vprintf(fmt, ap);
	putchar('\n');
	va_end(ap);
	if (error)
		ck->errors++;
	else
		ck->warnings++;
}

/* "main.conf:12" where the parameter was set, else "main.conf (default NAME)". */
char *param_where(struct checker *ck, const char *name)
{
	const char *file;
	int line;
	if (conf_origin(ck->conf, name, &file, &line) && line > 0)
		return xasprintf("%s:%d", file, line);
	return xasprintf("%s (default %s)", ck->main_path, name);
}

/* Diagnostics read "file:line: message"; print each with its severity
 * after the place, and count it. */
void print_diags(struct checker *ck, const struct diag_list *diags)
{
	for (size_t i = 0; i < diags->count; i++) {
		bool error = diags->items[i].severity == DIAG_ERROR;
		const char *text = diags->items[i].text;
		const char *colon = strstr(text, ": ");
		if (colon)
			printf("%.*s: %s%s\n", (int)(colon - text), text,
			       error ? "error: " : "warning: ", colon + 2);
		else
			printf("%s%s\n", error ? "error: " : "warning: ", text);
		if (error)
			ck->errors++;
		else
			ck->warnings++;
	}
}

int cmd_check(struct mailctl *m, int argc, char **argv)
{
	(void)argv;
	if (argc != 1) {
		mailctl_error("usage: mailctl check");
		return 2;
	}
	struct checker ck = {0};
	struct diag_list diags;
	diag_list_init(&diags);
	ck.main_path = xasprintf("%s/main.conf", m->config_dir);
	ck.conf = conf_new(m->config_dir);
	conf_load_file(ck.conf, ck.main_path, &diags);
	char *master_path = xasprintf("%s/master.conf", m->config_dir);
	struct service_list services;
	service_list_init(&services);
	masterconf_load_file(master_path, &services, &diags);
	ck.services = &services;
	print_diags(&ck, &diags);
	diag_list_free(&diags);
	check_dir_param(&ck, "queue_directory", true);
	check_dir_param(&ck, "data_directory", true);
	check_dir_param(&ck, "daemon_directory", false);
	if (*conf_get(ck.conf, "smtp_tls_CApath") != '\0')
		check_dir_param(&ck, "smtp_tls_CApath", false);
	if (*conf_get(ck.conf, "smtpd_tls_CApath") != '\0')
		check_dir_param(&ck, "smtpd_tls_CApath", false);
	check_user_param(&ck, "mail_owner");
	check_milter_params(&ck);
	check_dnsbl(&ck);
	check_policy_settings(&ck, ck.conf, NULL, "", NULL);
	const char *logfile = conf_get(ck.conf, "maillog_file");
	if (*logfile) {
		char *dir = xstrdup(logfile);
		char *slash = strrchr(dir, '/');
		if (slash)
			*slash = '\0';
		if (slash && *dir && access(dir, W_OK) != 0) {
			char *where = param_where(&ck, "maillog_file");
			report(&ck, true, where, "maillog_file = %s: directory %s: %s", logfile,
			       dir, strerror(errno));
			free(where);
		}
		free(dir);
	}
	check_local_delivery(&ck);
	check_virtual_alias(&ck);
	check_canonical(&ck);
	check_access(&ck);
	check_notify_classes(&ck);
	check_sasl_security(&ck);
	check_bounce_templates(&ck);
	/* The routing tables qmgr reads (a table it cannot read defers mail). */
	check_table_param(&ck, "transport_maps");
	check_table_param(&ck, "sender_dependent_relayhost_maps");
	check_table_param(&ck, "sender_dependent_default_transport_maps");
	check_table_param(&ck, "smtpd_milter_maps");
	check_networks(&ck);
	check_tls_policy(&ck);
	check_tls_session_cache(&ck);
	check_tls_sni(&ck);
	check_clientcerts(&ck, &services);
	for (size_t i = 0; i < services.count; i++)
		check_service(&ck, &services.items[i]);
	check_transport_params(&ck, &services);
	check_class_transports(&ck, &services);
	if (services.count == 0 && ck.errors == 0)
		report(&ck, false, master_path, "no services defined");
	printf("%s: %d error%s, %d warning%s\n", m->config_dir, ck.errors,
	       ck.errors == 1 ? "" : "s", ck.warnings, ck.warnings == 1 ? "" : "s");
	service_list_free(&services);
	free(master_path);
	free(ck.main_path);
	conf_free(ck.conf);
	return ck.errors ? 1 : 0;
}

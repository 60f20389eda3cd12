/*
 * mailctl check, inside: the checker state and its report functions
 * (check.c), and the checks cmd_check runs, one group per file:
 * check_params.c (single main.conf parameters), check_policy.c (smtpd's
 * policy settings, also per service), check_services.c (master.conf),
 * check_tables.c (lookup tables and the parameters around them) and
 * check_tls.c (TLS settings and material, relaying by certificate).
 * Each check prints what it finds through report and counts it in the
 * checker; none stops the others.
 */
#ifndef POSTERN_MAILCTL_CHECK_H
#define POSTERN_MAILCTL_CHECK_H

#include <stdbool.h>

struct conf;
struct diag_list;
struct service_def;
struct service_list;

struct checker {
	struct conf *conf;
	char *main_path;
	const struct service_list *services; /* master.conf's */
	int errors;
	int warnings;
};

/* check.c: print "where: error: message" (or warning:) and count it. */
void report(struct checker *ck, bool error, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* "main.conf:12" where the parameter was set, else "main.conf (default
 * NAME)"; malloc'd. */
char *param_where(struct checker *ck, const char *name);
/* Print and count diagnostics that read "file:line: message". */
void print_diags(struct checker *ck, const struct diag_list *diags);

/* check_params.c */
void check_dir_param(struct checker *ck, const char *name, bool may_be_created);
void check_user_param(struct checker *ck, const char *name);
void check_milter_params(struct checker *ck);
void check_networks(struct checker *ck);
void check_dnsbl(struct checker *ck);
void check_notify_classes(struct checker *ck);
void check_sasl_security(struct checker *ck);
void check_bounce_templates(struct checker *ck);

/* check_policy.c: conf's policy settings, reported at where (NULL: where
 * main.conf sets each) after prefix; only those marked in only (NULL:
 * all). check_service_policy: those a service sets with -o. */
void check_policy_settings(struct checker *ck, const struct conf *conf, const char *where,
                           const char *prefix, const bool *only);
void check_service_policy(struct checker *ck, const struct service_def *def, const char *where);

/* check_services.c */
void check_service(struct checker *ck, const struct service_def *def);
void check_transport_params(struct checker *ck, const struct service_list *services);
void check_class_transports(struct checker *ck, const struct service_list *services);

/* check_tables.c: check_table_param checks every table a list parameter
 * names. */
void check_table_param(struct checker *ck, const char *name);
void check_local_delivery(struct checker *ck);
void check_virtual_alias(struct checker *ck);
void check_canonical(struct checker *ck);
void check_access(struct checker *ck);

/* check_tls.c */
void check_tls_policy(struct checker *ck);
void check_tls_session_cache(struct checker *ck);
void check_tls_sni(struct checker *ck);
void check_clientcerts(struct checker *ck, const struct service_list *services);

#endif

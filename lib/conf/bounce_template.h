/*
 * bounce_template_file (Postfix's bounce(5) format): the texts of the
 * delivery status notifications qmgr sends, in place of the built-in ones.
 *
 *   # comment
 *   failure_template = <<EOF
 *   Charset: us-ascii
 *   From: MAILER-DAEMON (Mail Delivery System)
 *   Subject: Undelivered Mail Returned to Sender
 *   Postmaster-Subject: Postmaster Copy: Undelivered Mail
 *
 *   This is the mail system at host $myhostname.
 *   ...
 *   EOF
 *
 * Four templates, each optional: failure_template, delay_template,
 * success_template and verify_template (sendmail -bv). A template is a
 * header (Charset, From, Subject, Postmaster-Subject, each at most once,
 * no other), an empty line, and the text, up to a line that is the word
 * after "<<" alone. Outside templates only comments and empty lines. The
 * text is 7-bit unless Charset names another character set, and at most
 * BOUNCE_TEMPLATE_MAX bytes.
 *
 * $name and ${name} in the header values and the text are main.conf
 * parameters, expanded as main.conf expands them ($$ is a $); a time
 * parameter with a suffix _seconds, _minutes, _hours, _days or _weeks is
 * its value in that unit, rounded down, as in Postfix
 * ($delay_warning_time_hours, $maximal_queue_lifetime_days).
 */
#ifndef POSTERN_CONF_BOUNCE_TEMPLATE_H
#define POSTERN_CONF_BOUNCE_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

#include "conf/conf.h"
#include "conf/diag.h"

#define BOUNCE_TEMPLATE_MAX (64 * 1024)

enum bounce_template_kind {
	BOUNCE_TEMPLATE_FAILURE,
	BOUNCE_TEMPLATE_DELAY,
	BOUNCE_TEMPLATE_SUCCESS,
	BOUNCE_TEMPLATE_VERIFY,
	BOUNCE_TEMPLATE_COUNT,
};

struct bounce_template {
	bool set;
	char *charset;            /* NULL: us-ascii */
	char *from;               /* NULL: the built-in one */
	char *subject;            /* NULL: the built-in one */
	char *postmaster_subject; /* NULL: subject */
	char *text;               /* LF line ends, ending in one */
};

struct bounce_templates {
	struct bounce_template t[BOUNCE_TEMPLATE_COUNT];
};

/* "failure_template" ... */
const char *bounce_template_name(enum bounce_template_kind kind);

/* Parse a template file's text; errors (file:line) go to diags. 0, or -1
 * with out left empty. */
int bounce_templates_parse(const char *file, const char *text, size_t len,
                           struct bounce_templates *out, struct diag_list *diags);
/* Read and parse path. */
int bounce_templates_load(const char *path, struct bounce_templates *out, struct diag_list *diags);
/* Expand every $name of out's templates against conf, in place. */
void bounce_templates_expand(struct bounce_templates *out, const struct conf *conf);
void bounce_templates_free(struct bounce_templates *t);

/* $name expansion of text as described above (malloc'd). */
char *bounce_template_expand(const char *text, const struct conf *conf);

#endif

/*
 * mailctl config: print main.conf parameters, like postconf.
 *   mailctl config            every parameter, as set or defaulted (and
 *                             the per-transport ones main.conf sets)
 *   mailctl config -n         only those set in main.conf
 *   mailctl config -d         the built-in defaults
 *   mailctl config -x         values with $name expanded
 *   mailctl config -l         the table: name, type, default, description
 *   mailctl config NAME...    only these (an unknown name is an error)
 *   mailctl config -b [FILE]  the notification templates of FILE (default:
 *                             bounce_template_file) with $name expanded,
 *                             as postconf -b
 * With --json, one object per parameter. -e and -X edit main.conf instead
 * (config_edit.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/bounce_template.h"
#include "conf/conf.h"
#include "conf/params.h"
#include "mailctl/mailctl.h"
#include "util/alloc.h"
#include "util/json.h"
#include "util/str.h"

struct config_opts {
	bool only_set;
	bool defaults;
	bool expand;
	bool doc;
};

static void print_one(struct mailctl *m, const struct conf *conf, const struct config_opts *o,
                      const char *name, struct str *json, int *count)
{
	const struct param_def *p = param_find(name);
	const char *value;
	char *expanded = NULL;
	if (o->defaults)
		value = p ? p->default_value : "";
	else if (o->expand)
		value = expanded = conf_expand(conf, conf_get_raw(conf, name));
	else
		value = conf_get_raw(conf, name);
	if (m->json) {
		str_append_cstr(json, *count ? ",\n  {\"name\":" : "\n  {\"name\":");
		json_append_cstr(json, name);
		str_append_cstr(json, ",\"value\":");
		json_append_cstr(json, value);
		if (p) {
			str_append_cstr(json, ",\"type\":");
			json_append_cstr(json, param_type_name(p->type));
			str_append_cstr(json, ",\"default\":");
			json_append_cstr(json, p->default_value);
			str_append_cstr(json, ",\"doc\":");
			json_append_cstr(json, p->doc);
		}
		str_printf(json, ",\"set\":%s,\"known\":%s}",
		           conf_is_set(conf, name) ? "true" : "false", p ? "true" : "false");
	} else if (o->doc && p) {
		printf("%s (%s, default \"%s\")\n    %s\n", name, param_type_name(p->type),
		       p->default_value, p->doc);
	} else {
		printf("%s = %s\n", name, value);
	}
	(*count)++;
	free(expanded);
}

/* mailctl config -b [FILE]: each template, expanded, in the file's own
 * form. */
static int print_templates(struct mailctl *m, int argc, char **argv)
{
	if (argc > 3) {
		mailctl_error("usage: mailctl config -b [FILE]");
		return 2;
	}
	struct diag_list diags;
	diag_list_init(&diags);
	char *main_path = xasprintf("%s/main.conf", m->config_dir);
	struct conf *conf = conf_new(m->config_dir);
	int rc = conf_load_file(conf, main_path, &diags) == 0 ? 0 : 1;
	const char *path = argc == 3 ? argv[2] : conf_get(conf, "bounce_template_file");
	struct bounce_templates t = {0};
	if (rc == 0 && *path == '\0') {
		mailctl_error("bounce_template_file is not set: notifications use the built-in "
		              "texts (see bounce(5))");
		rc = 1;
	} else if (rc == 0 && bounce_templates_load(path, &t, &diags) != 0) {
		rc = 1;
	}
	for (size_t k = 0; k < diags.count; k++)
		fprintf(stderr, "mailctl: %s\n", diags.items[k].text);
	if (rc == 0) {
		bounce_templates_expand(&t, conf);
		for (int k = 0; k < BOUNCE_TEMPLATE_COUNT; k++) {
			const struct bounce_template *b = &t.t[k];
			if (!b->set)
				continue;
			printf("%s = <<EOF\n", bounce_template_name((enum bounce_template_kind)k));
			if (b->charset)
				printf("Charset: %s\n", b->charset);
			if (b->from)
				printf("From: %s\n", b->from);
			if (b->subject)
				printf("Subject: %s\n", b->subject);
			if (b->postmaster_subject)
				printf("Postmaster-Subject: %s\n", b->postmaster_subject);
			printf("\n%sEOF\n\n", b->text);
		}
	}
	bounce_templates_free(&t);
	diag_list_free(&diags);
	conf_free(conf);
	free(main_path);
	return rc;
}

int cmd_config(struct mailctl *m, int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "-e") == 0 || strcmp(argv[1], "-X") == 0))
		return config_edit(m, argv[1][1] == 'X', argv + 2, argc - 2);
	if (argc >= 2 && strcmp(argv[1], "-b") == 0)
		return print_templates(m, argc, argv);
	struct config_opts o = {0};
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		for (const char *f = argv[i] + 1; *f; f++) {
			switch (*f) {
			case 'n':
				o.only_set = true;
				break;
			case 'd':
				o.defaults = true;
				break;
			case 'x':
				o.expand = true;
				break;
			case 'l':
				o.doc = true;
				break;
			default:
				mailctl_error("usage: mailctl config [-n] [-d] [-x] [-l] [NAME...] "
				              "| -e NAME=VALUE... "
				              "| -X NAME... | -b [FILE]");
				return 2;
			}
		}
	}
	struct diag_list diags;
	diag_list_init(&diags);
	struct conf *conf = conf_new(m->config_dir);
	char *path = xasprintf("%s/main.conf", m->config_dir);
	if (!o.defaults && conf_load_file(conf, path, &diags) != 0) {
		for (size_t k = 0; k < diags.count; k++)
			fprintf(stderr, "mailctl: %s\n", diags.items[k].text);
		mailctl_error("fix the errors above (mailctl check lists them all)");
		free(path);
		diag_list_free(&diags);
		conf_free(conf);
		return 1;
	}
	free(path);
	diag_list_free(&diags);
	struct str json = STR_INIT;
	str_append_cstr(&json, "{\"parameters\":[");
	int count = 0, rc = 0;
	if (i < argc) {
		for (; i < argc; i++) {
			if (param_find(argv[i]) == NULL && !conf_is_set(conf, argv[i])) {
				mailctl_error("%s: unknown parameter", argv[i]);
				rc = 1;
				continue;
			}
			print_one(m, conf, &o, argv[i], &json, &count);
		}
	} else if (o.only_set) {
		for (const char *const *n = conf_set_names(conf); *n; n++)
			print_one(m, conf, &o, *n, &json, &count);
	} else {
		for (size_t k = 0; k < param_table_count; k++)
			print_one(m, conf, &o, param_table[k].name, &json, &count);
		/* and the per-transport ones (params.h patterns) main.conf sets */
		for (const char *const *n = conf_set_names(conf); *n; n++) {
			const struct param_pattern *pattern = param_find_pattern(*n);
			if (pattern != NULL && param_find(*n) == &pattern->def)
				print_one(m, conf, &o, *n, &json, &count);
		}
	}
	str_append_cstr(&json, "\n]}\n");
	if (m->json)
		fputs(str_cstr(&json), stdout);
	str_free(&json);
	conf_free(conf);
	return rc;
}

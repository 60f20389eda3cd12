/*
 * mailctl map and mailctl alias, the postmap and postalias of Postern.
 *   mailctl map build FILE...      compile each "key value" source FILE
 *                                  into FILE.lmdb (table_source.h); FILE
 *                                  may be written hash:FILE, btree:FILE
 *                                  or lmdb:FILE, as postmap takes it
 *   mailctl map query FILE KEY...  print the value of each KEY in
 *                                  FILE.lmdb (FILE may name the .lmdb,
 *                                  or be TYPE:NAME such as regexp:/x or
 *                                  cidr:/x); exit 1 if a key is not found
 *   mailctl alias rebuild          compile every alias_database source
 *                                  into SOURCE.lmdb (what newaliases runs)
 *   mailctl alias query NAME...    expand NAME one level in alias_maps
 * A source with errors is not compiled: its errors are listed (file:line)
 * and the table built before stays in place and in use.
 */
#include "mailctl/map.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conf/conf.h"
#include "mail/aliases_db.h"
#include "server/program.h"
#include "table/table.h"
#include "table/table_source.h"
#include "util/alloc.h"
#include "util/json.h"
#include "util/str.h"

#define MAP_MODE 0644

static int map_usage(void)
{
	fprintf(stderr, "usage: mailctl map build FILE...\n"
	                "       mailctl map query FILE KEY...\n");
	return 2;
}

static int alias_usage(void)
{
	fprintf(stderr, "usage: mailctl alias rebuild\n"
	                "       mailctl alias query NAME...\n");
	return 2;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t len = strlen(s), n = strlen(suffix);
	return len >= n && strcmp(s + len - n, suffix) == 0;
}

/* Print diagnostics; returns the number of errors. */
static size_t print_diags(struct diag_list *diags)
{
	for (size_t i = 0; i < diags->count; i++)
		mailctl_error("%s%s", diags->items[i].severity == DIAG_WARNING ? "warning: " : "",
		              diags->items[i].text);
	return diag_count(diags, DIAG_ERROR);
}

static int map_build(int argc, char **argv)
{
	int status = 0;
	for (int i = 0; i < argc; i++) {
		argv[i] = (char *)table_source_of(argv[i]);
		if (ends_with(argv[i], ".lmdb")) {
			mailctl_error("%s: name the source file, not the compiled table", argv[i]);
			status = 1;
			continue;
		}
		/* A source others may not read (credentials) makes a table they
		 * cannot read either: 0640 with the source's group. */
		struct stat st;
		mode_t mode = stat(argv[i], &st) == 0 && !(st.st_mode & S_IROTH) ? 0640 : MAP_MODE;
		char *dest = xasprintf("%s.lmdb", argv[i]);
		struct diag_list diags;
		diag_list_init(&diags);
		if (table_source_compile(argv[i], dest, mode, (gid_t)-1, &diags) != 0) {
			print_diags(&diags);
			mailctl_error("%s not rebuilt; the previous table stays in use", dest);
			status = 1;
		} else {
			print_diags(&diags);
			printf("%s rebuilt\n", dest);
		}
		diag_list_free(&diags);
		free(dest);
	}
	return status;
}

static void print_value(const struct mailctl *m, const char *key, const struct str *value,
                        bool *first)
{
	if (!m->json) {
		fwrite(str_cstr(value), 1, value->len, stdout);
		fputc('\n', stdout);
		return;
	}
	struct str out = STR_INIT;
	str_append_cstr(&out, *first ? "\n  {\"key\":" : ",\n  {\"key\":");
	json_append_cstr(&out, key);
	str_append_cstr(&out, ",\"value\":");
	json_append_cstr(&out, str_cstr(value));
	str_append_cstr(&out, "}");
	fwrite(str_cstr(&out), 1, out.len, stdout);
	str_free(&out);
	*first = false;
}

static int map_query(const struct mailctl *m, const char *file, int argc, char **argv)
{
	/* TYPE:NAME (lmdb:, hash:, regexp:, pcre:, cidr:, texthash:, inline:,
	 * static: ...) is a table as main.conf names it. */
	bool typed = file[0] != '/' && strchr(file, ':') != NULL;
	char *path = typed || ends_with(file, ".lmdb") ? xstrdup(file) : xasprintf("%s.lmdb", file);
	char *spec = typed ? xstrdup(file) : xasprintf("lmdb:%s", path);
	const char *error;
	struct table *t = table_open(spec, &error);
	free(spec);
	if (t == NULL) {
		if (typed)
			mailctl_error("%s", error);
		else
			mailctl_error("%s (build it with `mailctl map build %s`)", error, file);
		free(path);
		return 1;
	}
	int status = 0;
	bool first = true;
	struct str value = STR_INIT;
	if (m->json)
		fputs("{\"results\":[", stdout);
	for (int i = 0; i < argc && status != 2; i++) {
		int rc = table_lookup(t, argv[i], &value, &error);
		if (rc < 0) {
			mailctl_error("%s", error);
			status = 2;
		} else if (rc == 0) {
			status = 1;
		} else {
			print_value(m, argv[i], &value, &first);
		}
	}
	if (m->json)
		fputs("\n]}\n", stdout);
	str_free(&value);
	table_close(t);
	free(path);
	return status;
}

int cmd_map(struct mailctl *m, int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "build") == 0)
		return map_build(argc - 2, argv + 2);
	if (argc >= 4 && strcmp(argv[1], "query") == 0)
		return map_query(m, argv[2], argc - 3, argv + 3);
	return map_usage();
}

static int alias_rebuild(const struct conf *conf)
{
	char *const *sources = conf_get_list(conf, "alias_database");
	int status = 0;
	if (sources == NULL || sources[0] == NULL) {
		mailctl_error("alias_database is empty: no aliases to build");
		return 1;
	}
	for (size_t i = 0; sources[i]; i++) {
		/* hash:/etc/aliases, as a Postfix main.cf has it, is the same. */
		const char *source = table_source_of(sources[i]);
		char *dest = aliases_db_path(source);
		struct diag_list diags;
		diag_list_init(&diags);
		size_t count = 0;
		if (aliases_db_compile(source, dest, &count, &diags) != 0) {
			print_diags(&diags);
			mailctl_error("%s not rebuilt; the previous table stays in use", dest);
			status = 1;
		} else {
			print_diags(&diags);
			printf("%s rebuilt: %zu aliases\n", dest, count);
		}
		diag_list_free(&diags);
		free(dest);
	}
	return status;
}

/* Print NAME's targets, one "type value" per line, from the first table of
 * alias_maps that has it. */
static int alias_query(const struct conf *conf, int argc, char **argv)
{
	char *const *maps = conf_get_list(conf, "alias_maps");
	int status = 0;
	for (int i = 0; i < argc; i++) {
		char *name = xstrdup(argv[i]);
		for (char *p = name; *p; p++)
			*p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
		int rc = 0;
		for (size_t k = 0; maps && maps[k] && rc == 0; k++) {
			const char *error;
			struct table *t = table_open(maps[k], &error);
			if (t == NULL) {
				mailctl_error("%s", error);
				status = 2;
				continue;
			}
			struct alias_target *targets = NULL;
			size_t count = 0;
			rc = aliases_db_lookup(t, name, &targets, &count, &error);
			if (rc < 0) {
				mailctl_error("%s: %s", maps[k], error);
				status = 2;
			}
			for (size_t j = 0; rc == 1 && j < count; j++)
				printf("%s: %s %s\n", name, alias_target_type_name(targets[j].type),
				       targets[j].value);
			if (rc == 1)
				alias_targets_free(targets, count);
			table_close(t);
		}
		if (rc == 0 && status == 0)
			status = 1;
		free(name);
	}
	return status;
}

int cmd_alias(struct mailctl *m, int argc, char **argv)
{
	bool rebuild = argc == 2 && strcmp(argv[1], "rebuild") == 0;
	bool query = argc >= 3 && strcmp(argv[1], "query") == 0;
	if (!rebuild && !query)
		return alias_usage();
	struct conf *conf = program_load_conf(m->config_dir);
	int status = rebuild ? alias_rebuild(conf) : alias_query(conf, argc - 2, argv + 2);
	conf_free(conf);
	return status;
}

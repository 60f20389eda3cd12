/*
 * mailctl config -e NAME=VALUE... and -X NAME...: edit main.conf in place,
 * like postconf -e and -X. A setting already in the file is replaced where
 * it stands (with its continuation lines; later repeats of it go), a new
 * one is appended; -X removes every setting of the names. Comments, blank
 * lines and all other settings stay as they were. Every value is checked
 * as master would check it (type, $name references) before anything is
 * written, and the file is replaced atomically (util/file_replace) with
 * its mode and group kept. Running services see the change at the next
 * mailctl reload.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conf/conf.h"
#include "conf/diag.h"
#include "conf/params.h"
#include "mailctl/mailctl.h"
#include "util/alloc.h"
#include "util/file_replace.h"
#include "util/logical_lines.h"
#include "util/str.h"

/* One setting in the file: physical lines first..last (0-based). */
struct setting {
	char *name;
	size_t first, last;
};

struct edit {
	char *name;
	char *value; /* NULL for -X */
};

/* The physical lines of text (without their newlines). */
static char **split_lines(const char *text, size_t len, size_t *count_r)
{
	char **lines = NULL;
	size_t count = 0;
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		lines = xreallocarray(lines, count + 1, sizeof(*lines));
		lines[count++] = xstrndup(p, n);
		p += n + (nl ? 1 : 0);
	}
	*count_r = count;
	return lines;
}

static bool blank_or_comment(const char *line)
{
	while (*line == ' ' || *line == '\t')
		line++;
	return *line == '\0' || *line == '#';
}

/* Every setting in the text, with the physical lines it spans: from its
 * first line to the line before the next setting, less trailing blank
 * and comment lines (those belong to no setting). */
static struct setting *find_settings(const char *text, size_t len, char **lines, size_t line_count,
                                     size_t *count_r)
{
	struct setting *settings = NULL;
	size_t count = 0;
	struct logical_lines r;
	logical_lines_init(&r, text, len);
	while (logical_lines_next(&r)) {
		const char *t = str_cstr(&r.text);
		settings = xreallocarray(settings, count + 1, sizeof(*settings));
		settings[count].name = xstrndup(t, strcspn(t, " \t="));
		settings[count].first = (size_t)(r.line - 1);
		count++;
	}
	logical_lines_free(&r);
	for (size_t i = 0; i < count; i++) {
		size_t last = i + 1 < count ? settings[i + 1].first - 1 : line_count - 1;
		while (last > settings[i].first && blank_or_comment(lines[last]))
			last--;
		settings[i].last = last;
	}
	*count_r = count;
	return settings;
}

/* Parse the arguments into edits, checking names and values against conf. */
static int parse_edits(struct conf *conf, bool remove, char **args, int count, struct edit *edits)
{
	int errors = 0;
	for (int i = 0; i < count; i++) {
		const char *arg = args[i];
		const char *eq = remove ? NULL : strchr(arg, '=');
		if (!remove && eq == NULL) {
			mailctl_error("%s: not NAME=VALUE", arg);
			errors++;
			continue;
		}
		size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
		while (name_len > 0 && isspace((unsigned char)arg[name_len - 1]))
			name_len--;
		edits[i].name = xstrndup(arg, name_len);
		if (param_find(edits[i].name) == NULL && !conf_is_set(conf, edits[i].name)) {
			mailctl_error("%s: unknown parameter (mailctl config -l lists them)",
			              edits[i].name);
			errors++;
			continue;
		}
		if (remove)
			continue;
		const char *value = eq + 1;
		while (isspace((unsigned char)*value))
			value++;
		edits[i].value = xstrdup(value);
		char *v = edits[i].value;
		for (size_t n = strlen(v); n > 0 && isspace((unsigned char)v[n - 1]); n--)
			v[n - 1] = '\0';
		const char *error;
		if (strchr(v, '\n') != NULL) {
			mailctl_error("%s: the value may not contain a newline", edits[i].name);
			errors++;
		} else if (conf_set(conf, edits[i].name, v, &error) != 0) {
			mailctl_error("%s = %s: %s", edits[i].name, v, error);
			errors++;
		}
	}
	return errors;
}

/* The new text: each edit applied to the settings of its name. */
static void apply_edits(char **lines, size_t line_count, const struct setting *settings,
                        size_t setting_count, const struct edit *edits, int edit_count, bool remove,
                        struct str *out)
{
	bool *drop = xcalloc(line_count + 1, sizeof(*drop));
	char **replace = xcalloc(line_count + 1, sizeof(*replace));
	struct str appended = STR_INIT;
	for (int e = 0; e < edit_count; e++) {
		bool found = false;
		for (size_t i = 0; i < setting_count; i++) {
			if (strcmp(settings[i].name, edits[e].name) != 0)
				continue;
			for (size_t l = settings[i].first; l <= settings[i].last; l++)
				drop[l] = true;
			if (!remove && !found) {
				free(replace[settings[i].first]);
				replace[settings[i].first] =
				    xasprintf("%s = %s", edits[e].name, edits[e].value);
			}
			found = true;
		}
		if (!found && !remove)
			str_printf(&appended, "%s = %s\n", edits[e].name, edits[e].value);
		else if (!found)
			fprintf(stderr, "mailctl: %s: not set in main.conf\n", edits[e].name);
	}
	for (size_t l = 0; l < line_count; l++) {
		if (replace[l])
			str_printf(out, "%s\n", replace[l]);
		else if (!drop[l])
			str_printf(out, "%s\n", lines[l]);
		free(replace[l]);
	}
	str_append(out, appended.data, appended.len);
	str_free(&appended);
	free(replace);
	free(drop);
}

int config_edit(struct mailctl *m, bool remove, char **args, int count)
{
	if (count == 0) {
		mailctl_error("usage: mailctl config -e NAME=VALUE... | -X NAME...");
		return 2;
	}
	char *path = xasprintf("%s/main.conf", m->config_dir);
	struct stat st;
	bool exists = stat(path, &st) == 0;
	int stat_errno = errno;
	struct str text = STR_INIT;
	struct diag_list diags;
	diag_list_init(&diags);
	int rc = 1;
	if (exists && diag_read_file(path, &text, &diags) != 0) {
		for (size_t k = 0; k < diags.count; k++)
			mailctl_error("%s", diags.items[k].text);
		goto out;
	}
	if (!exists && (stat_errno != ENOENT || remove)) {
		mailctl_error("%s: %s", path, strerror(stat_errno));
		goto out;
	}
	/* The values are checked in the context of the file as it is (its
	 * errors are mailctl check's business, not a reason to refuse). */
	struct conf *conf = conf_new(m->config_dir);
	conf_parse_text(conf, path, str_cstr(&text), text.len, &diags);
	struct edit *edits = xcalloc((size_t)count, sizeof(*edits));
	int errors = parse_edits(conf, remove, args, count, edits);
	conf_free(conf);
	if (errors == 0) {
		size_t line_count = 0, setting_count = 0;
		char **lines = split_lines(str_cstr(&text), text.len, &line_count);
		struct setting *settings =
		    find_settings(str_cstr(&text), text.len, lines, line_count, &setting_count);
		struct str out = STR_INIT;
		apply_edits(lines, line_count, settings, setting_count, edits, count, remove, &out);
		const char *error;
		if (file_replace(path, out.data, out.len, exists ? st.st_mode & 07777 : 0644,
		                 exists ? st.st_gid : (gid_t)-1, &error) != 0)
			mailctl_error("%s", error);
		else
			rc = 0;
		str_free(&out);
		for (size_t i = 0; i < setting_count; i++)
			free(settings[i].name);
		free(settings);
		for (size_t l = 0; l < line_count; l++)
			free(lines[l]);
		free(lines);
	}
	for (int i = 0; i < count; i++) {
		free(edits[i].name);
		free(edits[i].value);
	}
	free(edits);
out:
	diag_list_free(&diags);
	str_free(&text);
	free(path);
	return rc;
}

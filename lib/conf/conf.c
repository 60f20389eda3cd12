/*
 * main.conf: parsing into (name -> raw value, where set) entries, $name
 * expansion at look-up time with results cached in the conf, and the typed
 * getters. Every table parameter has an entry from conf_new() on, holding
 * its default; names the file sets that the table lacks get entries too,
 * and so do per-service names of a parameter pattern when first looked up.
 * Cached strings handed out by the getters stay valid until conf_free():
 * when a value changes, old cache entries are retired, not freed.
 */
#include "conf/conf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/params.h"
#include "conf/postfix_hints.h"
#include "util/alloc.h"
#include "util/logical_lines.h"
#include "util/str.h"
#include "util/var_expand.h"

/* How deep $name references may nest (the work of one expansion is
 * bounded by util/var_expand). */
#define EXPAND_MAX_DEPTH 20

#define WHITESPACE " \t\r\v\f"

struct conf_entry {
	char *name;
	const struct param_def *def; /* NULL if not in the table */
	char *value;                 /* raw value, as set or defaulted */
	bool set;                    /* by a file or conf_set() */
	char *file;                  /* where set; NULL for conf_set() */
	int line;                    /* 0 for conf_set() */
	unsigned generation;         /* the parse or conf_set() that last set it */
	char *expanded;              /* cached conf_get() result, or NULL */
	char **list;                 /* cached conf_get_list() result, or NULL */
};

struct conf {
	char *config_dir;
	/* The getters fill the caches in entries through a const conf: the
	 * pointer is const there, the entries are not. */
	struct conf_entry *entries;
	size_t count, cap;
	size_t *index; /* open addressing: entry number + 1, or 0 if free */
	size_t index_cap;
	const char **set_names; /* NULL-terminated, in the order first set */
	size_t set_count;
	unsigned generation;
	void **retired; /* old cache strings, freed by conf_free() */
	size_t retired_count, retired_cap;
};

static char conf_error[512];

static bool is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

static bool valid_name(const char *name, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_name_char(name[i]))
			return false;
	return true;
}

/* --- entries and the name index --- */

static size_t hash_name(const char *name, size_t len)
{
	size_t h = 2166136261u;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)name[i]) * 16777619u;
	return h;
}

static struct conf_entry *find_entry_n(const struct conf *conf, const char *name, size_t len)
{
	size_t mask = conf->index_cap - 1;
	for (size_t i = hash_name(name, len) & mask;; i = (i + 1) & mask) {
		size_t slot = conf->index[i];
		if (slot == 0)
			return NULL;
		struct conf_entry *e = &conf->entries[slot - 1];
		if (strncmp(e->name, name, len) == 0 && e->name[len] == '\0')
			return e;
	}
}

static struct conf_entry *find_entry(const struct conf *conf, const char *name)
{
	return find_entry_n(conf, name, strlen(name));
}

static void index_put(struct conf *conf, size_t n)
{
	const char *name = conf->entries[n].name;
	size_t mask = conf->index_cap - 1;
	size_t i = hash_name(name, strlen(name)) & mask;
	while (conf->index[i] != 0)
		i = (i + 1) & mask;
	conf->index[i] = n + 1;
}

static struct conf_entry *add_entry(struct conf *conf, const char *name,
                                    const struct param_def *def, char *value)
{
	if ((conf->count + 1) * 2 > conf->index_cap) {
		free(conf->index);
		conf->index_cap = conf->index_cap ? conf->index_cap * 2 : 128;
		conf->index = xcalloc(conf->index_cap, sizeof(*conf->index));
		for (size_t n = 0; n < conf->count; n++)
			index_put(conf, n);
	}
	if (conf->count == conf->cap) {
		conf->cap = conf->cap ? conf->cap * 2 : 64;
		conf->entries = xreallocarray(conf->entries, conf->cap, sizeof(*conf->entries));
	}
	struct conf_entry *e = &conf->entries[conf->count];
	memset(e, 0, sizeof(*e));
	e->name = xstrdup(name);
	e->def = def;
	e->value = value;
	index_put(conf, conf->count++);
	return e;
}

static void retire(struct conf *conf, void *p)
{
	if (p == NULL)
		return;
	if (conf->retired_count == conf->retired_cap) {
		conf->retired_cap = conf->retired_cap ? conf->retired_cap * 2 : 16;
		conf->retired = xreallocarray(conf->retired, conf->retired_cap, sizeof(void *));
	}
	conf->retired[conf->retired_count++] = p;
}

/* A value changed: every expansion may have changed with it. */
static void invalidate_caches(struct conf *conf)
{
	for (size_t n = 0; n < conf->count; n++) {
		retire(conf, conf->entries[n].expanded);
		retire(conf, conf->entries[n].list);
		conf->entries[n].expanded = NULL;
		conf->entries[n].list = NULL;
	}
}

static void set_value(struct conf *conf, const char *name, const char *value, const char *file,
                      int line)
{
	struct conf_entry *e = find_entry(conf, name);
	if (e == NULL)
		e = add_entry(conf, name, param_find(name), NULL);
	free(e->value);
	e->value = xstrdup(value);
	free(e->file);
	e->file = file ? xstrdup(file) : NULL;
	e->line = line;
	e->generation = conf->generation;
	if (!e->set) {
		e->set = true;
		conf->set_names =
		    xreallocarray(conf->set_names, conf->set_count + 2, sizeof(*conf->set_names));
		conf->set_names[conf->set_count++] = e->name;
		conf->set_names[conf->set_count] = NULL;
	}
}

/* A look-up of a name that is neither in the table nor set is a bug in the
 * caller, not a configuration problem. A service's name of a parameter
 * pattern (params.h) that was not set gets its entry, holding the
 * pattern's default, at its first look-up (the getters may add entries
 * through a const conf, as they fill caches). */
static struct conf_entry *must_find(const struct conf *conf, const char *name, const char *caller)
{
	struct conf_entry *e = find_entry(conf, name);
	const struct param_pattern *pattern;
	if (e == NULL && valid_name(name, strlen(name)) &&
	    (pattern = param_find_pattern(name)) != NULL)
		e = add_entry((struct conf *)conf, name, &pattern->def,
		              xstrdup(pattern->def.default_value));
	if (e == NULL) {
		fprintf(stderr, "postern: %s(\"%s\"): not a known parameter (programming error)\n",
		        caller, name);
		abort();
	}
	return e;
}

/* --- expansion --- */

/* A main.conf expansion: util/var_expand's, whose names are entries'
 * values, themselves expanded. */
struct expansion {
	struct var_expansion base; /* first: the lookup gets it */
	const struct conf *conf;
	/* Looked up instead of the entry of the same name (conf_set() checks
	 * a value before storing it). */
	const struct conf_entry *override;
	const struct conf_entry *stack[EXPAND_MAX_DEPTH];
	int depth;
};

static void expand_name(struct var_expansion *base, const char *name, size_t len, struct str *out);

static void expansion_init(struct expansion *x, const struct conf *conf)
{
	memset(x, 0, sizeof(*x));
	var_expansion_init(&x->base, expand_name, x);
	x->conf = conf;
}

static void expand_entry(struct expansion *x, const struct conf_entry *e, struct str *out)
{
	for (int i = 0; i < x->depth; i++) {
		if (x->stack[i] != e)
			continue;
		struct str chain = STR_INIT;
		for (int k = i; k < x->depth; k++)
			str_printf(&chain, "$%s -> ", x->stack[k]->name);
		var_expansion_fail(&x->base, "recursive reference: %s$%s", str_cstr(&chain),
		                   e->name);
		str_free(&chain);
		return;
	}
	if (x->depth == EXPAND_MAX_DEPTH) {
		var_expansion_fail(&x->base, "references nested more than %d deep (at $%s)",
		                   EXPAND_MAX_DEPTH, e->name);
		return;
	}
	x->stack[x->depth++] = e;
	var_expand(&x->base, e->value, strlen(e->value), out);
	x->depth--;
}

/* $name: an undefined name expands to nothing, one of a parameter
 * pattern to the pattern's default. */
static void expand_name(struct var_expansion *base, const char *name, size_t len, struct str *out)
{
	struct expansion *x = base->context;
	const struct conf_entry *e = x->override;
	if (e == NULL || strncmp(e->name, name, len) != 0 || e->name[len] != '\0')
		e = find_entry_n(x->conf, name, len);
	if (e != NULL) {
		expand_entry(x, e, out);
		return;
	}
	char *copy = xstrndup(name, len);
	const struct param_pattern *pattern = param_find_pattern(copy);
	free(copy);
	if (pattern != NULL)
		var_expand(base, pattern->def.default_value, strlen(pattern->def.default_value),
		           out);
}

/* Expand e and check the result against its type: 0, or -1 with the
 * problem in *error (a fresh string). */
static int check_entry(const struct conf *conf, const struct conf_entry *override,
                       const struct conf_entry *e, char **error)
{
	struct expansion x;
	expansion_init(&x, conf);
	x.override = override;
	struct str out = STR_INIT;
	expand_entry(&x, e, &out);
	int rc = 0;
	const char *type_error;
	if (x.base.failed) {
		*error = str_steal(&x.base.error);
		rc = -1;
	} else if (e->def != NULL &&
	           param_validate(e->def->type, str_cstr(&out), &type_error) != 0) {
		*error = xstrdup(type_error);
		rc = -1;
	}
	str_free(&out);
	var_expansion_free(&x.base);
	return rc;
}

static int entry_line_cmp(const void *a, const void *b)
{
	const struct conf_entry *ea = *(const struct conf_entry *const *)a;
	const struct conf_entry *eb = *(const struct conf_entry *const *)b;
	return (ea->line > eb->line) - (ea->line < eb->line);
}

/* Check every value that this parse set, in line order. */
static void validate_generation(struct conf *conf, unsigned generation, struct diag_list *diags)
{
	struct conf_entry **todo = xcalloc(conf->count + 1, sizeof(*todo));
	size_t n = 0;
	for (size_t i = 0; i < conf->count; i++)
		if (conf->entries[i].set && conf->entries[i].generation == generation)
			todo[n++] = &conf->entries[i];
	qsort(todo, n, sizeof(*todo), entry_line_cmp);
	for (size_t i = 0; i < n; i++) {
		char *error;
		if (check_entry(conf, NULL, todo[i], &error) != 0) {
			diag_add(diags, DIAG_ERROR, todo[i]->file, todo[i]->line, "%s: %s",
			         todo[i]->name, error);
			free(error);
		}
	}
	free(todo);
}

/* --- computed defaults --- */

static char *default_hostname(void)
{
	char name[256];
	if (gethostname(name, sizeof(name)) != 0 || name[0] == '\0')
		snprintf(name, sizeof(name), "localhost");
	name[sizeof(name) - 1] = '\0';
	if (strchr(name, '.') == NULL)
		return xasprintf("%s.localdomain", name);
	return xstrdup(name);
}

/* mydomain, unless set, follows myhostname: all but its first label. */
static void update_mydomain(struct conf *conf)
{
	struct conf_entry *e = find_entry(conf, "mydomain");
	if (e == NULL || e->set)
		return;
	struct expansion x;
	expansion_init(&x, conf);
	struct str host = STR_INIT;
	expand_entry(&x, find_entry(conf, "myhostname"), &host);
	const char *dot = strchr(str_cstr(&host), '.');
	free(e->value);
	e->value = xstrdup(dot && dot[1] ? dot + 1 : "localdomain");
	str_free(&host);
	var_expansion_free(&x.base);
}

/* --- parsing --- */

/* "name = value" */
static void parse_setting(struct conf *conf, const char *file, int line, const char *text,
                          struct diag_list *diags)
{
	const char *eq = strchr(text, '=');
	if (eq == NULL) {
		diag_add(diags, DIAG_ERROR, file, line,
		         "expected \"name = value\", not \"%.60s%s\"", text,
		         strlen(text) > 60 ? "..." : "");
		return;
	}
	size_t name_len = (size_t)(eq - text);
	while (name_len > 0 && strchr(WHITESPACE, text[name_len - 1]))
		name_len--;
	if (!valid_name(text, name_len)) {
		diag_add(diags, DIAG_ERROR, file, line,
		         "bad parameter name \"%.*s\" (letters, digits and '_' only)",
		         (int)(name_len > 60 ? 60 : name_len), text);
		return;
	}
	const char *value = eq + 1;
	value += strspn(value, WHITESPACE);
	char *name = xstrndup(text, name_len);
	const char *hint = NULL;
	if (param_find(name) == NULL && (hint = postfix_hint(name)) != NULL)
		diag_add(diags, DIAG_WARNING, file, line, "unknown parameter %s (Postfix's: %s)",
		         name, hint);
	else if (param_find(name) == NULL)
		diag_add(diags, DIAG_WARNING, file, line, "unknown parameter %s", name);
	set_value(conf, name, value, file, line);
	free(name);
}

int conf_parse_text(struct conf *conf, const char *filename, const char *text, size_t len,
                    struct diag_list *diags)
{
	size_t errors_before = diag_count(diags, DIAG_ERROR);
	unsigned generation = ++conf->generation;
	struct logical_lines r;
	logical_lines_init(&r, text, len);
	while (logical_lines_next(&r)) {
		if (diag_logical_line_ok(diags, filename, &r))
			parse_setting(conf, filename, r.line, str_cstr(&r.text), diags);
	}
	logical_lines_free(&r);
	update_mydomain(conf);
	invalidate_caches(conf);
	validate_generation(conf, generation, diags);
	return diag_count(diags, DIAG_ERROR) > errors_before ? -1 : 0;
}

int conf_load_file(struct conf *conf, const char *path, struct diag_list *diags)
{
	struct str text = STR_INIT;
	int rc = diag_read_file(path, &text, diags) != 0
	             ? -1
	             : conf_parse_text(conf, path, str_cstr(&text), text.len, diags);
	str_free(&text);
	return rc;
}

struct conf *conf_load(const char *config_dir, struct diag_list *diags)
{
	struct conf *conf = conf_new(config_dir);
	char *path = xasprintf("%s/main.conf", config_dir);
	int rc = conf_load_file(conf, path, diags);
	free(path);
	if (rc != 0) {
		conf_free(conf);
		return NULL;
	}
	return conf;
}

/* --- life cycle --- */

struct conf *conf_new(const char *config_dir)
{
	struct conf *conf = xcalloc(1, sizeof(*conf));
	conf->config_dir = xstrdup(config_dir);
	for (size_t i = 0; i < param_table_count; i++) {
		const struct param_def *def = &param_table[i];
		char *value;
		if (strcmp(def->name, "config_directory") == 0)
			value = xstrdup(config_dir);
		else if (strcmp(def->name, "myhostname") == 0)
			value = default_hostname();
		else
			value = xstrdup(def->default_value);
		add_entry(conf, def->name, def, value);
	}
	update_mydomain(conf);
	return conf;
}

void conf_free(struct conf *conf)
{
	if (conf == NULL)
		return;
	for (size_t n = 0; n < conf->count; n++) {
		struct conf_entry *e = &conf->entries[n];
		free(e->name);
		free(e->value);
		free(e->file);
		free(e->expanded);
		free(e->list);
	}
	for (size_t n = 0; n < conf->retired_count; n++)
		free(conf->retired[n]);
	free(conf->retired);
	free(conf->entries);
	free(conf->index);
	free(conf->set_names);
	free(conf->config_dir);
	free(conf);
}

int conf_set(struct conf *conf, const char *name, const char *value, const char **error_r)
{
	if (!valid_name(name, strlen(name))) {
		snprintf(conf_error, sizeof(conf_error),
		         "bad parameter name \"%.60s\" (letters, digits and '_' only)", name);
		*error_r = conf_error;
		return -1;
	}
	/* Check the value as if it were stored, without storing it yet. */
	struct conf_entry candidate = {
	    .name = (char *)name, .def = param_find(name), .value = (char *)value};
	char *error;
	if (check_entry(conf, &candidate, &candidate, &error) != 0) {
		snprintf(conf_error, sizeof(conf_error), "%s", error);
		free(error);
		*error_r = conf_error;
		return -1;
	}
	conf->generation++;
	set_value(conf, name, value, NULL, 0);
	update_mydomain(conf);
	invalidate_caches(conf);
	return 0;
}

/* --- look-ups --- */

const char *conf_directory(const struct conf *conf)
{
	return conf->config_dir;
}

bool conf_is_set(const struct conf *conf, const char *name)
{
	const struct conf_entry *e = find_entry(conf, name);
	return e != NULL && e->set;
}

bool conf_origin(const struct conf *conf, const char *name, const char **file_r, int *line_r)
{
	const struct conf_entry *e = find_entry(conf, name);
	if (e == NULL || !e->set)
		return false;
	*file_r = e->file ? e->file : "";
	*line_r = e->line;
	return true;
}

const char *conf_get_raw(const struct conf *conf, const char *name)
{
	return must_find(conf, name, "conf_get_raw")->value;
}

static const char *entry_expanded(const struct conf *conf, struct conf_entry *e)
{
	if (e->expanded == NULL) {
		struct expansion x;
		expansion_init(&x, conf);
		struct str out = STR_INIT;
		expand_entry(&x, e, &out);
		var_expansion_free(&x.base);
		e->expanded = str_steal(&out);
	}
	return e->expanded;
}

const char *conf_get(const struct conf *conf, const char *name)
{
	return entry_expanded(conf, must_find(conf, name, "conf_get"));
}

/* The value of a numeric parameter: as set if valid, else the table's
 * default, else 0. Asking for a different type than the table's is a bug. */
static long long get_number(const struct conf *conf, const char *name, enum param_type type,
                            const char *caller)
{
	struct conf_entry *e = must_find(conf, name, caller);
	if (e->def != NULL && e->def->type != type) {
		fprintf(stderr,
		        "postern: %s(\"%s\"): the parameter is of type %s (programming error)\n",
		        caller, name, param_type_name(e->def->type));
		abort();
	}
	int (*parse)(const char *, long long *, const char **) = type == PARAM_INT ? param_parse_int
	                                                         : type == PARAM_TIME
	                                                             ? param_parse_time
	                                                             : param_parse_size;
	long long n;
	const char *error;
	if (parse(entry_expanded(conf, e), &n, &error) == 0)
		return n;
	if (e->def != NULL && parse(e->def->default_value, &n, &error) == 0)
		return n;
	return 0;
}

long long conf_get_int(const struct conf *conf, const char *name)
{
	return get_number(conf, name, PARAM_INT, "conf_get_int");
}

long long conf_get_time(const struct conf *conf, const char *name)
{
	return get_number(conf, name, PARAM_TIME, "conf_get_time");
}

long long conf_get_size(const struct conf *conf, const char *name)
{
	return get_number(conf, name, PARAM_SIZE, "conf_get_size");
}

bool conf_get_bool(const struct conf *conf, const char *name)
{
	struct conf_entry *e = must_find(conf, name, "conf_get_bool");
	if (e->def != NULL && e->def->type != PARAM_BOOL) {
		fprintf(stderr,
		        "postern: conf_get_bool(\"%s\"): the parameter is of type %s (programming "
		        "error)\n",
		        name, param_type_name(e->def->type));
		abort();
	}
	bool b;
	const char *error;
	if (param_parse_bool(entry_expanded(conf, e), &b, &error) == 0)
		return b;
	if (e->def != NULL && param_parse_bool(e->def->default_value, &b, &error) == 0)
		return b;
	return false;
}

/* The length of the list word at p: up to the next separator, except
 * that text in {braces} is part of the word, separators and all (as
 * Postfix has it, for inline:{ key = value, ... } and static:{text}). A
 * '{' without its '}' is an ordinary character. */
static size_t list_word_len(const char *p, const char *separators)
{
	size_t plain = strcspn(p, separators);
	if (memchr(p, '{', plain) == NULL)
		return plain;
	int depth = 0;
	size_t i = 0;
	for (; p[i] != '\0'; i++) {
		if (p[i] == '{')
			depth++;
		else if (p[i] == '}' && depth > 0)
			depth--;
		else if (depth == 0 && strchr(separators, p[i]) != NULL)
			break;
	}
	return depth == 0 ? i : plain;
}

/* Words separated by commas and white space, in one allocation: the
 * pointer array, then the words. */
static char **split_list(const char *value)
{
	static const char separators[] = ", \t\r\n\v\f";
	size_t words = 0, chars = 0;
	for (const char *p = value + strspn(value, separators); *p; p += strspn(p, separators)) {
		size_t len = list_word_len(p, separators);
		words++;
		chars += len + 1;
		p += len;
	}
	char **list = xmalloc((words + 1) * sizeof(char *) + chars);
	char *store = (char *)(list + words + 1);
	size_t n = 0;
	for (const char *p = value + strspn(value, separators); *p; p += strspn(p, separators)) {
		size_t len = list_word_len(p, separators);
		memcpy(store, p, len);
		store[len] = '\0';
		list[n++] = store;
		store += len + 1;
		p += len;
	}
	list[n] = NULL;
	return list;
}

char *const *conf_get_list(const struct conf *conf, const char *name)
{
	struct conf_entry *e = must_find(conf, name, "conf_get_list");
	if (e->list == NULL)
		e->list = split_list(entry_expanded(conf, e));
	return e->list;
}

char *conf_expand(const struct conf *conf, const char *text)
{
	struct expansion x;
	expansion_init(&x, conf);
	struct str out = STR_INIT;
	var_expand(&x.base, text, strlen(text), &out);
	var_expansion_free(&x.base);
	return str_steal(&out);
}

const char *const *conf_set_names(const struct conf *conf)
{
	static const char *const none[] = {NULL};
	return conf->set_names ? conf->set_names : none;
}

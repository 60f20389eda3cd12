/*
 * main.conf: "name = value" lines, '#' comments, continuation lines (a line
 * starting with white space continues the previous one), and $name,
 * ${name}, ${name?text} (text if name is non-empty) and ${name:text} (text
 * if name is empty) expansion at look-up time. Values set in the file are
 * checked against their type in the parameter table; unknown names are
 * warned about (and kept, so they can still be used in expansions). A
 * service's per-transport parameter (a pattern of params.h, such as
 * relay_destination_concurrency_limit) is known, typed and defaulted like
 * a table parameter.
 *
 * Look-ups of names missing from the table are programming errors and
 * panic, except for names that the file itself sets and names of a
 * pattern (which give the pattern's default when not set).
 */
#ifndef POSTERN_CONF_CONF_H
#define POSTERN_CONF_CONF_H

#include <stdbool.h>
#include <stddef.h>

#include "conf/diag.h"

#ifndef POSTERN_CONFIG_DIR
#define POSTERN_CONFIG_DIR "/etc/postern"
#endif

struct conf;

/* Only the table defaults, config_directory set to config_dir. */
struct conf *conf_new(const char *config_dir);
void conf_free(struct conf *conf);

/* Parse main.conf text (filename is used in diagnostics). Returns 0, or -1
 * if any error was added to diags. Later settings of a name win. */
int conf_parse_text(struct conf *conf, const char *filename, const char *text, size_t len,
                    struct diag_list *diags);
/* Read and parse a file; a missing file is an error naming the path. */
int conf_load_file(struct conf *conf, const char *path, struct diag_list *diags);
/* Load config_dir/main.conf into a fresh conf: NULL on errors (diags has them). */
struct conf *conf_load(const char *config_dir, struct diag_list *diags);

/* Override a value (master.conf "-o name=value", command-line options).
 * Validated like a file setting: 0 or -1 with *error_r. */
int conf_set(struct conf *conf, const char *name, const char *value, const char **error_r);

/* The configuration directory this conf was loaded from. */
const char *conf_directory(const struct conf *conf);
/* True if name was set in the file or by conf_set(). */
bool conf_is_set(const struct conf *conf, const char *name);
/* Where name was set: file and line (line 0 for conf_set()). Returns false
 * if it was not set (a default). */
bool conf_origin(const struct conf *conf, const char *name, const char **file_r, int *line_r);
/* The raw (unexpanded) value, as set or defaulted. */
const char *conf_get_raw(const struct conf *conf, const char *name);

/* Expanded values. Strings are owned by conf and valid until it is freed. */
const char *conf_get(const struct conf *conf, const char *name);
long long conf_get_int(const struct conf *conf, const char *name);
bool conf_get_bool(const struct conf *conf, const char *name);
long long conf_get_time(const struct conf *conf, const char *name); /* seconds */
long long conf_get_size(const struct conf *conf, const char *name); /* bytes */
/* NULL-terminated list of words, owned by conf. */
char *const *conf_get_list(const struct conf *conf, const char *name);

/* Expand $name references in text against conf into a malloc'd string. */
char *conf_expand(const struct conf *conf, const char *text);

/* Names set explicitly (file or conf_set), in the order first set; for
 * `mailctl config -n`. Returns a NULL-terminated array owned by conf. */
const char *const *conf_set_names(const struct conf *conf);

#endif

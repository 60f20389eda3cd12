/*
 * The one table of main.conf parameters: name, type, default and a one-line
 * description. The loader validates against it, `mailctl config` prints it,
 * and main.conf(5) documents the same entries. A default may refer to other
 * parameters with $name.
 */
#ifndef POSTERN_CONF_PARAMS_H
#define POSTERN_CONF_PARAMS_H

#include <stdbool.h>
#include <stddef.h>

enum param_type {
	PARAM_STR,  /* any text */
	PARAM_INT,  /* a decimal integer, optionally negative */
	PARAM_BOOL, /* yes/no (also true/false, on/off, 1/0) */
	PARAM_TIME, /* a duration: number with s, m, h, d or w (default unit s) */
	PARAM_SIZE, /* a byte count: number with k, m or g (1024-based; default bytes) */
	PARAM_LIST, /* words separated by commas and/or white space */
};

struct param_def {
	const char *name;
	enum param_type type;
	const char *default_value;
	const char *doc;
};

extern const struct param_def param_table[];
extern const size_t param_table_count;

/* Parameters named after a master.conf service, as Postfix's
 * transport_destination_concurrency_limit: the service's name followed by
 * suffix ("relay_destination_concurrency_limit"). def.name is the name
 * they are documented under ("transport_..."); a parameter of the table
 * that matches a pattern (smtp_destination_concurrency_limit) is the
 * table's. Names set to such a pattern are known parameters. */
struct param_pattern {
	const char *suffix;
	struct param_def def;
};

extern const struct param_pattern param_pattern_table[];
extern const size_t param_pattern_count;

/* The entry for name: the table's, else the def of the pattern it
 * matches; NULL if it is not a known parameter. */
const struct param_def *param_find(const char *name);
/* The pattern name matches (a non-empty service name, then the suffix),
 * whether or not the table has name too; NULL if none. The service is the
 * first strlen(name) - strlen(suffix) characters. */
const struct param_pattern *param_find_pattern(const char *name);
const char *param_type_name(enum param_type type);

/* Typed conversions of an (already expanded) value: 0 or -1 with *error_r. */
int param_parse_int(const char *value, long long *out, const char **error_r);
int param_parse_bool(const char *value, bool *out, const char **error_r);
int param_parse_time(const char *value, long long *seconds_out, const char **error_r);
int param_parse_size(const char *value, long long *bytes_out, const char **error_r);
/* Check value against type. */
int param_validate(enum param_type type, const char *value, const char **error_r);

#endif

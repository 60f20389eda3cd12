/*
 * Parameter look-up in the table and its per-service patterns
 * (params_table.c), and the typed value parsers that the loader, the
 * typed getters and `mailctl check` share. Parsers are strict: no white
 * space, no junk after the number, no overflow. Error messages live in a
 * static buffer, valid until the next failing call.
 */
#include "conf/params.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* The largest duration accepted, in seconds: fits an int and leaves room
 * for callers that convert to milliseconds. */
#define PARAM_TIME_MAX INT_MAX

static char param_error[256];

static const char *set_error(const char *type, const char *value, const char *why)
{
	snprintf(param_error, sizeof(param_error), "invalid %s value '%.64s%s'%s%s", type, value,
	         strlen(value) > 64 ? "..." : "", why ? ": " : "", why ? why : "");
	return param_error;
}

const struct param_def *param_find(const char *name)
{
	size_t lo = 0, hi = param_table_count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int cmp = strcmp(name, param_table[mid].name);
		if (cmp == 0)
			return &param_table[mid];
		if (cmp < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	const struct param_pattern *pattern = param_find_pattern(name);
	return pattern ? &pattern->def : NULL;
}

const struct param_pattern *param_find_pattern(const char *name)
{
	size_t len = strlen(name);
	for (size_t i = 0; i < param_pattern_count; i++) {
		const char *suffix = param_pattern_table[i].suffix;
		size_t suffix_len = strlen(suffix);
		if (len > suffix_len && strcmp(name + len - suffix_len, suffix) == 0)
			return &param_pattern_table[i];
	}
	return NULL;
}

const char *param_type_name(enum param_type type)
{
	switch (type) {
	case PARAM_STR:
		return "str";
	case PARAM_INT:
		return "int";
	case PARAM_BOOL:
		return "bool";
	case PARAM_TIME:
		return "time";
	case PARAM_SIZE:
		return "size";
	case PARAM_LIST:
		return "list";
	}
	return "unknown";
}

/* Read the decimal digits at *p into *out (non-negative). Returns 0, or -1
 * if there are no digits or the number exceeds max. */
static int parse_digits(const char **p, long long max, long long *out, bool *too_large)
{
	const char *s = *p;
	long long n = 0;
	*too_large = false;
	if (!isdigit((unsigned char)*s))
		return -1;
	for (; isdigit((unsigned char)*s); s++) {
		int digit = *s - '0';
		if (n > (max - digit) / 10) {
			*too_large = true;
			return -1;
		}
		n = n * 10 + digit;
	}
	*p = s;
	*out = n;
	return 0;
}

int param_parse_int(const char *value, long long *out, const char **error_r)
{
	const char *p = value;
	bool negative = *p == '-';
	bool too_large;
	long long n;
	if (negative)
		p++;
	/* LLONG_MIN itself is not accepted; nobody needs it. */
	if (parse_digits(&p, LLONG_MAX, &n, &too_large) != 0 || *p != '\0') {
		*error_r = set_error("integer", value, too_large ? "out of range" : NULL);
		return -1;
	}
	*out = negative ? -n : n;
	return 0;
}

int param_parse_bool(const char *value, bool *out, const char **error_r)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(value, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(value, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	*error_r = set_error("boolean", value, "use yes or no");
	return -1;
}

static long long time_unit(char c)
{
	switch (c) {
	case 's':
		return 1;
	case 'm':
		return 60;
	case 'h':
		return 3600;
	case 'd':
		return 86400;
	case 'w':
		return 7 * 86400;
	}
	return 0;
}

/* "30" (seconds), or one or more <number><unit> parts: "30s", "1h30m". */
int param_parse_time(const char *value, long long *seconds_out, const char **error_r)
{
	const char *p = value;
	const char *why = NULL;
	long long total = 0;
	bool too_large;
	bool bare = value[strspn(value, "0123456789")] == '\0';
	if (*p == '-') {
		why = "negative";
		goto bad;
	}
	do {
		long long n, unit;
		if (parse_digits(&p, PARAM_TIME_MAX, &n, &too_large) != 0) {
			why = too_large ? "too large" : NULL;
			goto bad;
		}
		if (bare) {
			unit = 1;
		} else if ((unit = time_unit(*p)) != 0) {
			p++;
		} else {
			why = *p == '\0'                   ? "missing unit"
			      : isalpha((unsigned char)*p) ? "unknown unit (use s, m, h, d or w)"
			                                   : NULL;
			goto bad;
		}
		if (n > (PARAM_TIME_MAX - total) / unit) {
			why = "too large";
			goto bad;
		}
		total += n * unit;
	} while (*p != '\0');
	*seconds_out = total;
	return 0;
bad:
	*error_r = set_error("time", value, why);
	return -1;
}

/* "1024", "10k", "10m", "1g": bytes, 1024-based units, either case. */
int param_parse_size(const char *value, long long *bytes_out, const char **error_r)
{
	const char *p = value;
	bool too_large;
	long long n;
	if (*p == '-') {
		*error_r = set_error("size", value, "negative");
		return -1;
	}
	if (parse_digits(&p, LLONG_MAX, &n, &too_large) != 0)
		goto bad;
	int shift = 0;
	switch (*p) {
	case '\0':
		break;
	case 'k':
	case 'K':
		shift = 10;
		break;
	case 'm':
	case 'M':
		shift = 20;
		break;
	case 'g':
	case 'G':
		shift = 30;
		break;
	default:
		goto bad;
	}
	if (*p != '\0' && *++p != '\0')
		goto bad;
	if (n > (LLONG_MAX >> shift)) {
		too_large = true;
		goto bad;
	}
	*bytes_out = n << shift;
	return 0;
bad:
	*error_r = set_error("size", value, too_large ? "too large" : NULL);
	return -1;
}

int param_validate(enum param_type type, const char *value, const char **error_r)
{
	long long n;
	bool b;
	switch (type) {
	case PARAM_STR:
	case PARAM_LIST:
		return 0;
	case PARAM_INT:
		return param_parse_int(value, &n, error_r);
	case PARAM_BOOL:
		return param_parse_bool(value, &b, error_r);
	case PARAM_TIME:
		return param_parse_time(value, &n, error_r);
	case PARAM_SIZE:
		return param_parse_size(value, &n, error_r);
	}
	*error_r = "unknown parameter type";
	return -1;
}

/*
 * $name expansion of text, as main.conf and Postfix's reply templates
 * (default_rbl_reply) have it: $name and ${name} (a name is letters,
 * digits and '_'), ${name?text} (text, itself expanded, when the value is
 * not empty), ${name:text} (text when it is empty), $$ for a '$'; a '$'
 * that starts no reference is kept as it is.
 *
 * What a name stands for is the caller's: a lookup function appends its
 * value (and may expand more text through the same expansion, as
 * main.conf's values refer to other values). The work one expansion may
 * do (bytes produced, plus a charge per reference) is bounded. The first
 * problem found (an unterminated "${", a bad reference, one the lookup
 * reports, too much work) fails the expansion: it is kept in error, and
 * nothing more is produced.
 */
#ifndef POSTERN_UTIL_VAR_EXPAND_H
#define POSTERN_UTIL_VAR_EXPAND_H

#include <stdbool.h>
#include <stddef.h>

#include "util/str.h"

struct var_expansion;
/* Append the value of name (len bytes, not NUL-terminated) to out. */
typedef void var_lookup_fn(struct var_expansion *x, const char *name, size_t len, struct str *out);

struct var_expansion {
	var_lookup_fn *lookup;
	void *context; /* the lookup's */
	size_t work;
	bool failed;
	struct str error; /* the first problem found */
};

void var_expansion_init(struct var_expansion *x, var_lookup_fn *lookup, void *context);
void var_expansion_free(struct var_expansion *x);

/* Expand text (len bytes) into out. */
void var_expand(struct var_expansion *x, const char *text, size_t len, struct str *out);

/* For lookup functions: append data to out (counted as work); fail the
 * expansion (only the first problem is kept). */
void var_expand_emit(struct var_expansion *x, struct str *out, const char *data, size_t len);
void var_expansion_fail(struct var_expansion *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A name and its value, for var_expand_values. */
struct var_value {
	const char *name;
	const char *value;
};

/* Expand text with exactly the count variables of vars, whose values are
 * used as they are (not expanded further), into out: 0, or -1 with the
 * problem (an unknown name among them) in error. */
int var_expand_values(const char *text, const struct var_value *vars, size_t count, struct str *out,
                      struct str *error);

#endif

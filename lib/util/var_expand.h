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
 * do (bytes produced, plus a charge per reference) is bounded, and so is
 * how deeply it nests (conditional texts within conditional texts, values
 * that expand further). The first problem found (an unterminated "${", a
 * bad reference, a name the lookup does not know, too much work, too deep
 * a nesting) fails the expansion: it is kept in error,
 * and nothing more is produced.
 *
 * Flags make the syntax narrower or the expansion lenient, for templates
 * that have always had simpler rules (bounce templates, reply footers):
 * then what is no good reference to a known name is text, not an error.
 */
#ifndef POSTERN_UTIL_VAR_EXPAND_H
#define POSTERN_UTIL_VAR_EXPAND_H

#include <stdbool.h>
#include <stddef.h>

#include "util/str.h"

struct var_expansion;
/* Append the value of name (len bytes, not NUL-terminated) to out. */
typedef void var_lookup_fn(struct var_expansion *x, const char *name, size_t len, struct str *out);

/* Flags of an expansion (none by default). */
enum {
	/* A '$' that starts no good reference (a "${" without its '}' or
	 * with a bad name or form, a name the lookup does not know) is kept
	 * as text and the expansion goes on just after it, instead of
	 * failing. */
	VAR_EXPAND_LENIENT = 1 << 0,
	/* ${name?text} and ${name:text} are no references (bad ones). */
	VAR_EXPAND_NO_CONDITIONS = 1 << 1,
	/* $$ is no escape: each '$' of it is kept. */
	VAR_EXPAND_NO_ESCAPE = 1 << 2,
};

struct var_expansion {
	var_lookup_fn *lookup;
	void *context;  /* the lookup's */
	unsigned flags; /* VAR_EXPAND_*: set after var_expansion_init */
	size_t work;
	int depth;    /* var_expand calls in progress */
	bool unknown; /* the lookup just called var_expand_unknown */
	bool failed;
	struct str error; /* the first problem found */
};

/* An expansion with no flags. */
void var_expansion_init(struct var_expansion *x, var_lookup_fn *lookup, void *context);
void var_expansion_free(struct var_expansion *x);

/* Expand text (len bytes) into out. */
void var_expand(struct var_expansion *x, const char *text, size_t len, struct str *out);

/* For lookup functions: append data to out (counted as work); fail the
 * expansion (only the first problem is kept). */
void var_expand_emit(struct var_expansion *x, struct str *out, const char *data, size_t len);
void var_expansion_fail(struct var_expansion *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* For lookup functions, in place of a value: name (len bytes) is none of
 * this expansion's. That fails it ("unknown variable $name"), or with
 * VAR_EXPAND_LENIENT leaves the reference's '$' as text. */
void var_expand_unknown(struct var_expansion *x, const char *name, size_t len);

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

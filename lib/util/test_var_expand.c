/* Unit tests for util/var_expand: the syntax, fixed variables, a lookup
 * that expands further, the bounds on work, and the flags that narrow the
 * syntax or make an expansion lenient. */
#include "util/testing.h"
#include "util/var_expand.h"

static const struct var_value vars[] = {
    {"rbl_code", "554"},
    {"rbl_domain", "zen.example"},
    {"rbl_reason", "listed; see https://zen.example/q?ip=$x"},
    {"empty", ""},
};
#define VARS (sizeof(vars) / sizeof(vars[0]))

/* The expansion of text, or "ERROR: problem". */
static const char *expand(const char *text)
{
	static struct str result;
	struct str out = STR_INIT, error = STR_INIT;
	str_clear(&result);
	if (var_expand_values(text, vars, VARS, &out, &error) == 0)
		str_set(&result, str_cstr(&out));
	else
		str_printf(&result, "ERROR: %s", str_cstr(&error));
	str_free(&out);
	str_free(&error);
	return str_cstr(&result);
}

TEST(forms)
{
	CHECK_STR(expand(""), "");
	CHECK_STR(expand("plain text"), "plain text");
	CHECK_STR(expand("$rbl_code x"), "554 x");
	CHECK_STR(expand("${rbl_code}0"), "5540");
	CHECK_STR(expand("a${rbl_domain?[$rbl_domain]}b"), "a[zen.example]b");
	CHECK_STR(expand("a${empty?[$rbl_domain]}b"), "ab");
	CHECK_STR(expand("a${empty:none}b"), "anoneb");
	CHECK_STR(expand("a${rbl_code:none}b"), "ab");
	CHECK_STR(expand("$$rbl_code costs $$5, $ alone, $"), "$rbl_code costs $5, $ alone, $");
	/* Nested conditions, and a '}' of the inner one. */
	CHECK_STR(expand("${rbl_code?${empty:<${rbl_domain}>}}"), "<zen.example>");
	/* Values are not expanded again. */
	CHECK_STR(expand("$rbl_reason"), "listed; see https://zen.example/q?ip=$x");
}

TEST(postfix_default)
{
	CHECK_STR(expand("$rbl_code Service unavailable; blocked using "
	                 "$rbl_domain${rbl_reason?; $rbl_reason}"),
	          "554 Service unavailable; blocked using zen.example; listed; see "
	          "https://zen.example/q?ip=$x");
	CHECK_STR(expand("$rbl_code blocked using $rbl_domain${empty?; $empty}"),
	          "554 blocked using zen.example");
}

TEST(errors)
{
	CHECK_STR(expand("$nosuch"), "ERROR: unknown variable $nosuch");
	CHECK_STR(expand("${nosuch?x}"), "ERROR: unknown variable $nosuch");
	CHECK_STR(expand("${rbl_code?$nosuch}"), "ERROR: unknown variable $nosuch");
	/* A condition not taken is not looked at. */
	CHECK_STR(expand("${empty?$nosuch}ok"), "ok");
	CHECK_STR(expand("x ${rbl_code"), "ERROR: unterminated '${' in \"${rbl_code\"");
	CHECK_STR(expand("${rbl-code}"), "ERROR: bad reference \"${rbl-code}\"");
	CHECK_STR(expand("${}"), "ERROR: bad reference \"${}\"");
	CHECK_STR(expand("${?x}"), "ERROR: bad reference \"${?x}\"");
}

/* vars as a lookup function, which reports unknown names. */
static void lookup_vars(struct var_expansion *x, const char *name, size_t len, struct str *out)
{
	for (size_t i = 0; i < VARS; i++) {
		if (strncmp(vars[i].name, name, len) == 0 && vars[i].name[len] == '\0') {
			var_expand_emit(x, out, vars[i].value, strlen(vars[i].value));
			return;
		}
	}
	var_expand_unknown(x, name, len);
}

/* The expansion of text with flags, up to an "ERROR: problem". */
static const char *expand_with(const char *text, unsigned flags)
{
	static struct str result;
	struct var_expansion x;
	var_expansion_init(&x, lookup_vars, NULL);
	x.flags = flags;
	struct str out = STR_INIT;
	var_expand(&x, text, strlen(text), &out);
	if (x.failed)
		str_printf(&out, "ERROR: %s", str_cstr(&x.error));
	str_set(&result, str_cstr(&out));
	str_free(&out);
	var_expansion_free(&x);
	return str_cstr(&result);
}

TEST(lenient)
{
	const unsigned f = VAR_EXPAND_LENIENT;
	CHECK_STR(expand_with("$rbl_code ${rbl_domain} ${empty:none} $$", f),
	          "554 zen.example none $");
	/* Unknown names are text; so are their conditions' braces, but not
	 * what is in them. */
	CHECK_STR(expand_with("$nosuch ${nosuch}x ${nosuch?[$rbl_code]}", f),
	          "$nosuch ${nosuch}x ${nosuch?[554]}");
	CHECK_STR(expand_with("${rbl_code?$nosuch}", f), "$nosuch");
	/* Bad and unterminated references keep their '$'; what follows is
	 * expanded. */
	CHECK_STR(expand_with("x ${rbl_code", f), "x ${rbl_code");
	CHECK_STR(expand_with("${bad $rbl_code ${rbl-code} ${} ${?x} ${rbl_code?x", f),
	          "${bad 554 ${rbl-code} ${} ${?x} ${rbl_code?x");
	CHECK_STR(expand_with("${rbl_code?${x-y}}", f), "${x-y}");
	/* No '}' anywhere: each "${" is looked at once, not up to the end. */
	struct str many = STR_INIT;
	for (int i = 0; i < 100000; i++)
		str_append(&many, "${a ", 4);
	CHECK_STR(expand_with(str_cstr(&many), f | VAR_EXPAND_NO_CONDITIONS), str_cstr(&many));
	str_free(&many);
	/* Without the flag, the same are errors. */
	CHECK_STR(expand_with("a $nosuch", 0), "a ERROR: unknown variable $nosuch");
	CHECK_STR(expand_with("${rbl-code}", 0), "ERROR: bad reference \"${rbl-code}\"");
}

TEST(no_conditions)
{
	CHECK_STR(expand_with("${rbl_code}-${rbl_code?x}-${empty:y}", VAR_EXPAND_NO_CONDITIONS),
	          "554-ERROR: bad reference \"${rbl_code?x}\"");
	CHECK_STR(expand_with("${rbl_code}-${rbl_code?x$rbl_code}-${empty:y}",
	                      VAR_EXPAND_NO_CONDITIONS | VAR_EXPAND_LENIENT),
	          "554-${rbl_code?x554}-${empty:y}");
}

TEST(no_escape)
{
	CHECK_STR(expand_with("$$rbl_code $$ $", VAR_EXPAND_NO_ESCAPE), "$554 $$ $");
	CHECK_STR(expand_with("$$$$", VAR_EXPAND_NO_ESCAPE), "$$$$");
	CHECK_STR(expand_with("$$$$", 0), "$$");
}

/* A lookup that expands the value of $x, "$x$x", again: each level
 * doubles until the work bound stops it. */
static void doubling(struct var_expansion *x, const char *name, size_t len, struct str *out)
{
	int *depth = x->context;
	if (len != 1 || name[0] != 'x') {
		var_expansion_fail(x, "no %.*s", (int)len, name);
		return;
	}
	if (++*depth > 40) {
		var_expand_emit(x, out, "y", 1);
	} else {
		var_expand(x, "$x$x", 4, out);
	}
	--*depth;
}

TEST(work_bound)
{
	int depth = 0;
	struct var_expansion x;
	var_expansion_init(&x, doubling, &depth);
	struct str out = STR_INIT;
	var_expand(&x, "$x", 2, &out);
	CHECK(x.failed);
	CHECK_STR(str_cstr(&x.error), "expansion is too large (more than 1024 KiB of work)");
	CHECK(out.len <= 1024 * 1024);
	str_free(&out);
	var_expansion_free(&x);

	var_expansion_init(&x, doubling, &depth);
	var_expand(&x, "a $y b", 6, &out);
	CHECK(x.failed);
	CHECK_STR(str_cstr(&x.error), "no y");
	CHECK_STR(str_cstr(&out), "a ");
	str_free(&out);
	var_expansion_free(&x);
}

static void nonempty(struct var_expansion *x, const char *name, size_t len, struct str *out)
{
	(void)name;
	(void)len;
	var_expand_emit(x, out, "v", 1);
}

/* ${a?${a?...}} nested n levels deep around "end". */
static void nested(struct str *text, int n)
{
	for (int i = 0; i < n; i++)
		str_append_cstr(text, "${a?");
	str_append_cstr(text, "end");
	for (int i = 0; i < n; i++)
		str_append_cstr(text, "}");
}

TEST(depth_bound)
{
	struct str text = STR_INIT, out = STR_INIT;
	nested(&text, 99); /* with the outermost call: 100 levels */
	struct var_expansion x;
	var_expansion_init(&x, nonempty, NULL);
	var_expand(&x, text.data, text.len, &out);
	CHECK(!x.failed);
	CHECK_STR(str_cstr(&out), "end");
	var_expansion_free(&x);

	str_clear(&text);
	str_clear(&out);
	nested(&text, 100000);
	var_expansion_init(&x, nonempty, NULL);
	var_expand(&x, text.data, text.len, &out);
	CHECK(x.failed);
	CHECK_STR(str_cstr(&x.error), "expansion is nested too deeply (more than 100 levels)");
	CHECK_STR(str_cstr(&out), "");
	var_expansion_free(&x);
	str_free(&text);
	str_free(&out);
}

int main(void)
{
	RUN(forms);
	RUN(postfix_default);
	RUN(errors);
	RUN(work_bound);
	RUN(depth_bound);
	RUN(lenient);
	RUN(no_conditions);
	RUN(no_escape);
	return TESTING_DONE();
}

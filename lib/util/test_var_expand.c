/* Unit tests for util/var_expand: the syntax, fixed variables, a lookup
 * that expands further, and the bounds on work. */
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

int main(void)
{
	RUN(forms);
	RUN(postfix_default);
	RUN(errors);
	RUN(work_bound);
	return TESTING_DONE();
}

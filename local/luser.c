/*
 * local's $name expansion of the main.conf texts that name a recipient or
 * a user, as Postfix's local expands them: the luser_relay address of an
 * unknown user, and forward_path (expand_forward.c). The syntax is
 * util/var_expand's ($name, ${name}, ${name?text}, ${name:text}, $$);
 * the caller's names ($user, $home ...) stand for their values as they
 * are, any other $name for the main.conf parameter's value. Such a text
 * is read without main.conf expansion, so that $user is not taken for a
 * parameter; main.conf's checks have looked at it all the same, so a
 * '$' that starts no good reference here (one in a condition's text) is
 * kept as it is.
 *
 * In luser_relay, $user, $local, $extension, $domain, $recipient and
 * $recipient_delimiter are the recipient's, $home and $shell are empty
 * (there is no such user). Its result is used as written; it is no
 * |command or /file.
 */
#include <stdlib.h>
#include <string.h>

#include "local/local.h"
#include "util/alloc.h"
#include "util/str.h"

struct local_names {
	const struct conf *conf;
	const struct var_value *vars;
	size_t count;
};

/* $name: the caller's value, else main.conf's. */
static void lookup(struct var_expansion *x, const char *name, size_t len, struct str *out)
{
	const struct local_names *names = x->context;
	for (size_t i = 0; i < names->count; i++) {
		const struct var_value *v = &names->vars[i];
		if (strncmp(v->name, name, len) == 0 && v->name[len] == '\0') {
			var_expand_emit(x, out, v->value, strlen(v->value));
			return;
		}
	}
	char *ref = xasprintf("${%.*s}", (int)len, name);
	char *value = conf_expand(names->conf, ref);
	var_expand_emit(x, out, value, strlen(value));
	free(value);
	free(ref);
}

char *local_expand(const struct conf *conf, const char *text, const struct var_value *vars,
                   size_t count)
{
	struct local_names names = {conf, vars, count};
	struct var_expansion x;
	var_expansion_init(&x, lookup, &names);
	x.flags = VAR_EXPAND_LENIENT;
	struct str out = STR_INIT;
	var_expand(&x, text, strlen(text), &out);
	if (x.failed)
		str_clear(&out); /* too much work: no part of it is right */
	var_expansion_free(&x);
	return str_steal(&out);
}

char *local_luser_expand(const struct conf *conf, const char *template,
                         const struct local_luser *attrs)
{
	const struct var_value vars[] = {
	    {"user", attrs->user},
	    {"local", attrs->local},
	    {"extension", attrs->extension ? attrs->extension : ""},
	    {"domain", attrs->domain},
	    {"recipient", attrs->recipient},
	    {"recipient_delimiter", attrs->delimiter ? attrs->delimiter : ""},
	    {"home", ""},
	    {"shell", ""},
	};
	char *expanded = local_expand(conf, template, vars, sizeof(vars) / sizeof(vars[0]));
	/* what surrounds it in main.conf is no part of the address */
	size_t start = strspn(expanded, " \t"), end = strlen(expanded);
	while (end > start && (expanded[end - 1] == ' ' || expanded[end - 1] == '\t'))
		end--;
	char *address = xstrndup(expanded + start, end - start);
	free(expanded);
	return address;
}

/*
 * The expansion of luser_relay, the address that mail for an unknown
 * local user goes to (expand.c), as Postfix's local expands it: $user,
 * $local, $extension, $domain, $recipient and $recipient_delimiter are the
 * recipient's, $home and $shell are empty (there is no such user); they
 * may be written ${name}, and ${name?text} and ${name:text} give text when
 * the value is not empty or empty. $$ is a '$'. Any other $name is the
 * main.conf parameter's value (luser_relay itself is read without
 * main.conf expansion, as Postfix reads it: $user is not a parameter).
 * The result is used as written; it is no |command or /file.
 */
#include <stdlib.h>
#include <string.h>

#include "local/local.h"
#include "util/alloc.h"
#include "util/str.h"

static bool is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

/* The value of $name (len bytes): attrs', else main.conf's (a fresh
 * string). */
static char *value_of(const struct conf *conf, const struct local_luser *attrs, const char *name,
                      size_t len)
{
	const struct {
		const char *name;
		const char *value;
	} own[] = {
	    {"user", attrs->user},
	    {"local", attrs->local},
	    {"extension", attrs->extension},
	    {"domain", attrs->domain},
	    {"recipient", attrs->recipient},
	    {"recipient_delimiter", attrs->delimiter},
	    {"home", NULL},
	    {"shell", NULL},
	};
	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
		if (strlen(own[i].name) == len && strncmp(own[i].name, name, len) == 0)
			return xstrdup(own[i].value ? own[i].value : "");
	char *ref = xasprintf("${%.*s}", (int)len, name);
	char *value = conf_expand(conf, ref);
	free(ref);
	return value;
}

static void expand(const struct conf *conf, const struct local_luser *attrs, const char *p,
                   const char *end, struct str *out, int depth)
{
	while (p < end) {
		const char *dollar = memchr(p, '$', (size_t)(end - p));
		if (dollar == NULL) {
			str_append(out, p, (size_t)(end - p));
			return;
		}
		str_append(out, p, (size_t)(dollar - p));
		p = dollar + 1;
		if (p < end && *p == '$') {
			str_append_char(out, '$');
			p++;
		} else if (p < end && *p == '{') {
			const char *start = p + 1, *close = start;
			for (int level = 1; close < end; close++) {
				if (*close == '{')
					level++;
				else if (*close == '}' && --level == 0)
					break;
			}
			size_t len = 0;
			while (start + len < close && is_name_char(start[len]))
				len++;
			const char *op = start + len;
			if (close == end || len == 0 || (op != close && *op != '?' && *op != ':')) {
				str_append(out, dollar,
				           (size_t)(end - dollar)); /* kept as written */
				return;
			}
			char *value = value_of(conf, attrs, start, len);
			if (op == close)
				str_append_cstr(out, value);
			else if ((value[0] != '\0') == (*op == '?') && depth < 5)
				expand(conf, attrs, op + 1, close, out, depth + 1);
			free(value);
			p = close + 1;
		} else if (p < end && is_name_char(*p)) {
			const char *name = p;
			while (p < end && is_name_char(*p))
				p++;
			char *value = value_of(conf, attrs, name, (size_t)(p - name));
			str_append_cstr(out, value);
			free(value);
		} else {
			str_append_char(out, '$');
		}
	}
}

char *local_luser_expand(const struct conf *conf, const char *template,
                         const struct local_luser *attrs)
{
	struct str out = STR_INIT;
	expand(conf, attrs, template, template + strlen(template), &out, 0);
	/* what surrounds it in main.conf is no part of the address */
	const char *text = str_cstr(&out);
	size_t start = strspn(text, " \t"), end = out.len;
	while (end > start && (text[end - 1] == ' ' || text[end - 1] == '\t'))
		end--;
	char *address = xstrndup(text + start, end - start);
	str_free(&out);
	return address;
}

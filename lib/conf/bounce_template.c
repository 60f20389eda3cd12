/*
 * The bounce template file (bounce_template.h): physical lines (template
 * text keeps its leading white space), strict checks with file:line, and
 * the $name expansion (util/var_expand's, narrowed to $name, ${name} and
 * $$) with Postfix's time-unit suffixes.
 */
#include "conf/bounce_template.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/params.h"
#include "util/alloc.h"
#include "util/str.h"
#include "util/var_expand.h"

static const char *const names[BOUNCE_TEMPLATE_COUNT] = {"failure_template", "delay_template",
                                                         "success_template", "verify_template"};

const char *bounce_template_name(enum bounce_template_kind kind)
{
	return names[kind];
}

void bounce_templates_free(struct bounce_templates *t)
{
	for (int k = 0; k < BOUNCE_TEMPLATE_COUNT; k++) {
		struct bounce_template *b = &t->t[k];
		free(b->charset);
		free(b->from);
		free(b->subject);
		free(b->postmaster_subject);
		free(b->text);
	}
	memset(t, 0, sizeof(*t));
}

/* One physical line at *pos (without its LF or CRLF); false at the end. */
static bool next_line(const char **pos, const char *end, const char **line, size_t *len)
{
	if (*pos >= end)
		return false;
	const char *nl = memchr(*pos, '\n', (size_t)(end - *pos));
	const char *stop = nl ? nl : end;
	*line = *pos;
	*len = (size_t)(stop - *pos);
	if (*len > 0 && (*line)[*len - 1] == '\r')
		(*len)--;
	*pos = nl ? nl + 1 : end;
	return true;
}

static bool blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!isspace((unsigned char)s[i]))
			return false;
	return true;
}

static char *trimmed(const char *s, size_t len)
{
	while (len > 0 && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	return xstrndup(s, len);
}

/* "NAME = <<WORD": the template kind and the end word, or false. */
static bool template_start(const char *line, size_t len, int *kind, char **word)
{
	char *text = trimmed(line, len);
	char *eq = strchr(text, '=');
	bool ok = false;
	if (eq != NULL) {
		char *name = trimmed(text, (size_t)(eq - text));
		char *rest = trimmed(eq + 1, strlen(eq + 1));
		for (int k = 0; k < BOUNCE_TEMPLATE_COUNT; k++)
			if (strcmp(name, names[k]) == 0)
				*kind = k;
		if (*kind >= 0 && strncmp(rest, "<<", 2) == 0 && rest[2] != '\0') {
			*word = trimmed(rest + 2, strlen(rest + 2));
			ok = **word != '\0' && strpbrk(*word, " \t") == NULL;
			if (!ok)
				free(*word);
		}
		free(name);
		free(rest);
	}
	free(text);
	return ok;
}

/* One header line of a template into b; false with *why. */
static bool header_field(struct bounce_template *b, const char *line, size_t len, const char **why)
{
	const char *colon = memchr(line, ':', len);
	if (colon == NULL) {
		*why = "a template header line is \"Name: value\"";
		return false;
	}
	char *name = trimmed(line, (size_t)(colon - line));
	char *value = trimmed(colon + 1, len - (size_t)(colon + 1 - line));
	char **field = NULL;
	if (strcasecmp(name, "Charset") == 0)
		field = &b->charset;
	else if (strcasecmp(name, "From") == 0)
		field = &b->from;
	else if (strcasecmp(name, "Subject") == 0)
		field = &b->subject;
	else if (strcasecmp(name, "Postmaster-Subject") == 0)
		field = &b->postmaster_subject;
	bool ok = false;
	if (field == NULL)
		*why = "unknown template header (Charset, From, Subject or Postmaster-Subject)";
	else if (*field != NULL)
		*why = "template header given twice";
	else if (*value == '\0')
		*why = "empty template header";
	else
		ok = true;
	for (const char *p = value; ok && *p; p++)
		if ((unsigned char)*p < 0x20 && *p != '\t') {
			*why = "control character in a template header";
			ok = false;
		}
	if (ok && field == &b->charset) {
		for (const char *p = value; *p && ok; p++)
			ok = isalnum((unsigned char)*p) || strchr("-_.:", *p) != NULL;
		if (!ok)
			*why = "Charset is not a character set name";
	}
	if (ok) {
		*field = value;
		value = NULL;
	}
	free(name);
	free(value);
	return ok;
}

static bool has_8bit(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return true;
	return false;
}

static bool is_ascii_charset(const char *charset)
{
	return charset == NULL || strcasecmp(charset, "us-ascii") == 0;
}

int bounce_templates_parse(const char *file, const char *text, size_t len,
                           struct bounce_templates *out, struct diag_list *diags)
{
	memset(out, 0, sizeof(*out));
	size_t errors = diag_count(diags, DIAG_ERROR);
	const char *pos = text, *end = text + len;
	const char *line;
	size_t line_len;
	int lineno = 0;
	while (next_line(&pos, end, &line, &line_len)) {
		lineno++;
		if (memchr(line, '\0', line_len) != NULL) {
			diag_add(diags, DIAG_ERROR, file, lineno, "NUL character");
			continue;
		}
		if (blank(line, line_len))
			continue;
		size_t skip = 0;
		while (skip < line_len && isspace((unsigned char)line[skip]))
			skip++;
		if (line[skip] == '#')
			continue;
		int kind = -1;
		char *word = NULL;
		if (!template_start(line, line_len, &kind, &word)) {
			diag_add(diags, DIAG_ERROR, file, lineno,
			         "expected \"NAME_template = <<EOF\" (failure, delay, success or "
			         "verify), a comment or an empty line");
			continue;
		}
		int start = lineno;
		struct bounce_template b = {0};
		struct str body = STR_INIT;
		bool in_header = true, closed = false, bad = false;
		if (out->t[kind].set) {
			diag_add(diags, DIAG_ERROR, file, lineno, "%s given twice", names[kind]);
			bad = true;
		}
		while (next_line(&pos, end, &line, &line_len)) {
			lineno++;
			if (line_len == strlen(word) && memcmp(line, word, line_len) == 0) {
				closed = true;
				break;
			}
			if (memchr(line, '\0', line_len) != NULL) {
				diag_add(diags, DIAG_ERROR, file, lineno, "NUL character");
				bad = true;
				continue;
			}
			if (in_header) {
				const char *why;
				if (line_len == 0) {
					in_header = false;
				} else if (!header_field(&b, line, line_len, &why)) {
					diag_add(diags, DIAG_ERROR, file, lineno, "%s", why);
					bad = true;
				}
				continue;
			}
			str_append(&body, line, line_len);
			str_append_char(&body, '\n');
		}
		if (!closed) {
			diag_add(diags, DIAG_ERROR, file, start, "%s: no \"%s\" line ends it",
			         names[kind], word);
			bad = true;
		} else if (in_header) {
			diag_add(diags, DIAG_ERROR, file, start,
			         "%s: no empty line between its header and its text", names[kind]);
			bad = true;
		} else if (body.len > BOUNCE_TEMPLATE_MAX) {
			diag_add(diags, DIAG_ERROR, file, start, "%s: text longer than %d bytes",
			         names[kind], BOUNCE_TEMPLATE_MAX);
			bad = true;
		} else if (is_ascii_charset(b.charset) &&
		           (has_8bit(str_cstr(&body)) || (b.from && has_8bit(b.from)) ||
		            (b.subject && has_8bit(b.subject)) ||
		            (b.postmaster_subject && has_8bit(b.postmaster_subject)))) {
			diag_add(diags, DIAG_ERROR, file, start,
			         "%s: 8-bit text needs a Charset header (utf-8, say)", names[kind]);
			bad = true;
		}
		free(word);
		if (bad) {
			struct bounce_templates one = {0};
			one.t[0] = b;
			bounce_templates_free(&one);
			str_free(&body);
			continue;
		}
		b.set = true;
		b.text = str_steal(&body);
		out->t[kind] = b;
	}
	if (diag_count(diags, DIAG_ERROR) > errors) {
		bounce_templates_free(out);
		return -1;
	}
	return 0;
}

int bounce_templates_load(const char *path, struct bounce_templates *out, struct diag_list *diags)
{
	memset(out, 0, sizeof(*out));
	struct str text = STR_INIT;
	if (diag_read_file(path, &text, diags) != 0) {
		str_free(&text);
		return -1;
	}
	int rc = bounce_templates_parse(path, text.data ? text.data : "", text.len, out, diags);
	str_free(&text);
	return rc;
}

/* A time parameter with a unit suffix: its value in that unit, or -1. */
static long long time_with_unit(const char *name, const struct conf *conf)
{
	static const struct {
		const char *suffix;
		long long seconds;
	} units[] = {{"_seconds", 1},
	             {"_minutes", 60},
	             {"_hours", 3600},
	             {"_days", 86400},
	             {"_weeks", 7 * 86400}};
	size_t len = strlen(name);
	for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
		size_t slen = strlen(units[u].suffix);
		if (len <= slen || strcmp(name + len - slen, units[u].suffix) != 0)
			continue;
		char *base = xstrndup(name, len - slen);
		const struct param_def *def = param_find(base);
		long long value = -1;
		if (def != NULL && def->type == PARAM_TIME)
			value = conf_get_time(conf, base) / units[u].seconds;
		free(base);
		return value;
	}
	return -1;
}

/* A $name of a template: a time parameter with a unit suffix, else the
 * main.conf parameter, expanded; a name that starts with a digit is none
 * ("$5" stays as it is). */
static void template_lookup(struct var_expansion *x, const char *name, size_t len, struct str *out)
{
	const struct conf *conf = x->context;
	if (isdigit((unsigned char)name[0])) {
		var_expand_unknown(x, name, len);
		return;
	}
	char *ref = xstrndup(name, len);
	long long t = time_with_unit(ref, conf);
	char *value;
	if (t >= 0) {
		value = xasprintf("%lld", t);
	} else {
		char *one = xasprintf("${%s}", ref);
		value = conf_expand(conf, one);
		free(one);
	}
	var_expand_emit(x, out, value, strlen(value));
	free(value);
	free(ref);
}

char *bounce_template_expand(const char *text, const struct conf *conf)
{
	/* Only $name and ${name}, and $$; any other '$' is text. */
	struct var_expansion x;
	var_expansion_init(&x, template_lookup, (void *)conf);
	x.flags = VAR_EXPAND_LENIENT | VAR_EXPAND_NO_CONDITIONS;
	struct str out = STR_INIT;
	var_expand(&x, text, strlen(text), &out); /* a text too large is cut short */
	var_expansion_free(&x);
	return str_steal(&out);
}

static void expand_field(char **field, const struct conf *conf)
{
	if (*field == NULL)
		return;
	char *value = bounce_template_expand(*field, conf);
	free(*field);
	*field = value;
}

void bounce_templates_expand(struct bounce_templates *out, const struct conf *conf)
{
	for (int k = 0; k < BOUNCE_TEMPLATE_COUNT; k++) {
		struct bounce_template *b = &out->t[k];
		if (!b->set)
			continue;
		expand_field(&b->from, conf);
		expand_field(&b->subject, conf);
		expand_field(&b->postmaster_subject, conf);
		expand_field(&b->text, conf);
	}
}

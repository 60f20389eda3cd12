/*
 * regexp: tables, as Postfix's regexp_table(5): an ordered list of
 * "/pattern/flags result" rules in POSIX regular expressions (glibc's
 * regcomp/regexec), with "!" negation, any non-alphanumeric delimiter,
 * the flags i, m and x, $N substitution in the result, and nestable
 * "if /pattern/ ... endif" blocks.
 *
 * The file is read and every pattern compiled once at open; any error
 * fails the open with "PATH, line N: what is wrong". A look-up tries the
 * rules in file order and the first that matches gives the result. It
 * uses only the stack and the caller's value string, so look-ups on one
 * table need no lock between them (glibc's regexec is thread-safe).
 *
 * pcre: tables (Postfix's pcre_table(5)) are the same files with PCRE
 * patterns and PCRE's flags (i m s x A E U X); without libpcre, each
 * pattern is translated into an equivalent ERE at open
 * (pcre_translate.h), a pattern it cannot translate exactly is an open
 * error, and $N is pointed at the ERE group that captures PCRE's group N.
 */
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "table/pcre_translate.h"
#include "table/table.h"
#include "table/table_private.h"
#include "util/alloc.h"
#include "util/str.h"

/* The highest $N a result may name: the size of the match array on the
 * stack during a look-up. */
#define REGEXP_MAX_SUB 99

static char regexp_error[512];

/* A piece of a result: literal text, or a subexpression to copy. */
struct regexp_part {
	size_t offset; /* literal: where in rule->result */
	size_t len;
	int sub; /* > 0: the subexpression $sub; 0: literal */
};

struct regexp_rule {
	regex_t re;
	bool negate;
	bool is_if;
	size_t skip_to; /* an if: the index of the first rule after its endif */
	int max_sub;    /* the highest $N in the result (0: none, REG_NOSUB) */
	char *result;
	struct regexp_part *parts;
	size_t part_count;
	int line;
};

struct table_regexp {
	struct table table; /* first */
	char *path;
	struct regexp_rule *rules;
	size_t count, cap;
};

/* ---- Errors ---- */

static const char *open_error(const char *path, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static const char *open_error(const char *path, int line, const char *fmt, ...)
{
	int n = snprintf(regexp_error, sizeof(regexp_error), "%s, line %d: ", path, line);
	if (n < 0 || (size_t)n >= sizeof(regexp_error))
		return regexp_error;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(regexp_error + n, sizeof(regexp_error) - (size_t)n, fmt, ap);
	va_end(ap);
	return regexp_error;
}

/* ---- Parsing one logical line ---- */

struct regexp_parser {
	struct table_regexp *t;
	const char *path;
	bool pcre;        /* pcre: patterns, translated to ERE */
	size_t *open_ifs; /* indices of the if rules not yet closed */
	size_t open_count, open_cap;
	const char *error;
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int parse_fail(struct regexp_parser *p, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int parse_fail(struct regexp_parser *p, int line, const char *fmt, ...)
{
	char text[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	p->error = open_error(p->path, line, "%s", text);
	return -1;
}

/* The pcre: flag letter c as a PCRE_TRANSLATE_* bit; 0 for X (PCRE1's
 * "extra", meaningless here), -1 for an unknown letter. */
static int pcre_flag(char c)
{
	switch (c) {
	case 'i':
		return PCRE_TRANSLATE_CASELESS;
	case 'm':
		return PCRE_TRANSLATE_MULTILINE;
	case 's':
		return PCRE_TRANSLATE_DOTALL;
	case 'x':
		return PCRE_TRANSLATE_EXTENDED;
	case 'A':
		return PCRE_TRANSLATE_ANCHORED;
	case 'E':
		return PCRE_TRANSLATE_DOLLAR_ENDONLY;
	case 'U':
		return PCRE_TRANSLATE_UNGREEDY;
	case 'X':
		return 0;
	default:
		return -1;
	}
}

/* The pattern at *pos ("!"s, a delimiter, the expression, the delimiter,
 * flags): the expression in *pattern_r and the flags in *cflags_r
 * (regcomp's, or for pcre: PCRE_TRANSLATE_* bits). Leaves *pos after the
 * flags. */
static int parse_pattern(struct regexp_parser *p, int line, const char **pos,
                         struct regexp_rule *rule, char **pattern_r, int *cflags_r)
{
	const char *s = *pos;
	rule->negate = false;
	for (;; s++) {
		if (*s == '!')
			rule->negate = !rule->negate;
		else if (!is_blank(*s))
			break;
	}
	if (*s == '\0')
		return parse_fail(p, line, "no pattern");
	char delim = *s;
	if (is_alnum(delim) || delim == '\\')
		return parse_fail(p, line, "pattern delimiter '%c' is a letter, digit or backslash",
		                  delim);
	const char *start = ++s;
	while (*s != '\0' && *s != delim) {
		if (*s == '\\' && s[1] != '\0')
			s++;
		s++;
	}
	if (*s == '\0')
		return parse_fail(p, line, "no closing pattern delimiter '%c'", delim);
	const char *end = s++;
	int cflags = p->pcre ? PCRE_TRANSLATE_CASELESS : REG_EXTENDED | REG_ICASE;
	for (; *s != '\0' && !is_blank(*s); s++) {
		if (p->pcre) {
			int bit = pcre_flag(*s);
			if (bit < 0)
				return parse_fail(p, line, "unknown pattern flag '%c'", *s);
			cflags ^= bit;
			continue;
		}
		switch (*s) {
		case 'i':
			cflags ^= REG_ICASE;
			break;
		case 'm':
			cflags ^= REG_NEWLINE;
			break;
		case 'x':
			cflags ^= REG_EXTENDED;
			break;
		default:
			return parse_fail(p, line, "unknown pattern flag '%c'", *s);
		}
	}
	*pattern_r = xstrndup(start, (size_t)(end - start));
	*cflags_r = cflags;
	*pos = s;
	return 0;
}

/* The end of the bracket expression that starts at c ('['), or the end
 * of the string. */
static const char *skip_bracket(const char *c)
{
	c++;
	if (*c == '^')
		c++;
	if (*c == ']')
		c++;
	while (*c && *c != ']') {
		if (*c == '[' && (c[1] == ':' || c[1] == '.' || c[1] == '=')) {
			char close = c[1];
			c += 2;
			while (*c && !(*c == close && c[1] == ']'))
				c++;
			if (*c)
				c += 2;
			continue;
		}
		c++;
	}
	return *c ? c + 1 : c;
}

/* An interval "{n}", "{n,}" or "{n,m}" at c: its end, and its largest
 * bound in *bound_r; NULL if c starts none. */
static const char *interval_end(const char *c, long *bound_r)
{
	if (*c != '{' || !is_digit(c[1]))
		return NULL;
	char *end;
	long low = strtol(c + 1, &end, 10), high = low;
	if (*end == ',') {
		high = is_digit(end[1]) ? strtol(end + 1, &end, 10) : low;
		if (*end == ',')
			end++;
	}
	if (*end != '}')
		return NULL;
	*bound_r = low > high ? low : high;
	return end + 1;
}

/* What makes a pattern unfit for regcomp, or NULL. glibc's regcomp
 * copies what "+" and an interval repeat, and its work grows faster than
 * the copies: nested "+" groups ("((a+)+)+...") or a run of repetition
 * operators ("a++++...", which POSIX leaves undefined) take time
 * exponential in their depth. So a pattern whose expansion is estimated
 * at more than REGEXP_MAX_NODES nodes is refused, as is a run of more than
 * REGEXP_MAX_RUN repetition operators (".*?", common in Postfix tables, is
 * two) and an interval bound over RE_DUP_MAX as POSIX sets it. */
#define REGEXP_MAX_RUN 3
#define REGEXP_MAX_BOUND 255
#define REGEXP_MAX_NODES 20000.0
#define REGEXP_MAX_DEPTH 64
static const char *pattern_problem(const char *pattern)
{
	/* Per open group: the size of what is done, and of the last atom
	 * (which a repetition operator applies to). */
	struct {
		double done, last;
	} level[REGEXP_MAX_DEPTH + 1] = {{0, 0}};
	int depth = 0, run = 0;
	const char *c = pattern;
	while (*c) {
		long bound = 0;
		const char *after = interval_end(c, &bound);
		if (after != NULL || *c == '*' || *c == '+' || *c == '?') {
			if (++run > REGEXP_MAX_RUN)
				return "more than 3 repetition operators in a row";
			if (bound > REGEXP_MAX_BOUND)
				return "an interval bound over 255";
			double last = level[depth].last > 0 ? level[depth].last : 1;
			level[depth].last = *c == '+' ? 2 * last + 1
			                    : after   ? last * (double)(bound > 0 ? bound : 1) + 1
			                              : last + 1;
			c = after ? after : c + 1;
		} else {
			run = 0;
			if (*c == '(') {
				if (depth == REGEXP_MAX_DEPTH)
					return "groups nested too deep";
				depth++;
				level[depth].done = level[depth].last = 0;
			} else if (*c == ')' && depth > 0) {
				double size = level[depth].done + level[depth].last + 1;
				depth--;
				level[depth].done += level[depth].last;
				level[depth].last = size;
			} else if (*c == '|') {
				level[depth].done += level[depth].last + 1;
				level[depth].last = 0;
			} else {
				level[depth].done += level[depth].last;
				level[depth].last = 1;
			}
			if (*c == '\\')
				c += c[1] ? 2 : 1;
			else if (*c == '[')
				c = skip_bracket(c);
			else
				c++;
		}
		double total = 0;
		for (int i = 0; i <= depth; i++)
			total += level[i].done + level[i].last;
		if (total > REGEXP_MAX_NODES)
			return "too complex (repetitions expand it too much)";
	}
	return NULL;
}

static int compile(struct regexp_parser *p, int line, struct regexp_rule *rule, const char *pattern,
                   int cflags)
{
	const char *problem = pattern_problem(pattern);
	if (problem != NULL)
		return parse_fail(p, line, "bad regular expression: %s", problem);
	int rc = regcomp(&rule->re, pattern, cflags);
	if (rc != 0) {
		char text[200];
		regerror(rc, &rule->re, text, sizeof(text));
		return parse_fail(p, line, "bad regular expression: %s", text);
	}
	return 0;
}

/* Compile pattern into rule->re in the table's dialect; match_only: no
 * $N needs the match positions. A pcre: pattern's translation (its
 * capture map) is left in *tr, which the caller frees. */
static int compile_rule(struct regexp_parser *p, int line, struct regexp_rule *rule,
                        const char *pattern, int flags, bool match_only,
                        struct pcre_translation *tr)
{
	int nosub = match_only ? REG_NOSUB : 0;
	if (!p->pcre)
		return compile(p, line, rule, pattern, flags | nosub);
	const char *error;
	unsigned tflags = (unsigned)flags | (match_only ? PCRE_TRANSLATE_MATCH_ONLY : 0);
	if (pcre_translate(pattern, tflags, tr, &error) != 0)
		return parse_fail(p, line, "%s", error);
	return compile(p, line, rule, str_cstr(&tr->ere), tr->cflags | nosub);
}

/* pcre: $N names PCRE's capturing group N: point each at the ERE group
 * that captures the same text. */
static int remap_subs(struct regexp_parser *p, int line, struct regexp_rule *rule,
                      const struct pcre_translation *tr)
{
	int max = 0;
	for (size_t i = 0; i < rule->part_count; i++) {
		struct regexp_part *part = &rule->parts[i];
		if (part->sub == 0)
			continue;
		int n = part->sub;
		part->sub = tr->group_map[n];
		if (part->sub > REGEXP_MAX_SUB)
			return parse_fail(
			    p, line,
			    "$%d is group %d once (?:...) groups are counted, beyond the "
			    "%d a look-up can use",
			    n, part->sub, REGEXP_MAX_SUB);
		if (part->sub > max)
			max = part->sub;
	}
	rule->max_sub = max;
	return 0;
}

static void add_part(struct regexp_rule *rule, size_t *cap, size_t offset, size_t len, int sub)
{
	if (sub == 0 && len == 0)
		return;
	if (rule->part_count == *cap) {
		*cap = *cap ? *cap * 2 : 4;
		rule->parts = xreallocarray(rule->parts, *cap, sizeof(*rule->parts));
	}
	rule->parts[rule->part_count++] = (struct regexp_part){offset, len, sub};
}

/* Split rule->result into literal text and $N references. */
static int parse_result(struct regexp_parser *p, int line, struct regexp_rule *rule)
{
	const char *r = rule->result;
	size_t cap = 0, literal = 0, i = 0;
	while (r[i] != '\0') {
		if (r[i] != '$') {
			i++;
			continue;
		}
		add_part(rule, &cap, literal, i - literal, 0);
		if (r[i + 1] == '$') {
			add_part(rule, &cap, i + 1, 1, 0);
			i += 2;
			literal = i;
			continue;
		}
		size_t name, name_len = 0, after;
		if (r[i + 1] == '{' || r[i + 1] == '(') {
			char close = r[i + 1] == '{' ? '}' : ')';
			name = i + 2;
			while (r[name + name_len] != '\0' && r[name + name_len] != close)
				name_len++;
			if (r[name + name_len] != close)
				return parse_fail(p, line, "no '%c' after \"$%c\" in the result",
				                  close, r[i + 1]);
			after = name + name_len + 1;
		} else {
			name = i + 1;
			while (is_alnum(r[name + name_len]) || r[name + name_len] == '_')
				name_len++;
			after = name + name_len;
		}
		if (name_len == 0)
			return parse_fail(p, line,
			                  "\"$\" in the result is not followed by a number, "
			                  "{number} or $ (write $$ for a $)");
		int n = 0;
		for (size_t k = 0; k < name_len; k++) {
			if (!is_digit(r[name + k]))
				return parse_fail(
				    p, line, "non-numeric replacement index \"%.*s\" in the result",
				    (int)(name_len > 40 ? 40 : name_len), r + name);
			if (n <= REGEXP_MAX_SUB)
				n = n * 10 + (r[name + k] - '0');
		}
		if (n < 1 || n > REGEXP_MAX_SUB)
			return parse_fail(p, line, "replacement index \"%.*s\" is out of range",
			                  (int)(name_len > 40 ? 40 : name_len), r + name);
		if (n > rule->max_sub)
			rule->max_sub = n;
		add_part(rule, &cap, 0, 0, n);
		i = after;
		literal = i;
	}
	add_part(rule, &cap, literal, i - literal, 0);
	return 0;
}

static struct regexp_rule *new_rule(struct table_regexp *t, int line)
{
	if (t->count == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->rules = xreallocarray(t->rules, t->cap, sizeof(*t->rules));
	}
	struct regexp_rule *rule = &t->rules[t->count];
	memset(rule, 0, sizeof(*rule));
	rule->line = line;
	return rule;
}

/* "if /pattern/flags": a rule whose skip_to its endif sets. */
static int parse_if(struct regexp_parser *p, int line, const char *s)
{
	struct regexp_rule *rule = new_rule(p->t, line);
	char *pattern;
	int cflags;
	if (parse_pattern(p, line, &s, rule, &pattern, &cflags) != 0)
		return -1;
	while (is_blank(*s))
		s++;
	int rc = -1;
	struct pcre_translation tr = {.group_map = NULL};
	if (*s != '\0')
		parse_fail(p, line, "text after the if pattern");
	else
		rc = compile_rule(p, line, rule, pattern, cflags, true, &tr);
	pcre_translation_free(&tr);
	free(pattern);
	if (rc != 0)
		return -1;
	rule->is_if = true;
	if (p->open_count == p->open_cap) {
		p->open_cap = p->open_cap ? p->open_cap * 2 : 8;
		p->open_ifs = xreallocarray(p->open_ifs, p->open_cap, sizeof(*p->open_ifs));
	}
	p->open_ifs[p->open_count++] = p->t->count++;
	return 0;
}

static int parse_endif(struct regexp_parser *p, int line, const char *s)
{
	while (is_blank(*s))
		s++;
	if (*s != '\0')
		return parse_fail(p, line, "text after endif");
	if (p->open_count == 0)
		return parse_fail(p, line, "endif without a matching if");
	p->t->rules[p->open_ifs[--p->open_count]].skip_to = p->t->count;
	return 0;
}

/* "/pattern/flags result" */
static int parse_match(struct regexp_parser *p, int line, const char *s)
{
	struct regexp_rule *rule = new_rule(p->t, line);
	char *pattern;
	int cflags;
	if (parse_pattern(p, line, &s, rule, &pattern, &cflags) != 0)
		return -1;
	while (is_blank(*s))
		s++;
	int rc = -1;
	if (*s == '\0') {
		parse_fail(p, line, "no result after the pattern");
	} else {
		rule->result = xstrdup(s);
		rc = parse_result(p, line, rule);
	}
	if (rc == 0 && rule->negate && rule->max_sub > 0) {
		rc = parse_fail(p, line, "$%d in the result of a negated pattern", rule->max_sub);
	}
	struct pcre_translation tr = {.group_map = NULL};
	if (rc == 0)
		rc = compile_rule(p, line, rule, pattern, cflags, rule->max_sub == 0, &tr);
	free(pattern);
	size_t groups = rc != 0 ? 0 : p->pcre ? (size_t)tr.capture_count : rule->re.re_nsub;
	if (rc == 0 && (size_t)rule->max_sub > groups) {
		parse_fail(p, line,
		           "replacement index $%d is out of range (the pattern has %zu "
		           "subexpressions)",
		           rule->max_sub, groups);
		regfree(&rule->re);
		rc = -1;
	}
	if (rc == 0 && p->pcre && remap_subs(p, line, rule, &tr) != 0) {
		regfree(&rule->re);
		rc = -1;
	}
	pcre_translation_free(&tr);
	if (rc != 0) {
		free(rule->result);
		free(rule->parts);
		return -1;
	}
	p->t->count++;
	return 0;
}

/* The keyword at s if it is word (any case) followed by a non-alphanumeric. */
static const char *keyword(const char *s, const char *word)
{
	size_t len = strlen(word);
	return strncasecmp(s, word, len) == 0 && !is_alnum(s[len]) ? s + len : NULL;
}

static int parse_logical_line(struct regexp_parser *p, int line, char *text, size_t len)
{
	while (len > 0 && is_blank(text[len - 1]))
		len--;
	text[len] = '\0';
	const char *rest;
	if (!is_alnum(text[0]))
		return parse_match(p, line, text);
	if ((rest = keyword(text, "if")) != NULL)
		return parse_if(p, line, rest);
	if ((rest = keyword(text, "endif")) != NULL)
		return parse_endif(p, line, rest);
	return parse_fail(p, line, "expected /pattern/ result, if /pattern/ or endif");
}

/* Split text into logical lines (a line starting with white space
 * continues the one before; blank and comment lines are skipped) and
 * parse each. */
static int parse_text(struct regexp_parser *p, const char *text, size_t len)
{
	struct str logical = STR_INIT;
	int logical_line = 0, number = 0, rc = 0;
	const char *pos = text, *end = text + len;
	while (rc == 0 && pos < end) {
		const char *nl = memchr(pos, '\n', (size_t)(end - pos));
		size_t line_len = nl ? (size_t)(nl - pos) : (size_t)(end - pos);
		const char *line = pos;
		pos += line_len + (nl ? 1 : 0);
		if (number < INT32_MAX)
			number++;
		if (line_len > 0 && line[line_len - 1] == '\r')
			line_len--;
		size_t skip = 0;
		while (skip < line_len && is_blank(line[skip]))
			skip++;
		if (skip == line_len || line[skip] == '#')
			continue;
		if (memchr(line, '\0', line_len) != NULL) {
			rc = parse_fail(p, number, "NUL character in line");
		} else if (skip > 0) {
			if (logical_line == 0)
				rc = parse_fail(p, number,
				                "line starts with white space but there "
				                "is no rule to continue");
			else
				str_append(&logical, line, line_len);
		} else {
			if (logical_line != 0)
				rc = parse_logical_line(p, logical_line, logical.data, logical.len);
			str_clear(&logical);
			str_append(&logical, line, line_len);
			logical_line = number;
		}
	}
	if (rc == 0 && logical_line != 0)
		rc = parse_logical_line(p, logical_line, logical.data, logical.len);
	if (rc == 0 && p->open_count > 0)
		rc = parse_fail(p, p->t->rules[p->open_ifs[p->open_count - 1]].line,
		                "if without a matching endif");
	str_free(&logical);
	return rc;
}

/* ---- The table ---- */

static void regexp_close(struct table *table)
{
	struct table_regexp *t = (struct table_regexp *)table;
	for (size_t i = 0; i < t->count; i++) {
		regfree(&t->rules[i].re);
		free(t->rules[i].result);
		free(t->rules[i].parts);
	}
	free(t->rules);
	free(t->path);
	free(t);
}

static void expand(const struct regexp_rule *rule, const char *key, const regmatch_t *match,
                   struct str *value)
{
	str_clear(value);
	for (size_t i = 0; i < rule->part_count; i++) {
		const struct regexp_part *part = &rule->parts[i];
		if (part->sub == 0)
			str_append(value, rule->result + part->offset, part->len);
		else if (match[part->sub].rm_so >= 0)
			str_append(value, key + match[part->sub].rm_so,
			           (size_t)(match[part->sub].rm_eo - match[part->sub].rm_so));
	}
}

static int regexp_lookup(struct table *table, const char *key, size_t key_len, struct str *value)
{
	struct table_regexp *t = (struct table_regexp *)table;
	regmatch_t match[REGEXP_MAX_SUB + 1];
	(void)key_len;
	size_t i = 0;
	while (i < t->count) {
		const struct regexp_rule *rule = &t->rules[i];
		size_t nmatch = rule->max_sub > 0 ? (size_t)rule->max_sub + 1 : 0;
		int rc = regexec(&rule->re, key, nmatch, nmatch > 0 ? match : NULL, 0);
		if (rc != 0 && rc != REG_NOMATCH) {
			char text[200];
			regerror(rc, &rule->re, text, sizeof(text));
			return table_set_error(table, "%s, line %d: %s", t->path, rule->line, text);
		}
		bool matched = (rc == 0) != rule->negate;
		if (rule->is_if) {
			i = matched ? i + 1 : rule->skip_to;
		} else if (matched) {
			expand(rule, key, match, value);
			return 1;
		} else {
			i++;
		}
	}
	return 0;
}

static const struct table_vfuncs regexp_vfuncs = {
    .type = "regexp",
    .lookup = regexp_lookup,
    .close = regexp_close,
};

static const struct table_vfuncs pcre_vfuncs = {
    .type = "pcre",
    .lookup = regexp_lookup,
    .close = regexp_close,
};

/* The whole file in text; 0 or -1 with errno. */
static int read_file(const char *path, struct str *text)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	for (;;) {
		str_reserve(text, 4096);
		ssize_t n = read(fd, text->data + text->len, text->cap - text->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int saved = errno;
			close(fd);
			errno = saved;
			return n < 0 ? -1 : 0;
		}
		text->len += (size_t)n;
		text->data[text->len] = '\0';
	}
}

static struct table *regexp_open(const char *path, bool pcre, const char **error_r)
{
	struct str text = STR_INIT;
	if (read_file(path, &text) != 0) {
		snprintf(regexp_error, sizeof(regexp_error), "open %s: %s", path, strerror(errno));
		*error_r = regexp_error;
		str_free(&text);
		return NULL;
	}
	struct table_regexp *t = xcalloc(1, sizeof(*t));
	t->table.v = pcre ? &pcre_vfuncs : &regexp_vfuncs;
	t->path = xstrdup(path);
	struct regexp_parser p = {.t = t, .path = path, .pcre = pcre};
	int rc = parse_text(&p, text.data != NULL ? text.data : "", text.len);
	free(p.open_ifs);
	str_free(&text);
	if (rc != 0) {
		*error_r = p.error;
		regexp_close(&t->table);
		return NULL;
	}
	return &t->table;
}

struct table *table_regexp_open(const char *path, const char **error_r)
{
	return regexp_open(path, false, error_r);
}

struct table *table_pcre_open(const char *path, const char **error_r)
{
	return regexp_open(path, true, error_r);
}

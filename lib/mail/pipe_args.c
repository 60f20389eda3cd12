/*
 * The pipe agent's master.conf arguments and argv macros (pipe_args.h).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "conf/params.h"
#include "mail/extension.h"
#include "mail/pipe_args.h"
#include "smtp/address.h"
#include "util/alloc.h"
#include "util/var_expand.h"

static const struct {
	char letter;
	unsigned flag;
} flag_letters[] = {
    {'B', PIPE_FLAG_BLANK},       {'D', PIPE_FLAG_DELIVERED_TO}, {'F', PIPE_FLAG_FROM_LINE},
    {'O', PIPE_FLAG_ORIGINAL_TO}, {'R', PIPE_FLAG_RETURN_PATH},  {'X', PIPE_FLAG_FINAL},
    {'h', PIPE_FLAG_FOLD_HOST},   {'q', PIPE_FLAG_QUOTE},        {'u', PIPE_FLAG_FOLD_USER},
    {'.', PIPE_FLAG_DOT_STUFF},   {'>', PIPE_FLAG_QUOTE_FROM},
};

/* The macros, and which are per recipient. */
static const struct {
	const char *name;
	bool per_recipient;
} macros[] = {
    {"client_address", false},
    {"client_helo", false},
    {"client_hostname", false},
    {"client_port", false},
    {"client_protocol", false},
    {"domain", true},
    {"extension", true},
    {"mailbox", true},
    {"nexthop", false},
    {"original_recipient", true},
    {"queue_id", false},
    {"recipient", true},
    {"sasl_method", false},
    {"sasl_sender", false},
    {"sasl_username", false},
    {"sender", false},
    {"size", false},
    {"user", true},
};

static int parse_flags(const char *value, unsigned *flags_r, struct str *error)
{
	for (const char *p = value; *p; p++) {
		size_t k = 0;
		while (k < sizeof(flag_letters) / sizeof(flag_letters[0]) &&
		       flag_letters[k].letter != *p)
			k++;
		if (k == sizeof(flag_letters) / sizeof(flag_letters[0])) {
			str_printf(error, "flags=%s: unknown flag '%c' (known: BDFORXhqu.>)", value,
			           *p);
			return -1;
		}
		*flags_r |= flag_letters[k].flag;
	}
	return 0;
}

/* eol= with its C escapes decoded. */
static int parse_eol(const char *value, char **eol_r, struct str *error)
{
	struct str out = STR_INIT;
	for (const char *p = value; *p; p++) {
		if (*p != '\\') {
			str_append_char(&out, *p);
			continue;
		}
		p++;
		if (*p >= '0' && *p <= '7') {
			int v = 0;
			for (int i = 0; i < 3 && *p >= '0' && *p <= '7'; i++, p++)
				v = v * 8 + (*p - '0');
			p--;
			if (v == 0 || v > 255) {
				str_printf(error, "eol=%s: bad octal escape", value);
				str_free(&out);
				return -1;
			}
			str_append_char(&out, (char)v);
			continue;
		}
		static const char from[] = "rntab\\fv", to[] = "\r\n\t\a\b\\\f\v";
		const char *k = *p ? strchr(from, *p) : NULL;
		if (k == NULL) {
			str_printf(error, "eol=%s: unknown escape", value);
			str_free(&out);
			return -1;
		}
		str_append_char(&out, to[k - from]);
	}
	if (out.len == 0) {
		str_printf(error, "eol=%s: empty", value);
		str_free(&out);
		return -1;
	}
	*eol_r = str_steal(&out);
	return 0;
}

/* A lookup for checking argv at parse time: every macro is known. */
static void check_lookup(struct var_expansion *x, const char *name, size_t len, struct str *out)
{
	(void)out;
	for (size_t i = 0; i < sizeof(macros) / sizeof(macros[0]); i++)
		if (strlen(macros[i].name) == len && memcmp(macros[i].name, name, len) == 0)
			return;
	var_expand_unknown(x, name, len);
}

static int check_argv(const struct pipe_args *pa, struct str *error)
{
	for (size_t i = 0; i < pa->argc; i++) {
		struct var_expansion x;
		struct str out = STR_INIT;
		var_expansion_init(&x, check_lookup, NULL);
		var_expand(&x, pa->argv[i], strlen(pa->argv[i]), &out);
		if (x.failed) {
			const char *why = str_cstr(&x.error);
			if (strncmp(why, "unknown variable $", 18) == 0)
				str_printf(error, "argv: unknown macro ${%s} in \"%s\"", why + 18,
				           pa->argv[i]);
			else
				str_printf(error, "argv: \"%s\": %s", pa->argv[i], why);
		}
		bool failed = x.failed;
		var_expansion_free(&x);
		str_free(&out);
		if (failed)
			return -1;
	}
	return 0;
}

static int set_once(char **field, const char *name, const char *value, struct str *error)
{
	if (*field != NULL) {
		str_printf(error, "%s= given twice", name);
		return -1;
	}
	*field = xstrdup(value);
	return 0;
}

int pipe_args_parse(char *const *args, size_t argc, struct pipe_args *pa, struct str *error)
{
	*pa = (struct pipe_args){0};
	char *size = NULL;
	int rc = 0;
	size_t i = 0;
	for (; rc == 0 && i < argc; i++) {
		const char *a = args[i];
		const char *eq = strchr(a, '=');
		if (strncmp(a, "argv=", 5) == 0)
			break;
		if (eq == NULL) {
			str_printf(error, "\"%s\": expected name=value (argv= comes last)", a);
			rc = -1;
		} else if (strncmp(a, "flags=", 6) == 0) {
			rc = parse_flags(eq + 1, &pa->flags, error);
		} else if (strncmp(a, "user=", 5) == 0) {
			rc = set_once(&pa->user, "user", eq + 1, error);
		} else if (strncmp(a, "size=", 5) == 0) {
			rc = set_once(&size, "size", eq + 1, error);
		} else if (strncmp(a, "eol=", 4) == 0) {
			rc = pa->eol ? (str_printf(error, "eol= given twice"), -1)
			             : parse_eol(eq + 1, &pa->eol, error);
		} else if (strncmp(a, "directory=", 10) == 0) {
			rc = set_once(&pa->directory, "directory", eq + 1, error);
		} else if (strncmp(a, "null_sender=", 12) == 0) {
			rc = set_once(&pa->null_sender, "null_sender", eq + 1, error);
		} else {
			str_printf(error, "unknown attribute \"%.*s\"", (int)(eq - a), a);
			rc = -1;
		}
	}
	if (rc == 0 && i < argc) {
		const char *first = args[i] + 5;
		pa->argv = xcalloc(argc - i + 1, sizeof(char *));
		if (*first)
			pa->argv[pa->argc++] = xstrdup(first);
		for (i++; i < argc; i++)
			pa->argv[pa->argc++] = xstrdup(args[i]);
	}
	if (rc == 0 && pa->argc == 0) {
		str_printf(error, "argv= missing or empty: no command to run");
		rc = -1;
	}
	if (rc == 0 && (pa->user == NULL || pa->user[0] == '\0' || pa->user[0] == ':')) {
		str_printf(error, "user= missing: the command needs a user to run as");
		rc = -1;
	}
	if (rc == 0 && size != NULL) {
		const char *why;
		if (param_parse_size(size, &pa->size_limit, &why) != 0) {
			str_printf(error, "size=%s: %s", size, why);
			rc = -1;
		}
	}
	if (rc == 0 && pa->directory != NULL && pa->directory[0] != '/') {
		str_printf(error, "directory=%s: not an absolute path", pa->directory);
		rc = -1;
	}
	if (rc == 0)
		rc = check_argv(pa, error);
	free(size);
	if (rc != 0) {
		pipe_args_free(pa);
		return -1;
	}
	if (pa->eol == NULL)
		pa->eol = xstrdup("\n");
	if (pa->null_sender == NULL)
		pa->null_sender = xstrdup("MAILER-DAEMON");
	return 0;
}

void pipe_args_free(struct pipe_args *pa)
{
	free(pa->user);
	for (size_t i = 0; i < pa->argc; i++)
		free(pa->argv[i]);
	free(pa->argv);
	free(pa->eol);
	free(pa->directory);
	free(pa->null_sender);
	*pa = (struct pipe_args){0};
}

static void fold(char *s, size_t len)
{
	for (size_t i = 0; i < len && s[i]; i++)
		s[i] = (char)tolower((unsigned char)s[i]);
}

/* address under the h, u and q flags, as a fresh string. */
static char *address_form(const char *address, unsigned flags)
{
	const char *at = strrchr(address, '@');
	size_t local_len = at ? (size_t)(at - address) : strlen(address);
	struct str out = STR_INIT;
	char *local = xstrndup(address, local_len);
	if (flags & PIPE_FLAG_FOLD_USER)
		fold(local, local_len);
	if (flags & PIPE_FLAG_QUOTE)
		address_quote_local(local, local_len, &out);
	else
		str_append(&out, local, local_len);
	free(local);
	if (at) {
		size_t start = out.len;
		str_append_cstr(&out, at);
		if (flags & PIPE_FLAG_FOLD_HOST)
			fold(out.data + start, out.len - start);
	}
	return str_steal(&out);
}

void pipe_recipient_values(const char *address, const char *original, const char *delimiters,
                           unsigned flags, struct pipe_recipient_values *rv)
{
	rv->recipient = address_form(address, flags);
	rv->original_recipient = address_form(original ? original : address, flags);
	const char *at = strrchr(address, '@');
	size_t local_len = at ? (size_t)(at - address) : strlen(address);
	rv->mailbox = xstrndup(address, local_len);
	rv->domain = xstrdup(at ? at + 1 : "");
	if (flags & PIPE_FLAG_FOLD_USER)
		fold(rv->mailbox, local_len);
	if (flags & PIPE_FLAG_FOLD_HOST)
		fold(rv->domain, strlen(rv->domain));
	size_t base = extension_base_len(rv->mailbox, local_len, delimiters);
	rv->user = xstrndup(rv->mailbox, base);
	rv->extension = xstrdup(base < local_len ? rv->mailbox + base + 1 : "");
	if (flags & PIPE_FLAG_QUOTE) {
		struct str q = STR_INIT;
		address_quote_local(rv->user, strlen(rv->user), &q);
		free(rv->user);
		rv->user = str_steal(&q);
		address_quote_local(rv->mailbox, strlen(rv->mailbox), &q);
		free(rv->mailbox);
		rv->mailbox = str_steal(&q);
	}
}

void pipe_recipient_values_free(struct pipe_recipient_values *rv)
{
	free(rv->recipient);
	free(rv->original_recipient);
	free(rv->mailbox);
	free(rv->user);
	free(rv->extension);
	free(rv->domain);
}

struct expand_ctx {
	const struct pipe_args *pa;
	const struct pipe_message_values *mv;
	const struct pipe_recipient_values *rv; /* NULL: none yet */
	bool per_recipient;                     /* a per-recipient macro was used */
};

static const char *message_value(const struct expand_ctx *c, const char *name)
{
	const struct pipe_message_values *mv = c->mv;
	const struct {
		const char *name;
		const char *value;
	} values[] = {
	    {"client_address", mv->client_address},
	    {"client_helo", mv->client_helo},
	    {"client_hostname", mv->client_hostname},
	    {"client_port", mv->client_port},
	    {"client_protocol", mv->client_protocol},
	    {"nexthop", mv->nexthop},
	    {"queue_id", mv->queue_id},
	    {"sasl_method", mv->sasl_method},
	    {"sasl_sender", mv->sasl_sender},
	    {"sasl_username", mv->sasl_username},
	    {"size", mv->size},
	};
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
		if (strcmp(values[i].name, name) == 0)
			return values[i].value ? values[i].value : "";
	return NULL;
}

static void expand_lookup(struct var_expansion *x, const char *name, size_t len, struct str *out)
{
	struct expand_ctx *c = x->context;
	char key[32];
	if (len >= sizeof(key)) {
		var_expand_unknown(x, name, len);
		return;
	}
	memcpy(key, name, len);
	key[len] = '\0';
	const struct pipe_recipient_values *rv = c->rv;
	const char *value = NULL;
	char *owned = NULL;
	if (strcmp(key, "sender") == 0) {
		const char *s = c->mv->sender ? c->mv->sender : "";
		value = *s ? (owned = address_form(s, c->pa->flags & PIPE_FLAG_QUOTE))
		           : c->pa->null_sender;
	} else if (strcmp(key, "nexthop") == 0 && (c->pa->flags & PIPE_FLAG_FOLD_HOST)) {
		owned = xstrdup(c->mv->nexthop ? c->mv->nexthop : "");
		fold(owned, strlen(owned));
		value = owned;
	} else if ((value = message_value(c, key)) == NULL) {
		const char *const per[] = {"recipient", "original_recipient", "mailbox",
		                           "user",      "extension",          "domain"};
		size_t k = 0;
		while (k < sizeof(per) / sizeof(per[0]) && strcmp(per[k], key) != 0)
			k++;
		if (k == sizeof(per) / sizeof(per[0])) {
			var_expand_unknown(x, name, len);
			return;
		}
		c->per_recipient = true;
		const char *const vals[] = {
		    rv ? rv->recipient : "", rv ? rv->original_recipient : "",
		    rv ? rv->mailbox : "",   rv ? rv->user : "",
		    rv ? rv->extension : "", rv ? rv->domain : "",
		};
		value = vals[k];
	}
	var_expand_emit(x, out, value, strlen(value));
	free(owned);
}

/* One expansion of arg; -1 with error on failure. */
static int expand_one(struct expand_ctx *c, const char *arg, struct str *out, struct str *error)
{
	struct var_expansion x;
	var_expansion_init(&x, expand_lookup, c);
	str_clear(out);
	var_expand(&x, arg, strlen(arg), out);
	int rc = 0;
	if (x.failed) {
		str_printf(error, "argv: \"%s\": %s", arg, str_cstr(&x.error));
		rc = -1;
	}
	var_expansion_free(&x);
	return rc;
}

int pipe_argv_expand(const struct pipe_args *pa, const struct pipe_message_values *mv,
                     const struct pipe_recipient_values *rcpts, size_t count, char ***argv_r,
                     struct str *error)
{
	struct expand_ctx c = {.pa = pa, .mv = mv, .rv = count ? &rcpts[0] : NULL};
	char **argv = NULL;
	size_t n = 0;
	struct str out = STR_INIT;
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < pa->argc; i++) {
		c.per_recipient = false;
		c.rv = count ? &rcpts[0] : NULL;
		if ((rc = expand_one(&c, pa->argv[i], &out, error)) != 0)
			break;
		size_t copies = c.per_recipient ? count : 1;
		argv = xreallocarray(argv, n + copies + 1, sizeof(char *));
		if (copies > 0)
			argv[n++] = xstrdup(str_cstr(&out));
		for (size_t r = 1; rc == 0 && r < copies; r++) {
			c.rv = &rcpts[r];
			if ((rc = expand_one(&c, pa->argv[i], &out, error)) == 0)
				argv[n++] = xstrdup(str_cstr(&out));
		}
	}
	str_free(&out);
	if (rc != 0 || n == 0) {
		if (rc == 0)
			str_printf(error, "argv: no command left after expansion");
		for (size_t i = 0; i < n; i++)
			free(argv[i]);
		free(argv);
		return -1;
	}
	argv[n] = NULL;
	*argv_r = argv;
	return 0;
}

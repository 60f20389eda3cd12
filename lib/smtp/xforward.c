/*
 * XFORWARD (Postfix's XFORWARD_README): the server's command parser, the
 * client's EHLO keyword parser and command builder.
 */
#include "smtp/xforward.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp/address.h"
#include "smtp/xtext.h"
#include "util/alloc.h"
#include "util/str.h"

static const char *const attr_names[XFORWARD_ATTR_COUNT] = {
    "NAME", "ADDR", "PORT", "PROTO", "HELO", "IDENT", "SOURCE", "LOGIN",
};

#define UNAVAILABLE "[UNAVAILABLE]"
#define TEMPUNAVAIL "[TEMPUNAVAIL]"
#define PROTO_MAX 64

const char *xforward_attr_name(unsigned i)
{
	return i < XFORWARD_ATTR_COUNT ? attr_names[i] : NULL;
}

unsigned xforward_attr_lookup(const char *name, size_t len)
{
	for (unsigned i = 0; i < XFORWARD_ATTR_COUNT; i++)
		if (strlen(attr_names[i]) == len && strncasecmp(name, attr_names[i], len) == 0)
			return 1u << i;
	return 0;
}

static unsigned slot_of(unsigned attr)
{
	unsigned i = 0;
	while (i < XFORWARD_ATTR_COUNT && attr != (1u << i))
		i++;
	return i;
}

void xforward_attrs_init(struct xforward_attrs *a)
{
	memset(a, 0, sizeof(*a));
}

void xforward_attrs_free(struct xforward_attrs *a)
{
	for (unsigned i = 0; i < XFORWARD_ATTR_COUNT; i++)
		free(a->value[i]);
	xforward_attrs_init(a);
}

const char *xforward_attrs_get(const struct xforward_attrs *a, unsigned attr)
{
	unsigned i = slot_of(attr);
	return i < XFORWARD_ATTR_COUNT && (a->given & attr) ? a->value[i] : NULL;
}

static void attrs_set(struct xforward_attrs *a, unsigned attr, char *value)
{
	unsigned i = slot_of(attr);
	free(a->value[i]);
	a->value[i] = value;
	a->given |= attr;
}

void xforward_attrs_merge(struct xforward_attrs *dst, struct xforward_attrs *src)
{
	for (unsigned i = 0; i < XFORWARD_ATTR_COUNT; i++) {
		if (src->given & (1u << i)) {
			attrs_set(dst, 1u << i, src->value[i]);
			src->value[i] = NULL;
		}
	}
	xforward_attrs_free(src);
}

/* Non-printable or non-ASCII bytes become '?', and so do the characters
 * in neuter (as Postfix's printable() and neuter()). */
static void censor(char *text, const char *neuter)
{
	for (unsigned char *c = (unsigned char *)text; *c; c++)
		if (*c < 0x20 || *c >= 0x7F || (neuter && strchr(neuter, *c)))
			*c = '?';
}

static const char neuter_chars[] = " <>()\\\";@";

static bool is_unavailable(const char *value)
{
	return strcasecmp(value, UNAVAILABLE) == 0 || strcasecmp(value, TEMPUNAVAIL) == 0;
}

/* An IPv4 or IPv6 address ("IPv6:" prefix allowed): the bare address
 * (malloc'd), or NULL. */
static char *address_value(const char *value)
{
	if (strncasecmp(value, "IPv6:", 5) == 0) {
		struct in6_addr a6;
		return inet_pton(AF_INET6, value + 5, &a6) == 1 ? xstrdup(value + 5) : NULL;
	}
	struct in_addr a4;
	struct in6_addr a6;
	if (inet_pton(AF_INET, value, &a4) == 1 || inet_pton(AF_INET6, value, &a6) == 1)
		return xstrdup(value);
	return NULL;
}

static bool port_ok(const char *value)
{
	size_t len = strlen(value);
	if (len == 0 || len > 5 || strspn(value, "0123456789") != len)
		return false;
	return atol(value) <= 65535;
}

/* The stored form of a censored, available value of attr; NULL if it is
 * not valid. */
static char *attr_value(unsigned attr, const char *value)
{
	size_t len = strlen(value);
	switch (attr) {
	case XFORWARD_NAME:
		/* A host name, not necessarily in the DNS; no address literal. */
		return value[0] != '[' && helo_syntax_ok(value, len, true) ? xstrdup(value) : NULL;
	case XFORWARD_ADDR:
		return address_value(value);
	case XFORWARD_PORT:
		return port_ok(value) ? xstrdup(value) : NULL;
	case XFORWARD_PROTO:
		return len <= PROTO_MAX ? xstrdup(value) : NULL;
	case XFORWARD_SOURCE:
		if (strcasecmp(value, "LOCAL") == 0)
			return xstrdup("LOCAL");
		if (strcasecmp(value, "REMOTE") == 0)
			return xstrdup("REMOTE");
		return NULL;
	default: /* HELO, IDENT, LOGIN: any (censored) text */
		return xstrdup(value);
	}
}

static int parse_fail(struct xforward_attrs *out, char **error_r, char *error)
{
	xforward_attrs_free(out);
	*error_r = error;
	return -1;
}

int xforward_parse(const char *arg, struct xforward_attrs *out, char **error_r)
{
	xforward_attrs_init(out);
	struct str value = STR_INIT;
	const char *p = arg;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		size_t len = strcspn(p, " \t");
		const char *eq = memchr(p, '=', len);
		if (eq == NULL || eq + 1 == p + len) {
			str_free(&value);
			return parse_fail(out, error_r, xstrdup("Error: attribute=value expected"));
		}
		const char *raw = eq + 1;
		size_t raw_len = (size_t)(p + len - raw);
		if (raw_len > XFORWARD_VALUE_MAX) {
			str_free(&value);
			return parse_fail(out, error_r, xstrdup("Error: attribute value too long"));
		}
		unsigned attr = xforward_attr_lookup(p, (size_t)(eq - p));
		if (attr == 0) {
			char *name = xstrndup(p, (size_t)(eq - p));
			censor(name, NULL);
			char *error = xasprintf("Bad XFORWARD attribute name: %s", name);
			free(name);
			str_free(&value);
			return parse_fail(out, error_r, error);
		}
		str_clear(&value);
		const char *ignored;
		if (xtext_decode(raw, raw_len, &value, &ignored) != 0) {
			str_clear(&value);
			str_append(&value, raw, raw_len);
		}
		char *text = str_steal(&value);
		censor(text, attr == XFORWARD_LOGIN ? NULL : neuter_chars);
		char *stored;
		if (is_unavailable(text))
			stored = xstrdup(attr == XFORWARD_SOURCE ? "LOCAL" : "");
		else
			stored = attr_value(attr, text);
		if (stored == NULL) {
			char *error =
			    xasprintf("Bad %s syntax: %s", xforward_attr_name(slot_of(attr)), text);
			free(text);
			return parse_fail(out, error_r, error);
		}
		free(text);
		attrs_set(out, attr, stored);
		p += len;
	}
	str_free(&value);
	if (out->given == 0)
		return parse_fail(out, error_r, xstrdup("Syntax: XFORWARD attribute=value..."));
	return 0;
}

unsigned xforward_keywords_parse(const char *args, size_t len)
{
	unsigned attrs = 0;
	size_t i = 0;
	while (i < len) {
		while (i < len && (args[i] == ' ' || args[i] == '\t'))
			i++;
		size_t start = i;
		while (i < len && args[i] != ' ' && args[i] != '\t')
			i++;
		if (i > start)
			attrs |= xforward_attr_lookup(args + start, i - start);
	}
	return attrs;
}

char **xforward_commands(const char *const values[XFORWARD_ATTR_COUNT], unsigned attrs)
{
	char **lines = xcalloc(XFORWARD_ATTR_COUNT + 1, sizeof(*lines));
	size_t count = 0;
	struct str line = STR_INIT, enc = STR_INIT;
	for (unsigned i = 0; i < XFORWARD_ATTR_COUNT; i++) {
		if (!(attrs & (1u << i)))
			continue;
		str_clear(&enc);
		const char *v = values[i];
		if (v != NULL && *v != '\0')
			xtext_encode(v, strlen(v), &enc);
		if (enc.len == 0 || enc.len > XFORWARD_VALUE_MAX)
			str_set(&enc, UNAVAILABLE);
		size_t item = 1 + strlen(attr_names[i]) + 1 + enc.len;
		if (line.len > 0 && line.len + item + 2 > XFORWARD_LINE_MAX)
			lines[count++] = str_steal(&line);
		if (line.len == 0)
			str_append_cstr(&line, "XFORWARD");
		str_printf(&line, " %s=%s", attr_names[i], str_cstr(&enc));
	}
	if (line.len > 0)
		lines[count++] = str_steal(&line);
	str_free(&line);
	str_free(&enc);
	return lines;
}

void xforward_commands_free(char **lines)
{
	for (char **l = lines; l && *l; l++)
		free(*l);
	free(lines);
}

/*
 * Growable byte strings with a guaranteed trailing NUL.
 */
#include "util/str.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/alloc.h"

void str_init(struct str *s)
{
	s->data = NULL;
	s->len = 0;
	s->cap = 0;
}

void str_free(struct str *s)
{
	free(s->data);
	str_init(s);
}

void str_reserve(struct str *s, size_t extra)
{
	size_t need = s->len + extra + 1;
	if (need < s->len)
		need = (size_t)-1; /* overflow: let the allocator fail */
	if (need <= s->cap)
		return;
	size_t cap = s->cap ? s->cap : 64;
	while (cap < need && cap < ((size_t)-1) / 2)
		cap *= 2;
	if (cap < need)
		cap = need;
	s->data = xrealloc(s->data, cap);
	s->cap = cap;
}

void str_clear(struct str *s)
{
	s->len = 0;
	if (s->data)
		s->data[0] = '\0';
}

void str_truncate(struct str *s, size_t len)
{
	if (len < s->len) {
		s->len = len;
		s->data[len] = '\0';
	}
}

void str_append(struct str *s, const void *data, size_t len)
{
	str_reserve(s, len);
	if (len)
		memcpy(s->data + s->len, data, len);
	s->len += len;
	s->data[s->len] = '\0';
}

void str_append_cstr(struct str *s, const char *cstr)
{
	str_append(s, cstr, strlen(cstr));
}

void str_append_char(struct str *s, char c)
{
	str_append(s, &c, 1);
}

void str_vprintf(struct str *s, const char *fmt, va_list ap)
{
	va_list copy;
	va_copy(copy, ap);
	int n = vsnprintf(NULL, 0, fmt, copy);
	va_end(copy);
	if (n < 0)
		return;
	str_reserve(s, (size_t)n);
	vsnprintf(s->data + s->len, (size_t)n + 1, fmt, ap);
	s->len += (size_t)n;
}

void str_printf(struct str *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	str_vprintf(s, fmt, ap);
	va_end(ap);
}

void str_set(struct str *s, const char *cstr)
{
	str_clear(s);
	str_append_cstr(s, cstr);
}

void str_consume(struct str *s, size_t n)
{
	if (n >= s->len) {
		str_clear(s);
		return;
	}
	memmove(s->data, s->data + n, s->len - n);
	s->len -= n;
	s->data[s->len] = '\0';
}

char *str_steal(struct str *s)
{
	char *p = s->data ? s->data : xstrdup("");
	str_init(s);
	return p;
}

const char *str_cstr(const struct str *s)
{
	return s->data ? s->data : "";
}

bool str_equal_cstr(const struct str *s, const char *cstr)
{
	size_t n = strlen(cstr);
	return n == s->len && (n == 0 || memcmp(s->data, cstr, n) == 0);
}

char *str_lower_dup(const char *text)
{
	char *copy = xstrdup(text);
	for (char *p = copy; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return copy;
}

bool str_list_contains_nocase(char *const *list, const char *word)
{
	for (size_t i = 0; list && list[i]; i++)
		if (strcasecmp(list[i], word) == 0)
			return true;
	return false;
}

/*
 * Growable byte strings. A struct str always holds a NUL after its data, so
 * str_cstr() can be handed to C string functions; the data itself may
 * contain NUL bytes. Growth never fails (see alloc.h).
 */
#ifndef POSTERN_UTIL_STR_H
#define POSTERN_UTIL_STR_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct str {
	char *data;
	size_t len;
	size_t cap;
};

#define STR_INIT                                                                                   \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}

void str_init(struct str *s);
void str_free(struct str *s);
/* Make room for at least extra more bytes. */
void str_reserve(struct str *s, size_t extra);
void str_clear(struct str *s);
void str_truncate(struct str *s, size_t len);
void str_append(struct str *s, const void *data, size_t len);
void str_append_cstr(struct str *s, const char *cstr);
void str_append_char(struct str *s, char c);
void str_printf(struct str *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void str_vprintf(struct str *s, const char *fmt, va_list ap);
void str_set(struct str *s, const char *cstr);
/* Drop the first n bytes. */
void str_consume(struct str *s, size_t n);
/* Hand the buffer to the caller (never NULL); s becomes empty. */
char *str_steal(struct str *s);
const char *str_cstr(const struct str *s);
bool str_equal_cstr(const struct str *s, const char *cstr);

/* Whether the NULL-terminated word list (NULL: empty) holds word, ignoring
 * ASCII case (domains, parameter lists). */
bool str_list_contains_nocase(char *const *list, const char *word);

/* A malloc'd copy of text in ASCII lower case (addresses, domains, table
 * keys). */
char *str_lower_dup(const char *text);

#endif

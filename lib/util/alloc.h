/*
 * Allocation wrappers that never return NULL: on exhaustion they log and
 * abort, so callers never write a NULL check for memory.
 */
#ifndef POSTERN_UTIL_ALLOC_H
#define POSTERN_UTIL_ALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *ptr, size_t size);
/* Grow an array of count elements of size bytes each; overflow aborts. */
void *xreallocarray(void *ptr, size_t count, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t len);
void *xmemdup(const void *p, size_t len);
/* printf into a fresh string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif

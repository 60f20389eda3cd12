/*
 * Network address lists (mynetworks): "127.0.0.0/8", "[::1]/128", "::1",
 * "192.0.2.1", "[2001:db8::]/32"; matching a client address against them.
 */
#ifndef POSTERN_UTIL_CIDR_H
#define POSTERN_UTIL_CIDR_H

#include <stdbool.h>
#include <stddef.h>

struct cidr_list;

/* Parse every word; on a bad one return NULL with *bad_r set to it (malloc'd). */
struct cidr_list *cidr_list_parse(char *const *words, char **bad_r);
void cidr_list_free(struct cidr_list *list);
/* Does the printable address (v4, v6 or v4-mapped v6) fall in the list? */
bool cidr_list_match(const struct cidr_list *list, const char *addr);

#endif

/*
 * RFC 5322 address lists in header field bodies (From:, To:, Cc: ...),
 * read so that they can be rewritten in place: the parser finds where the
 * addr-spec of each mailbox lies in the raw text, and a rewrite replaces
 * those bytes only. Display names, comments, groups ("team: a@x, b@y;",
 * "undisclosed-recipients:;"), quoted strings (with commas or "@" in
 * them), folding white space and 8-bit (UTF-8, RFC 6532) text stay as
 * they are. Postfix's relaxations are taken: a bare local part ("root")
 * is an addr-spec, and a source route in angle brackets (<@a,@b:u@c>) is
 * skipped, only the addr-spec after it being rewritten. Text that is not
 * an address list (an unterminated quoted string, comment or "<", junk
 * after ">", a stray ")", a nested group, a NUL byte ...) yields nothing,
 * so the field goes on unchanged. Pure functions over bytes, for
 * untrusted input.
 */
#ifndef POSTERN_MAIL_ADDR_LIST_H
#define POSTERN_MAIL_ADDR_LIST_H

#include <stddef.h>

#include "util/str.h"

/* Where one addr-spec lies in the text: bytes [start, end), from its
 * first token to its last (comments and white space around it are
 * outside; those within it are inside). */
struct addr_list_span {
	size_t start, end;
};

/* The addr-specs of the mailboxes in text[0..len), in order (the null
 * address "<>" has none). 0 with *spans_r (malloc'd, NULL when
 * *count_r is 0), or -1 (nothing returned) when text is not an address
 * list. */
int addr_list_parse(const char *text, size_t len, struct addr_list_span **spans_r, size_t *count_r);

/* Append the addr-spec of span (found in text by addr_list_parse) to
 * out as one string: its tokens without the comments and white space
 * between them ("john . doe (x) @ example.com" gives
 * "john.doe@example.com"). Quoted strings stay quoted. */
void addr_list_spec(const char *text, const struct addr_list_span *span, struct str *out);

/* What a rewrite does with one addr-spec (as addr_list_spec gives it): 1
 * with its replacement in *replacement (empty on entry; appended text
 * goes in as it is, so it must be a valid addr-spec), 0 to keep it, -1
 * to stop the rewrite (a failed look-up). */
typedef int addr_list_map_fn(void *ctx, const char *spec, struct str *replacement);

/* Rewrite the addr-specs of the address list text[0..len) with map.
 * Returns 1 with the new text appended to out when map replaced one of
 * them, 0 when nothing changed (or the text is not an address list: map
 * is not called) with out untouched, -1 when map failed. */
int addr_list_rewrite(const char *text, size_t len, addr_list_map_fn *map, void *ctx,
                      struct str *out);

#endif

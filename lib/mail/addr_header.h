/*
 * The address fields of a message's header section rewritten: on the way
 * out (smtp_generic_maps), and as mail is received (canonical_maps and
 * masquerade_domains, lib/mail/canonical.h). The fields Postfix knows to hold sender or
 * recipient addresses (its header_opts list: From, Sender, Reply-To, To,
 * Cc, Bcc, Resent-From/-Sender/-To/-Cc/-Bcc/-Reply-To, Return-Path,
 * Return-Receipt-To, Errors-To, Disposition-Notification-To,
 * Mail-Followup-To, Apparently-To) have their addr-specs rewritten in
 * place by lib/mail/addr_list.h; every other byte of the section, and of
 * those fields, stays as it is. A rewritten field whose line grew over
 * 998 bytes (RFC 5322 2.1.1) is folded again before white space; nothing
 * else is refolded. Only the top-level header section is looked at, as
 * Postfix does: not the headers of MIME parts or attached messages. The
 * section ends at an empty line, or at the first line that is neither a
 * field nor the continuation of one (where the body then starts). Pure
 * functions over bytes.
 */
#ifndef POSTERN_MAIL_ADDR_HEADER_H
#define POSTERN_MAIL_ADDR_HEADER_H

#include <stdbool.h>
#include <stddef.h>

#include "mail/addr_list.h"
#include "util/str.h"

/* The longest line RFC 5322 allows, without its CRLF. */
#define ADDR_HEADER_LINE_MAX 998

/* The two kinds of address field, as Postfix tells them apart (its
 * HDR_OPT_SENDER and HDR_OPT_RECIP): sender fields are From, Sender,
 * Reply-To, Resent-From, Resent-Sender, Return-Path, Return-Receipt-To,
 * Errors-To, Disposition-Notification-To and Mail-Followup-To; recipient
 * fields are To, Cc, Bcc, Resent-To, Resent-Cc, Resent-Bcc,
 * Resent-Reply-To and Apparently-To. */
enum addr_header_kind {
	ADDR_HEADER_SENDER = 1 << 0,
	ADDR_HEADER_RECIPIENT = 1 << 1,
};

/* The kind of the field named name[0..len) (any case), or 0 when it is
 * not one of the address fields above. */
unsigned addr_header_field_kind(const char *name, size_t len);

/* True if the field named name[0..len) (any case) is one of the address
 * fields above. */
bool addr_header_is_address_field(const char *name, size_t len);

/* Rewrite the header section at the start of in[0..len) (LF or CRLF
 * line ends) with map, appending the result to out. Only complete fields
 * are taken: a field is complete once the line after it is in in[] too,
 * or at the end of in[] when at_end says that it holds the whole
 * content. *used_r is the number of bytes of in[] that the appended
 * text replaces (the fields taken, and the empty line that ends the
 * section when it is there); the bytes after them are to be sent as
 * they are. Returns 1 when an address changed, 0 when none did (out then
 * has the same bytes as in[0..*used_r)), -1 when map failed. */
int addr_header_rewrite(const char *in, size_t len, bool at_end, addr_list_map_fn *map, void *ctx,
                        struct str *out, size_t *used_r);

/* What addr_header_rewrite_kinds does with one addr-spec: as
 * addr_list_map_fn, told the kind of field the address is in. */
typedef int addr_header_map_fn(void *ctx, enum addr_header_kind kind, const char *spec,
                               struct str *replacement);

/* As addr_header_rewrite, with only the fields of the kinds in kinds (a
 * mask of enum addr_header_kind) rewritten; map learns which kind of
 * field each address is in. */
int addr_header_rewrite_kinds(const char *in, size_t len, bool at_end, unsigned kinds,
                              addr_header_map_fn *map, void *ctx, struct str *out, size_t *used_r);

/* Append field[0..len) (one header field with its line ends) to out with
 * every line over ADDR_HEADER_LINE_MAX bytes folded before white space
 * where that is possible (a line with no such white space stays long). */
void addr_header_fold(const char *field, size_t len, struct str *out);

#endif

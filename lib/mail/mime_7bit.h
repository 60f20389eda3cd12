/*
 * 8-bit message content made 7-bit for a server that does not offer
 * 8BITMIME (RFC 6152 section 3, RFC 2045, RFC 2046), as Postfix's smtp
 * does unless disable_mime_output_conversion is set.
 *
 * The MIME structure is walked as Postfix walks it: multipart bodies by
 * their boundaries (a line starting with "--boundary" of any enclosing
 * multipart), message/rfc822 bodies as messages of their own, up to
 * MIME_7BIT_NESTING_LIMIT levels; deeper entities count as leaves. Each
 * leaf (a non-MIME message body too) whose Content-Transfer-Encoding is
 * 8bit or binary, or 7bit (said or by default) while its body holds 8-bit
 * bytes, goes out quoted-printable (lines of at most 76 characters with
 * soft breaks; "=", control characters, 8-bit bytes and whitespace before
 * a line end encoded), its Content-Transfer-Encoding field replaced where
 * it stands or, when it has none, added at the end of its header section
 * (with "MIME-Version: 1.0" when the message itself has none). A leaf said
 * to be 8bit or binary without any 8-bit byte, and a multipart or
 * message/rfc822 entity said to be 8bit or binary, only get "7bit".
 * Everything else passes byte for byte: header fields (8-bit bytes in
 * them cannot be converted), preambles and epilogues, base64 and
 * quoted-printable parts, boundary lines, line ends outside converted
 * text. Converted text lines end in CRLF; other line ends are left for
 * wire_lines.
 *
 * A part's header section comes before the body that decides whether it
 * is converted, so the content is read twice, each time in pieces of any
 * size: mime_7bit_scan learns what to do with each part, mime_7bit_put
 * does it. Memory stays bounded whatever the size of the content: one
 * byte per MIME entity, one header field of up to 64 KiB (a longer one
 * passes without being looked at), the boundaries of the enclosing
 * multiparts.
 */
#ifndef POSTERN_MAIL_MIME_7BIT_H
#define POSTERN_MAIL_MIME_7BIT_H

#include <stddef.h>

#include "util/str.h"

#define MIME_7BIT_NESTING_LIMIT 100 /* as Postfix's mime_nesting_limit */

struct mime_7bit;

struct mime_7bit *mime_7bit_new(void);
void mime_7bit_free(struct mime_7bit *m);

/* First pass: in[0..len), the next piece of the content. */
void mime_7bit_scan(struct mime_7bit *m, const void *in, size_t len);
/* The end of the first pass; the second starts at the content's start. */
void mime_7bit_scan_end(struct mime_7bit *m);

/* Second pass: append the 7-bit form of the next piece (the same bytes
 * the first pass saw, in any other cut) to out. */
void mime_7bit_put(struct mime_7bit *m, const void *in, size_t len, struct str *out);
/* The end of the content: what was held back goes out. */
void mime_7bit_end(struct mime_7bit *m, struct str *out);

/* Both passes over content held in memory, appended to out. */
void mime_7bit_convert(const void *in, size_t len, struct str *out);

#endif

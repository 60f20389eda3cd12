/*
 * A message as milters see and edit it: the header fields, one by one,
 * and the body. Parsed from queue content (CRLF line ends), edited by
 * end-of-message replies (add, insert, change and delete headers, replace
 * the body), and written back as queue content with CRLF line ends.
 */
#ifndef POSTERN_MILTER_MILTER_MESSAGE_H
#define POSTERN_MILTER_MILTER_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/str.h"

struct milter_header {
	char *name; /* as written, before the colon */
	char *raw;  /* the whole field, folded lines and the final CRLF included */
	size_t raw_len;
};

struct milter_message {
	struct milter_header *headers;
	size_t count;
	size_t cap;
	bool separator; /* an empty line ended the header section */
	/* The body: it points into the parsed data (which the caller keeps
	 * until milter_message_free, so a large body can stay in a mapped file)
	 * or, once replaced, into own_body. */
	const char *body;
	size_t body_len;
	struct str own_body;
};

/* Split content into header fields and body. A line that is not a header
 * field (no colon, or a name with invalid characters) starts the body.
 * Header fields are copied; the body is not. */
void milter_message_parse(struct milter_message *m, const void *data, size_t len);
void milter_message_free(struct milter_message *m);
/* The content again: headers, the empty line, the body. */
void milter_message_write(const struct milter_message *m, struct str *out);
/* Only the headers and the empty line (then write m->body yourself). */
void milter_message_write_head(const struct milter_message *m, struct str *out);

/* The value of header i as a filter gets it: the text after the colon,
 * leading white space removed unless leadspc, folds as bare LF, no final
 * line end. */
void milter_header_value(const struct milter_header *h, bool leadspc, struct str *out);

/* Edits. Values come from the filter: LF line ends become CRLF and a
 * continuation line that does not start with white space gets a tab. */
void milter_message_add_header(struct milter_message *m, const char *name, const char *value,
                               bool leadspc);
/* Insert at position index (0: first); past the end means append. */
void milter_message_insert_header(struct milter_message *m, uint32_t index, const char *name,
                                  const char *value, bool leadspc);
/* Change the index-th (1-based) field called name; an empty value deletes
 * it. When there is no such field a non-empty value is added at the end. */
void milter_message_change_header(struct milter_message *m, uint32_t index, const char *name,
                                  const char *value, bool leadspc);
/* Replace the body (bare LF and CR become CRLF). */
void milter_message_set_body(struct milter_message *m, const void *data, size_t len);

#endif

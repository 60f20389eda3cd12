/*
 * The header/body model of a message under milter edits (milter_message.h).
 */
#include "milter/milter_message.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/alloc.h"

static bool name_char(unsigned char c)
{
	return c > ' ' && c < 127 && c != ':';
}

/* Length of the header name at p (up to the colon), or 0 if the line is
 * not a header field. */
static size_t field_name_len(const char *p, size_t len)
{
	size_t i = 0;
	while (i < len && name_char((unsigned char)p[i]))
		i++;
	if (i == 0 || i >= len || p[i] != ':')
		return 0;
	return i;
}

static void push_header(struct milter_message *m, size_t at, char *name, char *raw, size_t raw_len)
{
	if (m->count == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 16;
		m->headers = xreallocarray(m->headers, m->cap, sizeof(*m->headers));
	}
	if (at > m->count)
		at = m->count;
	memmove(m->headers + at + 1, m->headers + at, (m->count - at) * sizeof(*m->headers));
	m->headers[at] = (struct milter_header){name, raw, raw_len};
	m->count++;
}

void milter_message_parse(struct milter_message *m, const void *data, size_t len)
{
	memset(m, 0, sizeof(*m));
	const char *p = data ? data : "", *end = p + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = nl ? nl + 1 : end;
		size_t line_len = (size_t)(line_end - p);
		if ((line_len == 2 && p[0] == '\r' && p[1] == '\n') ||
		    (line_len == 1 && p[0] == '\n')) {
			m->separator = true;
			p = line_end;
			break;
		}
		size_t name_len = field_name_len(p, line_len);
		if (name_len == 0)
			break;
		/* The field goes on while the next line starts with white space. */
		const char *f_end = line_end;
		while (f_end < end && (*f_end == ' ' || *f_end == '\t')) {
			const char *n2 = memchr(f_end, '\n', (size_t)(end - f_end));
			f_end = n2 ? n2 + 1 : end;
		}
		push_header(m, m->count, xstrndup(p, name_len), xmemdup(p, (size_t)(f_end - p)),
		            (size_t)(f_end - p));
		p = f_end;
	}
	m->body = p;
	m->body_len = (size_t)(end - p);
}

void milter_message_free(struct milter_message *m)
{
	for (size_t i = 0; i < m->count; i++) {
		free(m->headers[i].name);
		free(m->headers[i].raw);
	}
	free(m->headers);
	str_free(&m->own_body);
	memset(m, 0, sizeof(*m));
}

void milter_message_write_head(const struct milter_message *m, struct str *out)
{
	for (size_t i = 0; i < m->count; i++)
		str_append(out, m->headers[i].raw, m->headers[i].raw_len);
	if (m->separator || m->body_len > 0)
		str_append(out, "\r\n", 2);
}

void milter_message_write(const struct milter_message *m, struct str *out)
{
	milter_message_write_head(m, out);
	str_append(out, m->body, m->body_len);
}

void milter_header_value(const struct milter_header *h, bool leadspc, struct str *out)
{
	size_t at = strlen(h->name) + 1;
	size_t end = h->raw_len;
	/* Drop the final line end. */
	if (end > at && h->raw[end - 1] == '\n')
		end--;
	if (end > at && h->raw[end - 1] == '\r')
		end--;
	if (!leadspc)
		while (at < end && (h->raw[at] == ' ' || h->raw[at] == '\t'))
			at++;
	for (size_t i = at; i < end; i++) {
		if (h->raw[i] == '\r' && i + 1 < end && h->raw[i + 1] == '\n')
			continue;
		str_append_char(out, h->raw[i]);
	}
}

/* Append text with every line end as CRLF. Continuation lines start with
 * white space (a tab is added where a filter forgot it). */
static void append_folded(struct str *out, const char *text, size_t len, bool header)
{
	for (size_t i = 0; i < len; i++) {
		char c = text[i];
		if (c == '\r' && i + 1 < len && text[i + 1] == '\n')
			continue; /* the LF writes the CRLF */
		if (c == '\r' || c == '\n') {
			str_append(out, "\r\n", 2);
			if (header && i + 1 < len && text[i + 1] != ' ' && text[i + 1] != '\t')
				str_append_char(out, '\t');
			continue;
		}
		str_append_char(out, c);
	}
}

static char *build_field(const char *name, const char *value, bool leadspc, size_t *len_r)
{
	struct str f = STR_INIT;
	str_append_cstr(&f, name);
	str_append_char(&f, ':');
	if (!leadspc)
		str_append_char(&f, ' ');
	size_t vlen = strlen(value);
	/* A trailing line end would make an empty continuation line. */
	while (vlen > 0 && (value[vlen - 1] == '\n' || value[vlen - 1] == '\r'))
		vlen--;
	append_folded(&f, value, vlen, true);
	str_append(&f, "\r\n", 2);
	*len_r = f.len;
	return str_steal(&f);
}

void milter_message_insert_header(struct milter_message *m, uint32_t index, const char *name,
                                  const char *value, bool leadspc)
{
	size_t len;
	char *raw = build_field(name, value, leadspc, &len);
	push_header(m, index, xstrdup(name), raw, len);
}

void milter_message_add_header(struct milter_message *m, const char *name, const char *value,
                               bool leadspc)
{
	milter_message_insert_header(m, UINT32_MAX, name, value, leadspc);
}

void milter_message_change_header(struct milter_message *m, uint32_t index, const char *name,
                                  const char *value, bool leadspc)
{
	uint32_t seen = 0;
	for (size_t i = 0; i < m->count; i++) {
		if (strcasecmp(m->headers[i].name, name) != 0)
			continue;
		/* libmilter's index 0 means the first, like 1. */
		if (++seen < (index ? index : 1))
			continue;
		struct milter_header *h = &m->headers[i];
		free(h->raw);
		if (*value == '\0') {
			free(h->name);
			memmove(h, h + 1, (m->count - i - 1) * sizeof(*h));
			m->count--;
			return;
		}
		free(h->name);
		h->name = xstrdup(name);
		h->raw = build_field(name, value, leadspc, &h->raw_len);
		return;
	}
	if (*value != '\0')
		milter_message_add_header(m, name, value, leadspc);
}

void milter_message_set_body(struct milter_message *m, const void *data, size_t len)
{
	struct str body = STR_INIT;
	append_folded(&body, data, len, false);
	str_free(&m->own_body);
	m->own_body = body;
	m->body = m->own_body.data ? m->own_body.data : "";
	m->body_len = m->own_body.len;
}

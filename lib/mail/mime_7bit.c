/*
 * 8-bit MIME content to 7-bit (mime_7bit.h). One parser serves both
 * passes: the first records per entity (in the order their header
 * sections start) what it is and whether its body has 8-bit bytes; the
 * second parses the same bytes the same way, so the entities come in the
 * same order, and writes. Body text is looked at line by line only as far
 * as the boundary check needs (the head of a line that starts with "-");
 * the rest streams.
 */
#include "mail/mime_7bit.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/alloc.h"

#define BOUNDARY_MAX 200                /* longer ones are compared by their start */
#define HEAD_MAX (2 + BOUNDARY_MAX + 2) /* "--" boundary "--" */
#define FIELD_MAX (64 * 1024)           /* a longer header field is not looked at */
#define QP_TEXT_MAX 75                  /* characters on a line before its "=" */

/* What the first pass learns about an entity. */
enum {
	E_COMPOSITE = 1 << 0, /* multipart or message/rfc822, walked into */
	E_CTE_8BIT = 1 << 1,  /* Content-Transfer-Encoding: 8bit or binary */
	E_CTE_OTHER = 1 << 2, /* base64, quoted-printable or unknown: left alone */
	E_BODY_8BIT = 1 << 3, /* its own body text has a byte >= 0x80 */
	E_OPAQUE = 1 << 4,    /* message/rfc822 whose header section ends in
	                         garbage: not walked, left alone (as Postfix) */
};

enum action { ACT_NONE, ACT_QP, ACT_7BIT };
enum field { F_OTHER, F_CTYPE, F_CTE, F_MIME_VERSION };

struct level {
	char boundary[BOUNDARY_MAX];
	size_t len;
	unsigned depth; /* nesting of the multipart entity */
	bool digest;    /* parts default to message/rfc822 */
};

struct mime_7bit {
	bool writing; /* second pass */
	unsigned char *plan;
	size_t plan_len, plan_cap;
	size_t entities; /* header sections started in this pass */
	size_t entity;   /* the current one */
	enum action action;

	/* The current entity's header section. */
	unsigned depth;
	bool top, default_message;
	bool seen_ctype, seen_cte, seen_mime_version;
	bool multipart, message, digest;
	char boundary[BOUNDARY_MAX];
	size_t boundary_len;

	struct level levels[MIME_7BIT_NESTING_LIMIT];
	size_t nlevels;

	bool in_header;
	struct str line;  /* header: the line so far; body: the head of a line */
	struct str field; /* header: the field looked at, its complete lines */
	enum field field_kind;
	bool raw_cont;  /* continuation lines pass as they are */
	bool raw_eol;   /* the rest of this line passes as it is */
	bool mid_line;  /* body: the start of this line was dealt with */
	bool body_leaf; /* body: a leaf's text (else preamble, epilogue) */
	bool body_qp;   /* body: being encoded */

	/* Quoted-printable output. */
	size_t column;
	char pending_ws; /* a space or tab that may end the line */
	bool pending_cr; /* a CR that may start a CRLF */
};

static void feed(struct mime_7bit *m, const char *p, size_t len, struct str *out);

static void emit(struct mime_7bit *m, struct str *out, const void *p, size_t len)
{
	if (m->writing)
		str_append(out, p, len);
}

static enum action action_of(unsigned char flags)
{
	if (flags & E_COMPOSITE)
		return flags & E_CTE_8BIT ? ACT_7BIT : ACT_NONE;
	if (flags & (E_CTE_OTHER | E_OPAQUE))
		return ACT_NONE;
	if (flags & E_BODY_8BIT)
		return ACT_QP;
	return flags & E_CTE_8BIT ? ACT_7BIT : ACT_NONE;
}

static void new_entity(struct mime_7bit *m, unsigned depth, bool default_message, bool top)
{
	m->entity = m->entities++;
	if (!m->writing) {
		if (m->plan_len == m->plan_cap) {
			m->plan_cap = m->plan_cap ? 2 * m->plan_cap : 64;
			m->plan = xreallocarray(m->plan, m->plan_cap, 1);
		}
		m->plan[m->plan_len++] = 0;
		m->action = ACT_NONE;
	} else {
		m->action = m->entity < m->plan_len ? action_of(m->plan[m->entity]) : ACT_NONE;
	}
	m->depth = depth;
	m->top = top;
	m->default_message = default_message;
	m->seen_ctype = m->seen_cte = m->seen_mime_version = false;
	m->multipart = m->message = m->digest = false;
	m->boundary_len = 0;
	m->in_header = true;
	m->raw_cont = m->raw_eol = false;
	m->mid_line = false;
	m->body_leaf = m->body_qp = false;
}

static void plan_mark(struct mime_7bit *m, unsigned char flag)
{
	if (!m->writing)
		m->plan[m->entity] |= flag;
}

/* --- Quoted-printable (RFC 2045 6.7) --- */

static void qp_token(struct mime_7bit *m, const char *t, size_t n, struct str *out)
{
	if (m->column + n > QP_TEXT_MAX) {
		str_append(out, "=\r\n", 3);
		m->column = 0;
	}
	/* An encoded line could look like a boundary: "--" never starts
	 * one (a soft break may leave it there, and the encoding of a line
	 * may match a boundary that its text did not). */
	if (m->column == 0 && n == 1 && t[0] == '-') {
		t = "=2D";
		n = 3;
	}
	str_append(out, t, n);
	m->column += n;
}

static void qp_encoded(struct mime_7bit *m, unsigned char c, struct str *out)
{
	static const char hex[] = "0123456789ABCDEF";
	char t[3] = {'=', hex[c >> 4], hex[c & 15]};
	qp_token(m, t, 3, out);
}

static void qp_put(struct mime_7bit *m, const char *p, size_t len, struct str *out)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		if (m->pending_cr) {
			/* Not a line end: a CR of the text. */
			if (m->pending_ws)
				qp_token(m, &m->pending_ws, 1, out);
			m->pending_ws = 0;
			m->pending_cr = false;
			qp_encoded(m, '\r', out);
		}
		if (c == '\r') {
			m->pending_cr = true;
			continue;
		}
		if (m->pending_ws) {
			qp_token(m, &m->pending_ws, 1, out);
			m->pending_ws = 0;
		}
		if (c == ' ' || c == '\t') {
			m->pending_ws = (char)c;
		} else if ((c < 32 && c != '\t') || c == '=' || c > 126) {
			qp_encoded(m, c, out);
		} else {
			char ch = (char)c;
			qp_token(m, &ch, 1, out);
		}
	}
}

/* A hard line break: whitespace before it is encoded. */
static void qp_line_end(struct mime_7bit *m, struct str *out)
{
	if (m->pending_ws)
		qp_encoded(m, (unsigned char)m->pending_ws, out);
	str_append(out, "\r\n", 2);
	m->pending_ws = 0;
	m->pending_cr = false;
	m->column = 0;
}

/* The end of the content in the middle of a line. */
static void qp_finish(struct mime_7bit *m, struct str *out)
{
	if (m->pending_cr)
		qp_line_end(m, out);
	else if (m->pending_ws)
		qp_encoded(m, (unsigned char)m->pending_ws, out);
	m->pending_ws = 0;
}

/* --- Header fields --- */

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* The length of the field name of a header line ("Name:" or "Name :"),
 * 0 if it is not one. */
static size_t field_name_len(const char *l, size_t len)
{
	size_t n = 0;
	while (n < len && (unsigned char)l[n] > 32 && (unsigned char)l[n] < 127 && l[n] != ':')
		n++;
	if (n == 0)
		return 0;
	size_t at = n;
	while (at < len && is_wsp(l[at]))
		at++;
	return at < len && l[at] == ':' ? n : 0;
}

static enum field field_kind(const char *l, size_t len)
{
	size_t n = field_name_len(l, len);
	if (n == 12 && strncasecmp(l, "Content-Type", n) == 0)
		return F_CTYPE;
	if (n == 25 && strncasecmp(l, "Content-Transfer-Encoding", n) == 0)
		return F_CTE;
	if (n == 12 && strncasecmp(l, "MIME-Version", n) == 0)
		return F_MIME_VERSION;
	return F_OTHER;
}

/* A cursor over a field's value: folding and (unnested) comments are
 * white space. */
struct cursor {
	const char *p, *end;
};

static void skip_space(struct cursor *c)
{
	while (c->p < c->end) {
		char ch = *c->p;
		if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
			c->p++;
		} else if (ch == '(') {
			const char *close = memchr(c->p, ')', (size_t)(c->end - c->p));
			c->p = close ? close + 1 : c->end;
		} else {
			break;
		}
	}
}

/* An RFC 2045 token (stops at tspecials and white space). */
static size_t token(struct cursor *c, const char **start)
{
	skip_space(c);
	*start = c->p;
	while (c->p < c->end && (unsigned char)*c->p > 32 && (unsigned char)*c->p < 127 &&
	       strchr("()<>@,;:\\\"/[]?=", *c->p) == NULL)
		c->p++;
	return (size_t)(c->p - *start);
}

static bool word_is(const char *w, size_t n, const char *want)
{
	return n == strlen(want) && strncasecmp(w, want, n) == 0;
}

static void parse_cte(struct mime_7bit *m)
{
	struct cursor c = {m->field.data, m->field.data + m->field.len};
	c.p = (const char *)memchr(c.p, ':', m->field.len) + 1;
	const char *w;
	size_t n = token(&c, &w);
	if (word_is(w, n, "8bit") || word_is(w, n, "binary"))
		plan_mark(m, E_CTE_8BIT);
	else if (n > 0 && !word_is(w, n, "7bit"))
		plan_mark(m, E_CTE_OTHER);
}

/* The boundary parameter's value, unquoted, cut at BOUNDARY_MAX. */
static void take_boundary(struct mime_7bit *m, struct cursor *c)
{
	size_t len = 0;
	skip_space(c);
	if (c->p < c->end && *c->p == '"') {
		for (c->p++; c->p < c->end && *c->p != '"'; c->p++) {
			if (*c->p == '\\' && c->p + 1 < c->end)
				c->p++;
			if (*c->p == '\r' || *c->p == '\n')
				continue;
			if (len < BOUNDARY_MAX)
				m->boundary[len++] = *c->p;
		}
	} else {
		const char *w;
		size_t n = token(c, &w);
		len = n < BOUNDARY_MAX ? n : BOUNDARY_MAX;
		memcpy(m->boundary, w, len);
	}
	m->boundary_len = len;
}

static void parse_ctype(struct mime_7bit *m)
{
	struct cursor c = {m->field.data, m->field.data + m->field.len};
	c.p = (const char *)memchr(c.p, ':', m->field.len) + 1;
	const char *type, *subtype = "";
	size_t type_len = token(&c, &type), subtype_len = 0;
	skip_space(&c);
	if (c.p < c.end && *c.p == '/') {
		c.p++;
		subtype_len = token(&c, &subtype);
	}
	m->multipart = word_is(type, type_len, "multipart");
	m->message = word_is(type, type_len, "message") && word_is(subtype, subtype_len, "rfc822");
	m->digest = m->multipart && word_is(subtype, subtype_len, "digest");
	while (m->multipart && m->boundary_len == 0) {
		const char *semi = memchr(c.p, ';', (size_t)(c.end - c.p));
		if (semi == NULL)
			break;
		c.p = semi + 1;
		const char *name;
		size_t name_len = token(&c, &name);
		skip_space(&c);
		if (c.p >= c.end || *c.p != '=')
			continue;
		c.p++;
		if (word_is(name, name_len, "boundary"))
			take_boundary(m, &c);
	}
}

/* A field too long to look at: what it might have said is taken as
 * unknown, and the rest of it passes as it is. */
static void mark_unparsed(struct mime_7bit *m, enum field kind)
{
	if (kind == F_CTE && !m->seen_cte) {
		m->seen_cte = true;
		plan_mark(m, E_CTE_OTHER);
	} else if (kind == F_CTYPE) {
		m->seen_ctype = true;
	} else if (kind == F_MIME_VERSION) {
		m->seen_mime_version = true;
	}
}

static const char *cte_text(enum action a)
{
	return a == ACT_QP ? "Content-Transfer-Encoding: quoted-printable\r\n"
	                   : "Content-Transfer-Encoding: 7bit\r\n";
}

/* The held field is complete: look at it, write it (or its
 * replacement). */
static void field_end(struct mime_7bit *m, struct str *out)
{
	m->raw_cont = false;
	if (m->field.len == 0)
		return;
	bool keep = true;
	switch (m->field_kind) {
	case F_CTE:
		if (!m->seen_cte) {
			m->seen_cte = true;
			parse_cte(m);
			if (m->action != ACT_NONE) {
				emit(m, out, cte_text(m->action), strlen(cte_text(m->action)));
				keep = false;
			}
		} else if (m->action != ACT_NONE) {
			keep = false; /* one field says it */
		}
		break;
	case F_CTYPE:
		if (!m->seen_ctype) {
			m->seen_ctype = true;
			parse_ctype(m);
		}
		break;
	case F_MIME_VERSION:
		m->seen_mime_version = true;
		break;
	case F_OTHER:
		break;
	}
	if (keep)
		emit(m, out, m->field.data, m->field.len);
	str_clear(&m->field);
}

static void field_overflow(struct mime_7bit *m, struct str *out)
{
	mark_unparsed(m, m->field_kind);
	emit(m, out, m->field.data, m->field.len);
	str_clear(&m->field);
	m->raw_cont = true;
}

/* The end of the header section, by an empty line or by a line that is
 * not a header field (garbage: it starts the body). */
static void header_end(struct mime_7bit *m, bool garbage, struct str *out)
{
	field_end(m, out);
	bool multipart = m->multipart && m->boundary_len > 0 &&
	                 m->depth < MIME_7BIT_NESTING_LIMIT && m->nlevels < MIME_7BIT_NESTING_LIMIT;
	bool message_type = m->message || (!m->seen_ctype && m->default_message);
	bool message = message_type && !garbage && m->depth < MIME_7BIT_NESTING_LIMIT;
	if (multipart || message)
		plan_mark(m, E_COMPOSITE);
	else if (message_type && garbage)
		plan_mark(m, E_OPAQUE);
	if (m->writing && m->action == ACT_QP) {
		if (m->top && !m->seen_mime_version)
			str_append_cstr(out, "MIME-Version: 1.0\r\n");
		if (!m->seen_cte)
			str_append_cstr(out, cte_text(m->action));
		/* The first line, encoded, could look like a header field. */
		if (garbage)
			str_append(out, "\r\n", 2);
	}
	m->in_header = false;
	m->raw_cont = m->raw_eol = false;
	m->mid_line = false;
	if (multipart) {
		struct level *lv = &m->levels[m->nlevels++];
		memcpy(lv->boundary, m->boundary, m->boundary_len);
		lv->len = m->boundary_len;
		lv->depth = m->depth;
		lv->digest = m->digest;
	} else if (message) {
		new_entity(m, m->depth + 1, false, false);
	} else {
		m->body_leaf = true;
		m->body_qp = m->writing && m->action == ACT_QP;
	}
}

/* The held line starts the body: feed it again in body state. */
static void line_to_body(struct mime_7bit *m, struct str *out)
{
	struct str l = m->line;
	m->line = (struct str)STR_INIT;
	feed(m, l.data, l.len, out);
	str_free(&l);
}

/* A complete header line (with its LF, or the content's last bytes). */
static void header_line(struct mime_7bit *m, struct str *out)
{
	const char *l = m->line.data;
	size_t len = m->line.len, text = len;
	if (text > 0 && l[text - 1] == '\n')
		text--;
	if (text > 0 && l[text - 1] == '\r')
		text--;
	if (text > 0 && is_wsp(l[0]) && (m->field.len > 0 || m->raw_cont)) {
		if (m->raw_cont) {
			emit(m, out, l, len);
		} else if (m->field.len + len > FIELD_MAX) {
			field_overflow(m, out);
			emit(m, out, l, len);
		} else {
			str_append(&m->field, l, len);
		}
		str_clear(&m->line);
		return;
	}
	field_end(m, out);
	if (text == 0) {
		header_end(m, false, out);
		emit(m, out, l, len);
		str_clear(&m->line);
	} else if (field_name_len(l, text) == 0) {
		header_end(m, true, out);
		line_to_body(m, out);
	} else {
		enum field kind = field_kind(l, text);
		if (kind == F_OTHER) {
			emit(m, out, l, len);
			m->raw_cont = true;
		} else {
			str_append(&m->field, l, len);
			m->field_kind = kind;
		}
		str_clear(&m->line);
	}
}

/* A header line reached FIELD_MAX bytes without its end. */
static void header_overflow(struct mime_7bit *m, struct str *out)
{
	const char *l = m->line.data;
	size_t len = m->line.len;
	if (is_wsp(l[0]) && (m->field.len > 0 || m->raw_cont)) {
		if (!m->raw_cont)
			field_overflow(m, out);
	} else {
		field_end(m, out);
		if (field_name_len(l, len) == 0) {
			header_end(m, true, out);
			line_to_body(m, out);
			return;
		}
		mark_unparsed(m, field_kind(l, len));
		m->raw_cont = true;
	}
	emit(m, out, l, len);
	str_clear(&m->line);
	m->raw_eol = true;
}

static size_t header_bytes(struct mime_7bit *m, const char *p, size_t len, struct str *out)
{
	const char *nl = memchr(p, '\n', len);
	size_t n = nl ? (size_t)(nl - p) + 1 : len;
	if (m->raw_eol) {
		emit(m, out, p, n);
		m->raw_eol = nl == NULL;
		return n;
	}
	bool complete = nl != NULL;
	if (n > FIELD_MAX - m->line.len) {
		n = FIELD_MAX - m->line.len;
		complete = false;
	}
	str_append(&m->line, p, n);
	if (complete)
		header_line(m, out);
	else if (m->line.len >= FIELD_MAX)
		header_overflow(m, out);
	return n;
}

/* --- Bodies --- */

/* Body bytes up to the end of a line (its LF last when line_end). */
static void text(struct mime_7bit *m, const char *p, size_t n, bool line_end, struct str *out)
{
	if (!m->body_leaf) {
		emit(m, out, p, n);
	} else if (!m->writing) {
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)p[i] & 0x80) {
				plan_mark(m, E_BODY_8BIT);
				break;
			}
	} else if (!m->body_qp) {
		str_append(out, p, n);
	} else {
		qp_put(m, p, line_end ? n - 1 : n, out);
		if (line_end)
			qp_line_end(m, out);
	}
	m->mid_line = !line_end;
}

/* A boundary line of level i: the parts of the levels inside it end. */
static void boundary(struct mime_7bit *m, size_t i, bool close)
{
	m->nlevels = i + 1;
	if (close) {
		/* The epilogue, up to a boundary further out. */
		m->nlevels = i;
		m->body_leaf = m->body_qp = false;
		return;
	}
	new_entity(m, m->levels[i].depth + 1, m->levels[i].digest, false);
}

/* The head of a line (up to HEAD_MAX bytes, complete or not) when it may
 * be a boundary. */
static void line_head(struct mime_7bit *m, bool complete, struct str *out)
{
	const char *l = m->line.data;
	size_t len = m->line.len;
	if (len >= 2 && l[0] == '-' && l[1] == '-') {
		for (size_t i = m->nlevels; i-- > 0;) {
			const struct level *lv = &m->levels[i];
			if (len < 2 + lv->len || memcmp(l + 2, lv->boundary, lv->len) != 0)
				continue;
			bool close =
			    len >= 4 + lv->len && l[2 + lv->len] == '-' && l[3 + lv->len] == '-';
			emit(m, out, l, len);
			str_clear(&m->line);
			boundary(m, i, close);
			m->raw_eol = !complete;
			return;
		}
	}
	text(m, l, len, complete, out);
	str_clear(&m->line);
}

static size_t body_bytes(struct mime_7bit *m, const char *p, size_t len, struct str *out)
{
	const char *nl = memchr(p, '\n', len);
	size_t n = nl ? (size_t)(nl - p) + 1 : len;
	if (m->raw_eol) {
		emit(m, out, p, n);
		m->raw_eol = nl == NULL;
		return n;
	}
	if (m->nlevels == 0 || m->mid_line || (m->line.len == 0 && p[0] != '-')) {
		text(m, p, n, nl != NULL, out);
		return n;
	}
	bool complete = nl != NULL;
	if (n > HEAD_MAX - m->line.len) {
		n = HEAD_MAX - m->line.len;
		complete = false;
	}
	str_append(&m->line, p, n);
	if (complete || m->line.len >= HEAD_MAX)
		line_head(m, complete, out);
	return n;
}

static void feed(struct mime_7bit *m, const char *p, size_t len, struct str *out)
{
	while (len > 0) {
		size_t n = m->in_header ? header_bytes(m, p, len, out) : body_bytes(m, p, len, out);
		p += n;
		len -= n;
	}
}

/* The end of the content: the last line may have no LF. */
static void finish(struct mime_7bit *m, struct str *out)
{
	while (m->in_header && m->line.len > 0)
		header_line(m, out);
	if (m->in_header) {
		field_end(m, out);
		return;
	}
	if (m->line.len > 0)
		line_head(m, false, out);
	if (m->body_qp)
		qp_finish(m, out);
}

static void reset(struct mime_7bit *m)
{
	str_clear(&m->line);
	str_clear(&m->field);
	m->entities = 0;
	m->nlevels = 0;
	m->column = 0;
	m->pending_ws = 0;
	m->pending_cr = false;
	new_entity(m, 0, false, true);
}

struct mime_7bit *mime_7bit_new(void)
{
	struct mime_7bit *m = xcalloc(1, sizeof(*m));
	reset(m);
	return m;
}

void mime_7bit_free(struct mime_7bit *m)
{
	if (m == NULL)
		return;
	str_free(&m->line);
	str_free(&m->field);
	free(m->plan);
	free(m);
}

void mime_7bit_scan(struct mime_7bit *m, const void *in, size_t len)
{
	if (!m->writing)
		feed(m, in, len, NULL);
}

void mime_7bit_scan_end(struct mime_7bit *m)
{
	if (m->writing)
		return;
	finish(m, NULL);
	m->writing = true;
	reset(m);
}

void mime_7bit_put(struct mime_7bit *m, const void *in, size_t len, struct str *out)
{
	if (!m->writing)
		mime_7bit_scan_end(m);
	feed(m, in, len, out);
}

void mime_7bit_end(struct mime_7bit *m, struct str *out)
{
	if (!m->writing)
		mime_7bit_scan_end(m);
	finish(m, out);
}

void mime_7bit_convert(const void *in, size_t len, struct str *out)
{
	struct mime_7bit *m = mime_7bit_new();
	mime_7bit_scan(m, in, len);
	mime_7bit_scan_end(m);
	mime_7bit_put(m, in, len, out);
	mime_7bit_end(m, out);
	mime_7bit_free(m);
}

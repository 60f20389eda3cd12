/*
 * Content checks (header_checks, body_checks): see content_check.h.
 */
#include "mail/content_check.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp/access_action.h"
#include "smtp/smtp_resp.h"
#include "util/alloc.h"

/* Where a header is (content_check.h). */
enum header_place { PRIMARY, PART, NESTED };
/* Where the body reader is: state. */
enum body_state { IN_CONTENT, IN_PART_HEADERS, IN_NESTED_HEADERS };
/* What a Content-Type says comes next: next_kind. */
enum content_kind { PLAIN, MULTIPART, MESSAGE };

static bool has_maps(char *const *maps)
{
	return maps != NULL && maps[0] != NULL;
}

bool content_check_wanted(const struct content_check_config *cfg)
{
	return has_maps(cfg->header_maps) || has_maps(cfg->mime_header_maps) ||
	       has_maps(cfg->nested_header_maps) || has_maps(cfg->body_maps);
}

void content_check_init(struct content_check *c, const struct content_check_config *cfg)
{
	memset(c, 0, sizeof(*c));
	c->cfg = cfg;
	str_init(&c->partial);
	str_init(&c->header);
}

void content_check_free(struct content_check *c)
{
	free(c->text);
	free(c->hold_reason);
	free(c->redirect);
	free(c->bcc);
	str_free(&c->partial);
	str_free(&c->header);
	free(c->next_boundary);
	for (size_t i = 0; i < c->depth; i++)
		free(c->boundaries[i]);
	c->depth = 0;
	c->next_boundary = c->text = c->hold_reason = NULL;
}

enum line_action { KEEP, IGNORE, REPLACE, PREPEND };

/* value starts with word (case-insensitive), then a blank or its end;
 * *rest_r is the text after the blanks. */
static bool word_is(const char *value, const char *word, const char **rest_r)
{
	size_t n = strlen(word);
	if (strncasecmp(value, word, n) != 0 ||
	    (value[n] != '\0' && value[n] != ' ' && value[n] != '\t'))
		return false;
	const char *rest = value + n;
	while (*rest == ' ' || *rest == '\t')
		rest++;
	*rest_r = rest;
	return true;
}

static void refuse(struct content_check *c, int code, const char *enhanced, const char *text,
                   const char *default_text)
{
	size_t elen = smtp_status_code_len(text, strlen(text));
	if (elen > 0 && elen < sizeof(c->enhanced) && (text[0] == '4' || text[0] == '5')) {
		memcpy(c->enhanced, text, elen);
		c->enhanced[elen] = '\0';
		code = text[0] == '4' ? 450 : 550;
		text += elen;
		while (*text == ' ' || *text == '\t')
			text++;
	} else
		snprintf(c->enhanced, sizeof(c->enhanced), "%s", enhanced);
	c->verdict = CONTENT_REJECT;
	c->code = code;
	c->text = xstrdup(*text ? text : default_text);
}

/* "X.Y.Z text" for the log, as Postfix shows a refusal. */
static void note_refusal(struct content_check *c, const char *action, const char *part,
                         const char *line)
{
	char *shown = xasprintf("%s %s", c->enhanced, c->text);
	c->cfg->note(c->cfg->ctx, action, part, line, shown);
	free(shown);
}

/* Act on a table's value for line; returns what becomes of the line, and
 * for REPLACE and PREPEND the new text in *text_r. */
static enum line_action act(struct content_check *c, const char *part, const char *line,
                            const char *value, const char **text_r)
{
	const struct content_check_config *cfg = c->cfg;
	const char *rest;
	if (word_is(value, "DUNNO", &rest) || word_is(value, "OK", &rest))
		return KEEP;
	if (word_is(value, "IGNORE", &rest))
		return IGNORE;
	if (cfg->edit_only && (word_is(value, "REJECT", &rest) || word_is(value, "DEFER", &rest) ||
	                       word_is(value, "DISCARD", &rest) || word_is(value, "HOLD", &rest) ||
	                       word_is(value, "REDIRECT", &rest) || word_is(value, "BCC", &rest))) {
		cfg->note(cfg->ctx, "unsupported", part, line, value);
		return KEEP;
	}
	if (word_is(value, "REJECT", &rest)) {
		refuse(c, 550, "5.7.1", rest, "Message content rejected");
		note_refusal(c, "reject", part, line);
		return KEEP;
	}
	if (word_is(value, "DEFER", &rest)) {
		refuse(c, 450, "4.7.1", rest, "Message content deferred");
		note_refusal(c, "defer", part, line);
		return KEEP;
	}
	if (word_is(value, "DISCARD", &rest)) {
		c->verdict = CONTENT_DISCARD;
		c->text = xstrdup(rest);
		cfg->note(cfg->ctx, "discard", part, line, rest);
		return KEEP;
	}
	if (word_is(value, "HOLD", &rest)) {
		if (c->hold_reason == NULL)
			c->hold_reason =
			    xasprintf("%s %.200s%s%s", part, line, *rest ? ": " : "", rest);
		cfg->note(cfg->ctx, "hold", part, line, rest);
		return KEEP;
	}
	if ((word_is(value, "REDIRECT", &rest) || word_is(value, "BCC", &rest)) &&
	    access_one_address(rest, strlen(rest))) {
		bool redirect = toupper((unsigned char)value[0]) == 'R';
		char **slot = redirect ? &c->redirect : &c->bcc;
		free(*slot);
		*slot = xstrdup(rest);
		cfg->note(cfg->ctx, redirect ? "redirect" : "bcc", part, line, rest);
		return KEEP;
	}
	if (word_is(value, "WARN", &rest)) {
		cfg->note(cfg->ctx, "warning", part, line, rest);
		return KEEP;
	}
	if (word_is(value, "INFO", &rest)) {
		cfg->note(cfg->ctx, "info", part, line, rest);
		return KEEP;
	}
	if ((word_is(value, "REPLACE", &rest) || word_is(value, "PREPEND", &rest)) && *rest) {
		bool replace = toupper((unsigned char)value[0]) == 'R';
		cfg->note(cfg->ctx, replace ? "replace" : "prepend", part, line, rest);
		*text_r = rest;
		return replace ? REPLACE : PREPEND;
	}
	cfg->note(cfg->ctx, "unknown", part, line, value);
	return KEEP;
}

/* Look line up in maps: what becomes of it. */
static enum line_action check_line(struct content_check *c, char *const *maps, const char *part,
                                   const char *line, struct str *value, const char **text_r)
{
	const struct content_check_config *cfg = c->cfg;
	for (size_t i = 0; maps && maps[i]; i++) {
		int rc = cfg->lookup(cfg->ctx, maps[i], line, value);
		if (rc < 0) {
			c->verdict = CONTENT_FAILED;
			return KEEP;
		}
		if (rc == 1)
			return act(c, part, line, str_cstr(value), text_r);
	}
	return KEEP;
}

/* Emit a line (raw, with its end) after its check. */
static void emit(struct str *out, enum line_action a, const char *text, const char *raw,
                 size_t raw_len, bool has_end)
{
	switch (a) {
	case IGNORE:
		return;
	case REPLACE:
		str_append_cstr(out, text);
		if (has_end)
			str_append(out, "\r\n", 2);
		return;
	case PREPEND:
		str_append_cstr(out, text);
		str_append(out, "\r\n", 2);
		break;
	case KEEP:
		break;
	}
	str_append(out, raw, raw_len);
}

/* The header (name: value) is MIME-Version or Content-*. */
static bool is_mime_header(const char *key)
{
	return strncasecmp(key, "Content-", 8) == 0 ||
	       (strncasecmp(key, "MIME-Version", 12) == 0 &&
	        (key[12] == ':' || key[12] == ' ' || key[12] == '\t'));
}

static const char *skip_blanks(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

/* The boundary parameter of a Content-Type value (after the type), or NULL. */
static char *boundary_param(const char *p)
{
	while ((p = strchr(p, ';')) != NULL) {
		p = skip_blanks(p + 1);
		size_t name_len = strcspn(p, "=; \t\r\n");
		const char *eq = skip_blanks(p + name_len);
		bool wanted = name_len == 8 && strncasecmp(p, "boundary", 8) == 0 && *eq == '=';
		if (*eq != '=')
			continue;
		const char *v = skip_blanks(eq + 1);
		size_t len;
		if (*v == '"') {
			v++;
			const char *end = strchr(v, '"');
			len = end ? (size_t)(end - v) : strlen(v);
		} else {
			len = strcspn(v, "; \t\r\n");
		}
		p = v + len;
		/* RFC 2046: 1 to 70 characters; a little more is tolerated. */
		if (wanted && len > 0 && len <= 200)
			return xstrndup(v, len);
	}
	return NULL;
}

/* A Content-Type header (key: the logical header) says what comes after
 * the headers it is among. */
static void note_content_type(struct content_check *c, const char *key)
{
	if (strncasecmp(key, "Content-Type:", 13) != 0)
		return;
	const char *v = skip_blanks(key + 13);
	free(c->next_boundary);
	c->next_boundary = NULL;
	c->next_kind = PLAIN;
	if (strncasecmp(v, "multipart/", 10) == 0) {
		c->next_boundary = boundary_param(v);
		if (c->next_boundary)
			c->next_kind = MULTIPART;
	} else if (strncasecmp(v, "message/rfc822", 14) == 0 && strchr("; \t\r\n", v[14]) != NULL) {
		c->next_kind = MESSAGE;
	}
}

/* One logical header: raw is its lines with their ends. */
static void header_done(struct content_check *c, enum header_place place, const char *raw,
                        size_t len, struct str *out)
{
	if (content_check_decided(c))
		return;
	/* The key: the lines without CR, joined by LF, with no final LF. */
	struct str key = STR_INIT, value = STR_INIT;
	str_reserve(&key, len + 1);
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		if (raw[i] != '\r' || i + 1 == len || raw[i + 1] != '\n')
			key.data[n++] = raw[i];
	while (n > 0 && key.data[n - 1] == '\n')
		n--;
	key.data[n] = '\0';
	key.len = n;
	note_content_type(c, key.data);
	const struct content_check_config *cfg = c->cfg;
	char *const *maps = is_mime_header(key.data) || place == PART ? cfg->mime_header_maps
	                    : place == NESTED                         ? cfg->nested_header_maps
	                                                              : cfg->header_maps;
	const char *text = NULL;
	enum line_action a = check_line(c, maps, "header", key.data, &value, &text);
	if (!content_check_decided(c))
		emit(out, a, text, raw, len, true);
	str_free(&key);
	str_free(&value);
}

void content_check_headers(struct content_check *c, const char *data, size_t len, struct str *out)
{
	if (!content_check_wanted(c->cfg)) {
		str_append(out, data, len);
		return;
	}
	size_t start = 0; /* of the logical header being gathered */
	size_t at = 0;
	while (at < len) {
		const char *nl = memchr(data + at, '\n', len - at);
		size_t next = nl ? (size_t)(nl - data) + 1 : len;
		/* A new header starts on a line that is not a continuation. */
		if (at > start && data[at] != ' ' && data[at] != '\t') {
			header_done(c, PRIMARY, data + start, at - start, out);
			start = at;
		}
		at = next;
	}
	if (at > start)
		header_done(c, PRIMARY, data + start, at - start, out);
}

/* len more bytes of the body were read (body_size_limit counts them all). */
static void count_body(struct content_check *c, size_t len)
{
	c->body_seen += (long long)len;
	if (c->cfg->body_size_limit > 0 && c->body_seen >= c->cfg->body_size_limit)
		c->body_done = true;
}

/* A body line for body_maps (while within body_size_limit). */
static void body_line(struct content_check *c, const char *raw, size_t len, struct str *out)
{
	if (content_check_decided(c))
		return;
	if (c->body_done || !has_maps(c->cfg->body_maps)) {
		str_append(out, raw, len);
		count_body(c, len);
		return;
	}
	size_t key_len = len;
	bool has_end = key_len > 0 && raw[key_len - 1] == '\n';
	if (has_end)
		key_len--;
	if (key_len > 0 && raw[key_len - 1] == '\r')
		key_len--;
	char *key = xstrndup(raw, key_len);
	struct str value = STR_INIT;
	const char *text = NULL;
	enum line_action a = check_line(c, c->cfg->body_maps, "body", key, &value, &text);
	if (!content_check_decided(c))
		emit(out, a, text, raw, len, has_end);
	count_body(c, len);
	free(key);
	str_free(&value);
}

/* The headers just read (the message's, a part's or an attached
 * message's) are over: what their Content-Type said begins. */
static void enter_content(struct content_check *c)
{
	c->state = IN_CONTENT;
	if (c->next_kind == MULTIPART && c->depth < CONTENT_MIME_DEPTH) {
		c->boundaries[c->depth++] = c->next_boundary;
		c->next_boundary = NULL;
	} else if (c->next_kind == MESSAGE) {
		c->state = IN_NESTED_HEADERS;
	}
	free(c->next_boundary);
	c->next_boundary = NULL;
	c->next_kind = PLAIN;
}

/* The level of the multipart whose boundary line raw is (*closing_r: the
 * closing one), innermost first; -1 if it is none. */
static int boundary_level(const struct content_check *c, const char *raw, size_t len,
                          bool *closing_r)
{
	if (len < 3 || raw[0] != '-' || raw[1] != '-')
		return -1;
	for (size_t i = c->depth; i-- > 0;) {
		size_t blen = strlen(c->boundaries[i]);
		if (len - 2 < blen || memcmp(raw + 2, c->boundaries[i], blen) != 0)
			continue;
		size_t at = 2 + blen;
		bool closing = len - at >= 2 && raw[at] == '-' && raw[at + 1] == '-';
		if (closing)
			at += 2;
		while (at < len && strchr(" \t\r\n", raw[at]) != NULL)
			at++;
		if (at < len)
			continue; /* more text: not this boundary */
		*closing_r = closing;
		return (int)i;
	}
	return -1;
}

/* The header gathered in a part or an attached message is complete. */
static void flush_header(struct content_check *c, struct str *out)
{
	if (c->header.len == 0)
		return;
	header_done(c, c->state == IN_NESTED_HEADERS ? NESTED : PART, c->header.data, c->header.len,
	            out);
	count_body(c, c->header.len);
	str_clear(&c->header);
}

/* One line of the body (or a piece of an overlong one), raw with its end. */
static void body_input(struct content_check *c, const char *raw, size_t len, struct str *out)
{
	if (content_check_decided(c))
		return;
	bool closing = false;
	int level = boundary_level(c, raw, len, &closing);
	if (level >= 0) {
		flush_header(c, out);
		for (size_t i = (size_t)level + 1; i < c->depth; i++)
			free(c->boundaries[i]);
		c->depth = (size_t)level + 1;
		if (closing) {
			free(c->boundaries[level]);
			c->depth = (size_t)level;
		}
		c->state = closing ? IN_CONTENT : IN_PART_HEADERS;
		free(c->next_boundary);
		c->next_boundary = NULL;
		c->next_kind = PLAIN;
		body_line(c, raw, len, out); /* boundaries are body, as in Postfix */
		return;
	}
	if (c->state == IN_CONTENT) {
		body_line(c, raw, len, out);
		return;
	}
	/* Headers of a part or an attached message, up to an empty line. */
	if ((raw[0] == ' ' || raw[0] == '\t') && c->header.len > 0) {
		str_append(&c->header, raw, len);
		return;
	}
	flush_header(c, out);
	if (content_check_decided(c))
		return;
	if ((len == 1 && raw[0] == '\n') || (len == 2 && raw[0] == '\r' && raw[1] == '\n')) {
		str_append(out, raw, len);
		count_body(c, len);
		enter_content(c);
		return;
	}
	str_append(&c->header, raw, len);
}

/* Nothing in the body is looked at any more: it can be copied as it is. */
static bool body_unchecked(const struct content_check *c)
{
	const struct content_check_config *cfg = c->cfg;
	return !has_maps(cfg->mime_header_maps) && !has_maps(cfg->nested_header_maps) &&
	       (!has_maps(cfg->body_maps) || c->body_done);
}

void content_check_body(struct content_check *c, const char *data, size_t len, struct str *out)
{
	if (content_check_decided(c))
		return;
	if (!c->in_body) {
		c->in_body = true;
		enter_content(c); /* after the message's own headers */
	}
	size_t at = 0;
	while (at < len && !body_unchecked(c) && !content_check_decided(c)) {
		size_t room = CONTENT_LINE_LIMIT - c->partial.len;
		size_t avail = len - at < room ? len - at : room;
		const char *nl = memchr(data + at, '\n', avail);
		size_t take = nl ? (size_t)(nl - (data + at)) + 1 : avail;
		if (c->partial.len == 0 && (nl || take == CONTENT_LINE_LIMIT)) {
			body_input(c, data + at, take, out); /* a whole line: no copy */
		} else {
			str_append(&c->partial, data + at, take);
			if (nl || c->partial.len >= CONTENT_LINE_LIMIT) {
				body_input(c, c->partial.data, c->partial.len, out);
				str_clear(&c->partial);
			}
		}
		at += take;
	}
	if (at < len && !content_check_decided(c)) {
		/* Nothing more to check: a held line piece goes first. */
		str_append(out, c->partial.data, c->partial.len);
		str_clear(&c->partial);
		str_append(out, data + at, len - at);
	}
}

void content_check_body_end(struct content_check *c, struct str *out)
{
	if (c->partial.len > 0)
		body_input(c, c->partial.data, c->partial.len, out);
	str_clear(&c->partial);
	flush_header(c, out);
}

#define LOGGED_LINE_LIMIT 200

bool content_check_log_text(const char *action, const char *part, const char *line,
                            const char *text, const struct content_check_origin *from,
                            struct str *out)
{
	/* One log line: folded lines and other controls become blanks. */
	char shown[LOGGED_LINE_LIMIT + 4];
	size_t n = 0;
	for (; n < LOGGED_LINE_LIMIT && line[n]; n++)
		shown[n] = (unsigned char)line[n] < 0x20 || line[n] == 0x7f ? ' ' : line[n];
	strcpy(shown + n, line[n] ? "..." : "");
	if (strcmp(action, "unknown") == 0) {
		str_printf(out, "%s_checks: unknown action \"%.100s\" for %s %s; ignored", part,
		           text, part, shown);
		return true;
	}
	str_printf(out, "%s: %s %s from %s; from=<%s> to=<%s>", action, part, shown, from->client,
	           from->sender, from->rcpt);
	if (from->protocol)
		str_printf(out, " proto=%s helo=<%s>", from->protocol,
		           from->helo ? from->helo : "");
	if (*text)
		str_printf(out, ": %s", text);
	return false;
}

/*
 * Content checks (header_checks, body_checks): see content_check.h.
 */
#include "mail/content_check.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp/smtp_resp.h"
#include "util/alloc.h"

bool content_check_wanted(const struct content_check_config *cfg)
{
	return (cfg->header_maps && cfg->header_maps[0]) || (cfg->body_maps && cfg->body_maps[0]);
}

void content_check_init(struct content_check *c, const struct content_check_config *cfg)
{
	memset(c, 0, sizeof(*c));
	c->cfg = cfg;
	str_init(&c->partial);
}

void content_check_free(struct content_check *c)
{
	free(c->text);
	free(c->hold_reason);
	str_free(&c->partial);
	c->text = c->hold_reason = NULL;
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

/* One logical header: raw is its lines with their ends. */
static void header_done(struct content_check *c, const char *raw, size_t len, struct str *out)
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
	const char *text = NULL;
	enum line_action a = check_line(c, c->cfg->header_maps, "header", key.data, &value, &text);
	if (!content_check_decided(c))
		emit(out, a, text, raw, len, true);
	str_free(&key);
	str_free(&value);
}

void content_check_headers(struct content_check *c, const char *data, size_t len, struct str *out)
{
	if (c->cfg->header_maps == NULL || c->cfg->header_maps[0] == NULL) {
		if (!content_check_decided(c))
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
			header_done(c, data + start, at - start, out);
			start = at;
		}
		at = next;
	}
	if (at > start)
		header_done(c, data + start, at - start, out);
}

static void body_line(struct content_check *c, const char *raw, size_t len, struct str *out)
{
	if (content_check_decided(c))
		return;
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
	c->body_seen += (long long)len;
	if (c->cfg->body_size_limit > 0 && c->body_seen >= c->cfg->body_size_limit)
		c->body_done = true;
	free(key);
	str_free(&value);
}

void content_check_body(struct content_check *c, const char *data, size_t len, struct str *out)
{
	if (content_check_decided(c))
		return;
	if (c->cfg->body_maps == NULL || c->cfg->body_maps[0] == NULL || c->body_done) {
		str_append(out, data, len);
		return;
	}
	size_t at = 0;
	while (at < len && !c->body_done && !content_check_decided(c)) {
		size_t room = CONTENT_LINE_LIMIT - c->partial.len;
		size_t avail = len - at < room ? len - at : room;
		const char *nl = memchr(data + at, '\n', avail);
		size_t take = nl ? (size_t)(nl - (data + at)) + 1 : avail;
		if (c->partial.len == 0 && (nl || take == CONTENT_LINE_LIMIT)) {
			body_line(c, data + at, take, out); /* a whole line: no copy */
		} else {
			str_append(&c->partial, data + at, take);
			if (nl || c->partial.len >= CONTENT_LINE_LIMIT) {
				body_line(c, c->partial.data, c->partial.len, out);
				str_clear(&c->partial);
			}
		}
		at += take;
	}
	if (at < len && !content_check_decided(c))
		str_append(out, data + at, len - at); /* past the limit */
}

void content_check_body_end(struct content_check *c, struct str *out)
{
	if (c->partial.len > 0)
		body_line(c, c->partial.data, c->partial.len, out);
	str_clear(&c->partial);
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

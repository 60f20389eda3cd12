/*
 * SMTP reply lines to complete replies, and EHLO keywords.
 */
#include "smtp/smtp_resp.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp/xforward.h"
#include "util/alloc.h"

void smtp_resp_init(struct smtp_resp *r)
{
	memset(r, 0, sizeof(*r));
}

void smtp_resp_clear(struct smtp_resp *r)
{
	r->code = 0;
	r->enhanced[0] = '\0';
	r->lines = 0;
	str_clear(&r->text);
}

void smtp_resp_free(struct smtp_resp *r)
{
	str_free(&r->text);
	memset(r, 0, sizeof(*r));
}

size_t smtp_status_code_len(const char *s, size_t len)
{
	size_t i = 0;
	if (len < 5 || !(s[0] >= '2' && s[0] <= '5') || s[1] != '.')
		return 0;
	i = 2;
	for (int part = 0; part < 2; part++) {
		size_t digits = 0;
		while (i < len && isdigit((unsigned char)s[i]) && digits < 4) {
			i++;
			digits++;
		}
		if (digits == 0 || digits > 3)
			return 0;
		if (part == 0) {
			if (i >= len || s[i] != '.')
				return 0;
			i++;
		}
	}
	if (i < len && s[i] != ' ')
		return 0;
	return i;
}

enum smtp_resp_step smtp_resp_add_line(struct smtp_resp *r, const char *line, size_t len,
                                       const char **error_r)
{
	if (len < 3 || !(line[0] >= '2' && line[0] <= '5') || !isdigit((unsigned char)line[1]) ||
	    !isdigit((unsigned char)line[2])) {
		*error_r = "malformed reply line";
		return SMTP_RESP_BAD;
	}
	int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (len > 3 && line[3] != ' ' && line[3] != '-') {
		*error_r = "malformed reply line";
		return SMTP_RESP_BAD;
	}
	if (r->lines > 0 && code != r->code) {
		*error_r = "inconsistent reply codes in a multi-line reply";
		return SMTP_RESP_BAD;
	}
	if (r->lines >= SMTP_RESP_MAX_LINES) {
		*error_r = "too many lines in a reply";
		return SMTP_RESP_BAD;
	}
	r->code = code;
	const char *text = len > 4 ? line + 4 : "";
	size_t text_len = len > 4 ? len - 4 : 0;
	if (r->lines == 0) {
		size_t e = smtp_status_code_len(text, text_len);
		if (e > 0 && e < sizeof(r->enhanced) && text[0] == line[0]) {
			memcpy(r->enhanced, text, e);
			r->enhanced[e] = '\0';
		}
	}
	if (r->lines > 0 && r->text.len < SMTP_RESP_MAX_TEXT)
		str_append_char(&r->text, '\n');
	for (size_t i = 0; i < text_len && r->text.len < SMTP_RESP_MAX_TEXT; i++) {
		unsigned char c = (unsigned char)text[i];
		str_append_char(&r->text, c >= 0x20 && c < 0x7f ? (char)c : '?');
	}
	r->lines++;
	return len > 3 && line[3] == '-' ? SMTP_RESP_MORE : SMTP_RESP_DONE;
}

void smtp_resp_summary(const struct smtp_resp *r, struct str *out, size_t max)
{
	str_clear(out);
	str_printf(out, "%03d", r->code);
	for (size_t i = 0; i < r->text.len && out->len < max; i++) {
		if (i == 0)
			str_append_char(out, ' ');
		char c = r->text.data[i];
		str_append_char(out, c == '\n' ? ' ' : c);
	}
	if (out->len > max)
		str_truncate(out, max);
}

const char *smtp_resp_status(const struct smtp_resp *r, const char *dflt)
{
	if (r->enhanced[0] != '\0' && r->enhanced[0] - '0' == r->code / 100)
		return r->enhanced;
	return dflt;
}

bool smtp_resp_first_word_is(const struct smtp_resp *r, const char *word)
{
	const char *p = r->text.data ? r->text.data : "";
	const char *end = p + r->text.len;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	const char *start = p;
	while (p < end && *p != ' ' && *p != '\t' && *p != '=' && *p != '\n')
		p++;
	size_t n = strlen(word);
	return n > 0 && (size_t)(p - start) == n && strncasecmp(start, word, n) == 0;
}

static bool keyword_is(const char *line, size_t len, const char *kw, const char **args_r)
{
	size_t n = strlen(kw);
	if (len < n || strncasecmp(line, kw, n) != 0)
		return false;
	if (len > n && line[n] != ' ' && line[n] != '=')
		return false;
	*args_r = len > n ? line + n + 1 : line + n;
	return true;
}

void smtp_ehlo_parse(const struct smtp_resp *r, struct smtp_ehlo *e)
{
	memset(e, 0, sizeof(*e));
	const char *p = r->text.data ? r->text.data : "";
	const char *end = p + r->text.len;
	bool first = true;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		const char *args;
		if (first) {
			/* The greeting line names the server. */
		} else if (keyword_is(p, len, "PIPELINING", &args)) {
			e->pipelining = true;
		} else if (keyword_is(p, len, "8BITMIME", &args)) {
			e->eightbitmime = true;
		} else if (keyword_is(p, len, "SMTPUTF8", &args)) {
			e->smtputf8 = true;
		} else if (keyword_is(p, len, "DSN", &args)) {
			e->dsn = true;
		} else if (keyword_is(p, len, "CHUNKING", &args)) {
			e->chunking = true;
		} else if (keyword_is(p, len, "STARTTLS", &args)) {
			e->starttls = true;
		} else if (keyword_is(p, len, "SIZE", &args)) {
			e->size = true;
			int64_t v = 0;
			const char *q = args;
			while (q < p + len && isdigit((unsigned char)*q) && v < INT64_MAX / 10 - 10)
				v = v * 10 + (*q++ - '0');
			e->size_limit = v;
		} else if (keyword_is(p, len, "XFORWARD", &args)) {
			e->xforward |= xforward_keywords_parse(args, (size_t)(p + len - args));
		} else if (keyword_is(p, len, "AUTH", &args)) {
			size_t alen = (size_t)(p + len - args);
			char *mechs = xstrndup(args, alen);
			for (char *c = mechs; *c; c++)
				*c = (char)toupper((unsigned char)*c);
			if (e->auth_mechs == NULL) {
				e->auth_mechs = mechs;
			} else {
				char *both = xasprintf("%s %s", e->auth_mechs, mechs);
				free(e->auth_mechs);
				free(mechs);
				e->auth_mechs = both;
			}
		}
		first = false;
		p += len + (nl ? 1 : 0);
	}
}

void smtp_ehlo_free(struct smtp_ehlo *e)
{
	free(e->auth_mechs);
	memset(e, 0, sizeof(*e));
}

bool smtp_ehlo_has_auth(const struct smtp_ehlo *e, const char *mech)
{
	if (e->auth_mechs == NULL)
		return false;
	size_t n = strlen(mech);
	const char *p = e->auth_mechs;
	while (*p) {
		while (*p == ' ')
			p++;
		size_t len = strcspn(p, " ");
		if (len == n && strncasecmp(p, mech, n) == 0)
			return true;
		p += len;
	}
	return false;
}

void smtp_reply_soften(char *reply)
{
	for (char *line = reply; *line;) {
		size_t len = strcspn(line, "\r\n");
		if (len >= 3 && line[0] == '5' && isdigit((unsigned char)line[1]) &&
		    isdigit((unsigned char)line[2]) &&
		    (len == 3 || line[3] == ' ' || line[3] == '-')) {
			line[0] = '4';
			if (len > 4 && line[4] == '5' &&
			    smtp_status_code_len(line + 4, len - 4) > 0)
				line[4] = '4';
		}
		line += len;
		line += strspn(line, "\r\n");
	}
}

/*
 * access(5) actions as text (access_action.h): the first word says what,
 * the rest is the reply or log text, after an optional enhanced status
 * code.
 */
#include "smtp/access_action.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mail/receive_options.h"
#include "smtp/smtp_resp.h"

static bool word_is(const struct access_action *a, const char *word)
{
	return a->word_len == strlen(word) && strncasecmp(a->word, word, a->word_len) == 0;
}

static bool three_digits(const struct access_action *a)
{
	return a->word_len == 3 && isdigit((unsigned char)a->word[0]) &&
	       isdigit((unsigned char)a->word[1]) && isdigit((unsigned char)a->word[2]);
}

/* A refusal with code: the enhanced status code the text starts with (its
 * class made the code's), else dflt_detail after the class ("7.1"). */
static void refuse(struct access_action *a, enum access_kind kind, int code,
                   const char *dflt_detail, const char *dflt_text)
{
	a->kind = kind;
	a->code = code;
	size_t elen = smtp_status_code_len(a->text, a->text_len);
	if (elen > 0 && elen < sizeof(a->enhanced)) {
		memcpy(a->enhanced, a->text, elen);
		a->enhanced[elen] = '\0';
		a->text += elen;
		a->text_len -= elen;
		while (a->text_len > 0 && (*a->text == ' ' || *a->text == '\t')) {
			a->text++;
			a->text_len--;
		}
	} else {
		snprintf(a->enhanced, sizeof(a->enhanced), "X.%s", dflt_detail);
	}
	a->enhanced[0] = (char)('0' + code / 100);
	if (a->text_len == 0) {
		a->text = dflt_text;
		a->text_len = strlen(dflt_text);
	}
}

bool access_header_valid(const char *text, size_t len)
{
	size_t name = 0;
	while (name < len && text[name] > ' ' && text[name] < 0x7f && text[name] != ':')
		name++;
	if (name == 0 || name == len || text[name] != ':')
		return false;
	for (size_t i = name; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		if ((c < ' ' && c != '\t') || c == 0x7f)
			return false;
	}
	return true;
}

bool access_one_address(const char *text, size_t len)
{
	const char *at = memchr(text, '@', len);
	if (len == 0 || len > 254 || at == NULL || at == text || at == text + len - 1)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		if (c <= 0x20 || c == 0x7f || c == '<' || c == '>' || c == ',')
			return false;
	}
	return true;
}

void access_action_parse(const char *value, int reject_code, int defer_code,
                         struct access_action *a)
{
	memset(a, 0, sizeof(*a));
	while (*value == ' ' || *value == '\t')
		value++;
	a->word = value;
	a->word_len = strcspn(value, " \t");
	a->text = value + a->word_len;
	while (*a->text == ' ' || *a->text == '\t')
		a->text++;
	a->text_len = strlen(a->text);
	if (word_is(a, "OK")) {
		a->kind = ACCESS_OK;
	} else if (word_is(a, "DUNNO")) {
		a->kind = ACCESS_DUNNO;
	} else if (word_is(a, "REJECT")) {
		refuse(a, ACCESS_REFUSE, reject_code, "7.1", "Access denied");
	} else if (word_is(a, "DEFER")) {
		refuse(a, ACCESS_REFUSE, defer_code, "7.1", "Access denied");
	} else if (word_is(a, "DEFER_IF_PERMIT")) {
		refuse(a, ACCESS_DEFER_IF_PERMIT, defer_code, "7.1", "Service unavailable");
	} else if (word_is(a, "DEFER_IF_REJECT")) {
		refuse(a, ACCESS_DEFER_IF_REJECT, defer_code, "7.1", "Service unavailable");
	} else if (word_is(a, "DISCARD")) {
		a->kind = ACCESS_DISCARD;
	} else if (word_is(a, "HOLD")) {
		a->kind = ACCESS_HOLD;
	} else if (word_is(a, "WARN")) {
		a->kind = ACCESS_WARN;
	} else if (word_is(a, "PREPEND")) {
		a->kind =
		    access_header_valid(a->text, a->text_len) ? ACCESS_PREPEND : ACCESS_IGNORED;
		if (a->kind == ACCESS_IGNORED)
			a->error = "PREPEND requires a header field \"name: value\"";
	} else if (word_is(a, "FILTER")) {
		char filter[256];
		bool fits = a->text_len < sizeof(filter);
		if (fits) {
			memcpy(filter, a->text, a->text_len);
			filter[a->text_len] = '\0';
		}
		a->kind = fits && content_filter_valid(filter) ? ACCESS_FILTER : ACCESS_IGNORED;
		if (a->kind == ACCESS_IGNORED)
			a->error = "FILTER requires transport:destination";
	} else if (word_is(a, "REDIRECT") || word_is(a, "BCC")) {
		bool redirect = a->word_len == 8;
		a->kind = access_one_address(a->text, a->text_len)
		              ? (redirect ? ACCESS_REDIRECT : ACCESS_BCC)
		              : ACCESS_IGNORED;
		if (a->kind == ACCESS_IGNORED)
			a->error = redirect ? "REDIRECT requires one address user@domain"
			                    : "BCC requires one address user@domain";
	} else if (three_digits(a) && a->word[0] == '2') {
		a->kind = ACCESS_OK;
	} else if (three_digits(a) && (a->word[0] == '4' || a->word[0] == '5')) {
		int code = (a->word[0] - '0') * 100 + (a->word[1] - '0') * 10 + (a->word[2] - '0');
		refuse(a, ACCESS_REFUSE, code, "7.1", "Access denied");
	} else {
		a->kind = ACCESS_INVALID;
		a->error = a->word_len == 0 ? "empty action" : "unknown action";
	}
}

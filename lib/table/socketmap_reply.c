/*
 * The socket map protocol's netstrings and replies, without I/O (see
 * socketmap_reply.h).
 */
#include <string.h>

#include "table/socketmap_reply.h"

void socketmap_netstring(struct str *out, const char *data, size_t len)
{
	str_printf(out, "%zu:", len);
	str_append(out, data, len);
	str_append_char(out, ',');
}

long socketmap_netstring_length(const char *digits, size_t len)
{
	if (len == 0 || len > 6 || (len > 1 && digits[0] == '0'))
		return -1;
	long n = 0;
	for (size_t i = 0; i < len; i++) {
		if (digits[i] < '0' || digits[i] > '9')
			return -1;
		n = n * 10 + (digits[i] - '0');
	}
	return n <= SOCKETMAP_MAX_REPLY ? n : -1;
}

/* Whether reply starts with word followed by a space or its end; *rest_r
 * is what follows the space. */
static int starts_word(const char *reply, size_t len, const char *word, const char **rest_r,
                       size_t *rest_len_r)
{
	size_t wlen = strlen(word);
	if (len < wlen || memcmp(reply, word, wlen) != 0)
		return 0;
	if (len == wlen) {
		*rest_r = reply + len;
		*rest_len_r = 0;
		return 1;
	}
	if (reply[wlen] != ' ')
		return 0;
	*rest_r = reply + wlen + 1;
	*rest_len_r = len - wlen - 1;
	return 1;
}

enum socketmap_status socketmap_reply_parse(const char *reply, size_t len, const char **text_r,
                                            size_t *text_len_r)
{
	static const struct {
		const char *word;
		enum socketmap_status status;
	} words[] = {
	    {"OK", SOCKETMAP_FOUND},     {"NOTFOUND", SOCKETMAP_NOTFOUND}, {"TEMP", SOCKETMAP_TEMP},
	    {"TIMEOUT", SOCKETMAP_TEMP}, {"PERM", SOCKETMAP_PERM},
	};
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (starts_word(reply, len, words[i].word, text_r, text_len_r))
			return words[i].status;
	*text_r = reply;
	*text_len_r = len;
	return SOCKETMAP_INVALID;
}

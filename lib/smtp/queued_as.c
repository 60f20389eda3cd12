/*
 * "queued as ID" in a server's reply (queued_as.h).
 */
#include "smtp/queued_as.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

static bool id_char(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '_' || c == '.';
}

size_t smtp_reply_queued_as(const char *text, size_t len, char *out, size_t out_size)
{
	static const char words[] = "queued as ";
	const size_t words_len = sizeof(words) - 1;
	if (out_size > 0)
		out[0] = '\0';
	for (size_t at = 0; at + words_len <= len; at++) {
		if (strncasecmp(text + at, words, words_len) != 0)
			continue;
		const char *id = text + at + words_len;
		size_t rest = len - at - words_len, n = 0;
		while (n < rest && id_char((unsigned char)id[n]))
			n++;
		while (n > 0 && id[n - 1] == '.')
			n--;
		if (n == 0 || n > QUEUED_AS_MAX || n + 1 > out_size)
			return 0;
		memcpy(out, id, n);
		out[n] = '\0';
		return n;
	}
	return 0;
}

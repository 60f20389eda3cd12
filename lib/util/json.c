/*
 * JSON string escaping.
 */
#include "util/json.h"

#include <string.h>

void json_append_string(struct str *out, const char *text, size_t len)
{
	str_append_char(out, '"');
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		switch (c) {
		case '"':
			str_append_cstr(out, "\\\"");
			break;
		case '\\':
			str_append_cstr(out, "\\\\");
			break;
		case '\n':
			str_append_cstr(out, "\\n");
			break;
		case '\r':
			str_append_cstr(out, "\\r");
			break;
		case '\t':
			str_append_cstr(out, "\\t");
			break;
		default:
			if (c < 0x20 || c == 0x7f)
				str_printf(out, "\\u%04x", c);
			else
				str_append_char(out, (char)c);
		}
	}
	str_append_char(out, '"');
}

void json_append_cstr(struct str *out, const char *text)
{
	json_append_string(out, text, strlen(text));
}

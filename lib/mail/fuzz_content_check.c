/* Fuzz target: content checks and their MIME reader take any message.
 * The first byte picks the size of the body's pieces; the rest is a
 * message, its headers up to the first empty line. With tables that match
 * nothing the output must be the input, byte for byte; with tables that
 * act on many lines (IGNORE, REPLACE, PREPEND, HOLD, WARN) it must just
 * not fail. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/content_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int match_nothing(void *ctx, const char *spec, const char *key, struct str *value)
{
	(void)ctx;
	(void)spec;
	(void)key;
	(void)value;
	return 0;
}

static int match_by_first_letter(void *ctx, const char *spec, const char *key, struct str *value)
{
	(void)ctx;
	(void)spec;
	switch (key[0]) {
	case 'I':
		str_set(value, "IGNORE");
		return 1;
	case 'R':
		str_set(value, "REPLACE X-Replaced: yes");
		return 1;
	case 'P':
		str_set(value, "PREPEND X-Prepended: yes");
		return 1;
	case 'H':
		str_set(value, "HOLD held");
		return 1;
	case 'W':
		str_set(value, "WARN odd");
		return 1;
	case '?':
		str_set(value, "no such action");
		return 1;
	default:
		return 0;
	}
}

static void note(void *ctx, const char *action, const char *part, const char *line,
                 const char *text)
{
	(void)ctx;
	if (!action || !part || !line || !text)
		abort();
}

static char *maps[] = {"t", NULL};

static void run(const struct content_check_config *cfg, const uint8_t *msg, size_t len, size_t step,
                struct str *out)
{
	size_t head = len;
	for (size_t i = 0; i + 1 < len; i++) {
		if (msg[i] == '\n' && (msg[i + 1] == '\n' ||
		                       (msg[i + 1] == '\r' && i + 2 < len && msg[i + 2] == '\n'))) {
			head = i + 1;
			break;
		}
	}
	struct content_check c;
	content_check_init(&c, cfg);
	content_check_headers(&c, (const char *)msg, head, out);
	for (size_t at = head; at < len; at += step)
		content_check_body(&c, (const char *)msg + at, len - at < step ? len - at : step,
		                   out);
	content_check_body_end(&c, out);
	if (c.verdict != CONTENT_ACCEPT)
		abort(); /* no table here refuses */
	content_check_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t step = (size_t)(data[0] % 64) + 1;
	const uint8_t *msg = data + 1;
	size_t len = size - 1;
	struct content_check_config cfg = {.header_maps = maps,
	                                   .mime_header_maps = maps,
	                                   .nested_header_maps = maps,
	                                   .body_maps = maps,
	                                   .body_size_limit = (long long)(data[0] % 3) * 100,
	                                   .lookup = match_nothing,
	                                   .note = note};
	struct str out = STR_INIT;
	run(&cfg, msg, len, step, &out);
	if (out.len != len || (len > 0 && memcmp(out.data, msg, len) != 0))
		abort();
	str_clear(&out);
	cfg.lookup = match_by_first_letter;
	run(&cfg, msg, len, step, &out);
	str_free(&out);
	return 0;
}

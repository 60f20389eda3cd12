/* Fuzz target: the POP3 command parser and the message encoder over
 * arbitrary bytes. Besides memory safety it checks that a parsed command
 * is consistent (numbers in range, arguments where the verb needs them),
 * that an error carries a text, and that the encoder's output, chunked at
 * a byte chosen by the input, is the same as in one piece, has only CRLF
 * line ends, no line that is a lone "." before the end, and ends in
 * ".\r\n". */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pop3/pop3_command.h"
#include "pop3/pop3_message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_command(const char *line, size_t len)
{
	struct pop3_command cmd;
	const char *error = NULL;
	if (pop3_command_parse(line, len, &cmd, &error) != 0) {
		if (error == NULL || *error == '\0')
			abort();
		return;
	}
	switch (cmd.verb) {
	case POP3_USER:
	case POP3_PASS:
		if (cmd.arg == NULL || *cmd.arg == '\0')
			abort();
		break;
	case POP3_RETR:
	case POP3_DELE:
	case POP3_TOP:
		if (!cmd.has_msg || cmd.msg == 0)
			abort();
		break;
	case POP3_LIST:
	case POP3_UIDL:
		if (cmd.has_msg && cmd.msg == 0)
			abort();
		break;
	default:
		break;
	}
	pop3_command_free(&cmd);
}

static void check_encoded(const struct str *out)
{
	if (out->len < 3 || memcmp(out->data + out->len - 3, ".\r\n", 3) != 0)
		abort();
	for (size_t i = 0; i < out->len; i++) {
		if (out->data[i] == '\n' && (i == 0 || out->data[i - 1] != '\r'))
			abort();
		bool line_start = i == 0 || out->data[i - 1] == '\n';
		if (line_start && i + 3 < out->len && memcmp(out->data + i, ".\r\n", 3) == 0)
			abort();
	}
}

static void fuzz_encoder(const char *data, size_t len, long lines, size_t split)
{
	struct str whole = STR_INIT, parts = STR_INIT;
	struct pop3_encoder e;
	pop3_encoder_init(&e, lines);
	pop3_encoder_feed(&e, data, len, &whole);
	pop3_encoder_finish(&e, &whole);
	pop3_encoder_init(&e, lines);
	if (split > len)
		split = len;
	pop3_encoder_feed(&e, data, split, &parts);
	pop3_encoder_feed(&e, data + split, len - split, &parts);
	pop3_encoder_finish(&e, &parts);
	if (whole.len != parts.len || memcmp(whole.data, parts.data, whole.len) != 0)
		abort();
	check_encoded(&whole);
	str_free(&whole);
	str_free(&parts);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	/* Every line of the input as a command. */
	size_t start = 0;
	for (size_t i = 0; i <= size; i++) {
		if (i == size || data[i] == '\n') {
			size_t end = i;
			if (end > start && data[end - 1] == '\r')
				end--;
			fuzz_command(text + start, end - start);
			start = i + 1;
		}
	}
	if (size >= 2) {
		long lines = data[0] == 0xff ? -1 : data[0] % 8;
		fuzz_encoder(text + 2, size - 2, lines, data[1]);
	}
	return 0;
}

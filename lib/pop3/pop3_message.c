/*
 * The POP3 message encoder (see pop3_message.h): line ends, dot-stuffing
 * and TOP's line limit, one byte at a time with runs copied in bulk.
 */
#include "pop3/pop3_message.h"

#include <string.h>

void pop3_encoder_init(struct pop3_encoder *e, long body_lines)
{
	memset(e, 0, sizeof(*e));
	e->line_start = true;
	e->line_empty = true;
	e->limited = body_lines >= 0;
	e->body_lines_left = body_lines >= 0 ? (unsigned long)body_lines : 0;
}

/* A line ended (LF seen): write CRLF and update the header/body state. */
static void end_line(struct pop3_encoder *e, struct str *out)
{
	str_append(out, "\r\n", 2);
	if (e->in_body) {
		if (e->limited && --e->body_lines_left == 0)
			e->done = true;
	} else if (e->line_empty) {
		e->in_body = true;
		if (e->limited && e->body_lines_left == 0)
			e->done = true;
	}
	e->line_start = true;
	e->line_empty = true;
}

bool pop3_encoder_feed(struct pop3_encoder *e, const char *data, size_t len, struct str *out)
{
	size_t i = 0;
	str_reserve(out, len + len / 16 + 4);
	while (i < len && !e->done) {
		char c = data[i];
		if (e->pending_cr) {
			e->pending_cr = false;
			if (c == '\n') {
				i++;
				end_line(e, out);
				continue;
			}
			str_append_char(out, '\r');
			e->line_empty = false;
		}
		if (e->line_start) {
			e->line_start = false;
			if (c == '.')
				str_append_char(out, '.');
		}
		if (c == '\n') {
			i++;
			end_line(e, out);
			continue;
		}
		if (c == '\r') {
			i++;
			e->pending_cr = true;
			continue;
		}
		/* Copy the run of ordinary bytes up to the next CR or LF. */
		size_t j = i;
		while (j < len && data[j] != '\r' && data[j] != '\n')
			j++;
		str_append(out, data + i, j - i);
		e->line_empty = false;
		i = j;
	}
	return !e->done;
}

void pop3_encoder_finish(struct pop3_encoder *e, struct str *out)
{
	if (!e->done) {
		if (e->pending_cr) {
			/* A CR at the very end: it ends the last line. */
			e->pending_cr = false;
			e->line_start = true;
			str_append(out, "\r\n", 2);
		} else if (!e->line_start) {
			str_append(out, "\r\n", 2);
		}
	}
	str_append(out, ".\r\n", 3);
}

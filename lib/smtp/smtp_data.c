/*
 * DATA stream decoding: dot-unstuffing, end-of-data detection that only
 * accepts CRLF.CRLF, and bare CR/LF accounting (see smtp_data.h).
 */
#include "smtp/smtp_data.h"

enum {
	ST_LINE_START, /* at the first byte of a line */
	ST_DOT,        /* the line began with '.' */
	ST_DOT_CR,     /* the line is ".\r" so far */
	ST_MIDDLE,     /* inside a line */
	ST_CR,         /* inside a line, after '\r' */
};

void smtp_data_init(struct smtp_data_decoder *d)
{
	*d = (struct smtp_data_decoder){.state = ST_LINE_START, .line_after_crlf = true};
}

static void end_line(struct smtp_data_decoder *d, struct str *out, bool real_crlf)
{
	str_append(out, "\r\n", 2);
	if (d->line_len > d->max_line)
		d->max_line = d->line_len;
	d->line_len = 0;
	d->line_after_crlf = real_crlf;
	d->state = ST_LINE_START;
}

static void content_byte(struct smtp_data_decoder *d, struct str *out, char c)
{
	str_append_char(out, c);
	d->line_len++;
}

/* A byte inside a line (ST_MIDDLE semantics). */
static void middle_byte(struct smtp_data_decoder *d, struct str *out, char c)
{
	if (c == '\r') {
		d->state = ST_CR;
	} else if (c == '\n') {
		d->bare_lf++;
		end_line(d, out, false);
	} else {
		content_byte(d, out, c);
		d->state = ST_MIDDLE;
	}
}

size_t smtp_data_feed(struct smtp_data_decoder *d, const char *in, size_t len, struct str *out)
{
	size_t i = 0;
	while (i < len && !d->done) {
		char c = in[i++];
		switch (d->state) {
		case ST_LINE_START:
			if (c == '.')
				d->state = ST_DOT;
			else
				middle_byte(d, out, c);
			break;
		case ST_DOT:
			if (c == '\r') {
				d->state = ST_DOT_CR;
			} else {
				/* The leading dot is removed (stuffing), then the byte counts. */
				middle_byte(d, out, c);
			}
			break;
		case ST_DOT_CR:
			if (c == '\n' && d->line_after_crlf) {
				d->done = true;
			} else if (c == '\n') {
				/* "." after a bare line end: content, never the end. */
				content_byte(d, out, '.');
				end_line(d, out, true);
			} else {
				/* ".\r" then something else: a bare CR ends the "." line. */
				d->bare_cr++;
				content_byte(d, out, '.');
				end_line(d, out, false);
				i--; /* this byte starts the next line */
			}
			break;
		case ST_MIDDLE:
			if (c != '\r' && c != '\n') {
				/* Copy the rest of the line's ordinary bytes at once. */
				size_t run = 1;
				while (i - 1 + run < len && in[i - 1 + run] != '\r' &&
				       in[i - 1 + run] != '\n')
					run++;
				str_append(out, in + i - 1, run);
				d->line_len += run;
				i += run - 1;
				break;
			}
			middle_byte(d, out, c);
			break;
		case ST_CR:
			if (c == '\n') {
				end_line(d, out, true);
			} else {
				d->bare_cr++;
				end_line(d, out, false);
				i--; /* this byte starts the next line */
			}
			break;
		}
	}
	return i;
}

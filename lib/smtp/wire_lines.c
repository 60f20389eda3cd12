/*
 * Line ends and dot-stuffing on the way out (wire_lines.h). A CR is held
 * back until the next byte shows whether it starts a CRLF pair.
 */
#include "smtp/wire_lines.h"

void wire_lines_init(struct wire_lines *w, bool dot_stuff, size_t max_line)
{
	*w = (struct wire_lines){.dot_stuff = dot_stuff, .line_start = true, .max_line = max_line};
}

void wire_lines_put(struct wire_lines *w, const void *in, size_t len, struct str *out)
{
	const char *p = in;
	size_t run = 0; /* start of bytes to copy as they are */
	for (size_t i = 0; i < len; i++) {
		char c = p[i];
		if (w->pending_cr) {
			/* CR then LF is a line end as it is; a bare CR gets its LF. */
			w->pending_cr = false;
			if (c != '\n') {
				str_append(out, p + run, i - run);
				str_append_char(out, '\n');
				run = i;
			}
			w->line_start = true;
			w->column = 0;
			if (c == '\n')
				continue;
		}
		if (c == '\r') {
			w->pending_cr = true;
			continue;
		}
		if (c == '\n') {
			/* A bare LF: CRLF pairs were taken care of above. */
			str_append(out, p + run, i - run);
			str_append(out, "\r\n", 2);
			run = i + 1;
			w->line_start = true;
			w->column = 0;
			continue;
		}
		if (w->max_line > 0 && w->column >= w->max_line) {
			/* Too long: the rest goes on a continuation line. */
			str_append(out, p + run, i - run);
			str_append(out, "\r\n ", 3);
			run = i;
			w->column = 1;
			w->line_start = false;
		}
		w->column++;
		if (w->line_start && c == '.' && w->dot_stuff) {
			str_append(out, p + run, i - run);
			str_append_char(out, '.');
			run = i;
		}
		w->line_start = false;
	}
	str_append(out, p + run, len - run);
}

void wire_lines_end(struct wire_lines *w, struct str *out)
{
	if (w->pending_cr) {
		/* The CR itself went out with the last piece. */
		str_append_char(out, '\n');
		w->pending_cr = false;
		w->line_start = true;
		w->column = 0;
	}
	if (!w->line_start) {
		str_append(out, "\r\n", 2);
		w->line_start = true;
		w->column = 0;
	}
}

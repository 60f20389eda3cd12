/*
 * Diagnostics lists: "file:line: message" strings with a severity, filled by
 * the configuration parsers and printed or logged by the programs.
 */
#include "conf/diag.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/str.h"

void diag_list_init(struct diag_list *list)
{
	list->items = NULL;
	list->count = 0;
	list->cap = 0;
}

void diag_list_free(struct diag_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		free(list->items[i].text);
	free(list->items);
	diag_list_init(list);
}

/* The text is "file:line: message"; line <= 0 leaves out the line number and
 * a NULL file leaves out the place altogether. */
void diag_add(struct diag_list *list, enum diag_severity severity, const char *file, int line,
              const char *fmt, ...)
{
	struct str text = STR_INIT;
	if (file != NULL && line > 0)
		str_printf(&text, "%s:%d: ", file, line);
	else if (file != NULL)
		str_printf(&text, "%s: ", file);
	va_list ap;
	va_start(ap, fmt);
	str_vprintf(&text, fmt, ap);
	va_end(ap);
	if (list->count == list->cap) {
		list->cap = list->cap ? list->cap * 2 : 8;
		list->items = xreallocarray(list->items, list->cap, sizeof(*list->items));
	}
	list->items[list->count].severity = severity;
	list->items[list->count].text = str_steal(&text);
	list->count++;
}

size_t diag_count(const struct diag_list *list, enum diag_severity severity)
{
	size_t n = 0;
	for (size_t i = 0; i < list->count; i++)
		if (list->items[i].severity == severity)
			n++;
	return n;
}

bool diag_has_errors(const struct diag_list *list)
{
	return diag_count(list, DIAG_ERROR) > 0;
}

int diag_read_file(const char *path, struct str *text, struct diag_list *list)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		diag_add(list, DIAG_ERROR, path, 0, "cannot open: %s", strerror(errno));
		return -1;
	}
	char buf[8192];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		str_append(text, buf, n);
	int read_errno = ferror(f) ? errno : 0;
	fclose(f);
	if (read_errno != 0) {
		diag_add(list, DIAG_ERROR, path, 0, "cannot read: %s", strerror(read_errno));
		return -1;
	}
	return 0;
}

bool diag_logical_line_ok(struct diag_list *list, const char *file,
                          const struct logical_lines *line)
{
	if (line->has_nul)
		diag_add(list, DIAG_ERROR, file, line->line, "NUL character in line");
	else if (line->continues)
		diag_add(list, DIAG_ERROR, file, line->line,
		         "line starts with white space but there is no line to continue");
	return !line->has_nul && !line->continues;
}

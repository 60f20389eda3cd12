/*
 * Diagnostics collected while reading a configuration or table source:
 * each is "file:line: text" with a severity, so a checker can print them all
 * and a daemon can log them. Parsers fill a list; they never print or exit.
 */
#ifndef POSTERN_CONF_DIAG_H
#define POSTERN_CONF_DIAG_H

#include <stdbool.h>
#include <stddef.h>

#include "util/logical_lines.h"

enum diag_severity { DIAG_WARNING, DIAG_ERROR };

struct diag {
	enum diag_severity severity;
	char *text; /* "file:line: message" */
};

struct diag_list {
	struct diag *items;
	size_t count;
	size_t cap;
};

void diag_list_init(struct diag_list *list);
void diag_list_free(struct diag_list *list);
void diag_add(struct diag_list *list, enum diag_severity severity, const char *file, int line,
              const char *fmt, ...) __attribute__((format(printf, 5, 6)));
size_t diag_count(const struct diag_list *list, enum diag_severity severity);
bool diag_has_errors(const struct diag_list *list);

/* For the configuration parsers: report a logical line no configuration
 * file may have (a NUL character, or continuation text with no line to
 * continue) as an error. True when the line is fit to parse. */
bool diag_logical_line_ok(struct diag_list *list, const char *file,
                          const struct logical_lines *line);

/* Read a whole configuration or table source file into text; on failure
 * add "path: cannot open/read: reason" to list and return -1. */
struct str;
int diag_read_file(const char *path, struct str *text, struct diag_list *list);

#endif

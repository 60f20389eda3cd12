/*
 * Address fields of the header section rewritten in place, and folded
 * again when a line grew too long (see addr_header.h).
 */
#include "mail/addr_header.h"

#include <string.h>
#include <strings.h>

/* Postfix's header_opts entries with HDR_OPT_SENDER or HDR_OPT_RECIP,
 * and which of the two each has (Resent-Reply-To is a recipient field
 * there, and so here). */
static const struct {
	const char *name;
	enum addr_header_kind kind;
} address_fields[] = {
    {"Apparently-To", ADDR_HEADER_RECIPIENT},
    {"Bcc", ADDR_HEADER_RECIPIENT},
    {"Cc", ADDR_HEADER_RECIPIENT},
    {"Disposition-Notification-To", ADDR_HEADER_SENDER},
    {"Errors-To", ADDR_HEADER_SENDER},
    {"From", ADDR_HEADER_SENDER},
    {"Mail-Followup-To", ADDR_HEADER_SENDER},
    {"Reply-To", ADDR_HEADER_SENDER},
    {"Resent-Bcc", ADDR_HEADER_RECIPIENT},
    {"Resent-Cc", ADDR_HEADER_RECIPIENT},
    {"Resent-From", ADDR_HEADER_SENDER},
    {"Resent-Reply-To", ADDR_HEADER_RECIPIENT},
    {"Resent-Sender", ADDR_HEADER_SENDER},
    {"Resent-To", ADDR_HEADER_RECIPIENT},
    {"Return-Path", ADDR_HEADER_SENDER},
    {"Return-Receipt-To", ADDR_HEADER_SENDER},
    {"Sender", ADDR_HEADER_SENDER},
    {"To", ADDR_HEADER_RECIPIENT},
};

unsigned addr_header_field_kind(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(address_fields) / sizeof(address_fields[0]); i++)
		if (strlen(address_fields[i].name) == len &&
		    strncasecmp(address_fields[i].name, name, len) == 0)
			return address_fields[i].kind;
	return 0;
}

bool addr_header_is_address_field(const char *name, size_t len)
{
	return addr_header_field_kind(name, len) != 0;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Length of the field name that line[0..len) starts with (printable
 * ASCII up to the colon, white space allowed before the colon as in
 * obs-optional), or 0 when it does not start a field. *colon_r: the
 * colon's index. */
static size_t field_name_len(const char *line, size_t len, size_t *colon_r)
{
	size_t n = 0;
	while (n < len && line[n] > ' ' && line[n] < 127 && line[n] != ':')
		n++;
	size_t c = n;
	while (c < len && is_blank(line[c]))
		c++;
	if (n == 0 || c == len || line[c] != ':')
		return 0;
	*colon_r = c;
	return n;
}

/* Fold one line, line[0..len) without its line end, into out; eol is
 * the line end a fold puts in. */
static void fold_line(const char *line, size_t len, const char *eol, struct str *out)
{
	size_t s = 0;
	size_t last = len; /* the last non-blank byte */
	while (last > 0 && is_blank(line[last - 1]))
		last--;
	while (len - s > ADDR_HEADER_LINE_MAX) {
		size_t first = s; /* the first non-blank byte of this piece */
		while (first < len && is_blank(line[first]))
			first++;
		/* A fold goes before a blank with text on both sides of it:
		 * the last one that keeps this piece short enough, else the
		 * first one after that. */
		size_t at = 0;
		for (size_t k = s + ADDR_HEADER_LINE_MAX; k > first; k--) {
			if (k < last && is_blank(line[k])) {
				at = k;
				break;
			}
		}
		for (size_t k = s + ADDR_HEADER_LINE_MAX + 1; at == 0 && k + 1 < last; k++)
			if (is_blank(line[k]))
				at = k;
		if (at == 0)
			break;
		str_append(out, line + s, at - s);
		str_append_cstr(out, eol);
		s = at;
	}
	str_append(out, line + s, len - s);
}

void addr_header_fold(const char *field, size_t len, struct str *out)
{
	for (size_t pos = 0; pos < len;) {
		const char *nl = memchr(field + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - field) + 1 : len;
		size_t text_end = end;
		const char *eol = "\r\n";
		if (nl != NULL) {
			text_end--;
			if (text_end > pos && field[text_end - 1] == '\r')
				text_end--;
			else
				eol = "\n";
		}
		fold_line(field + pos, text_end - pos, eol, out);
		str_append(out, field + text_end, end - text_end);
		pos = end;
	}
}

/* The end of the line starting at in[pos] (after its LF), or 0 when it
 * has no LF and more may follow. */
static size_t line_end(const char *in, size_t len, size_t pos, bool at_end)
{
	const char *nl = memchr(in + pos, '\n', len - pos);
	if (nl != NULL)
		return (size_t)(nl - in) + 1;
	return at_end ? len : 0;
}

/* One field's addresses through an addr_header_map_fn: the addr_list_map_fn
 * that addr_list_rewrite calls. */
struct field_map {
	addr_header_map_fn *map;
	void *ctx;
	enum addr_header_kind kind;
};

static int map_in_field(void *ctx, const char *spec, struct str *replacement)
{
	struct field_map *fm = ctx;
	return fm->map(fm->ctx, fm->kind, spec, replacement);
}

int addr_header_rewrite_kinds(const char *in, size_t len, bool at_end, unsigned kinds,
                              addr_header_map_fn *map, void *ctx, struct str *out, size_t *used_r)
{
	struct field_map fm = {map, ctx, 0};
	size_t pos = 0;
	int changed = 0;
	struct str value = STR_INIT;
	while (pos < len) {
		size_t end = line_end(in, len, pos, at_end);
		if (end == 0)
			break;
		const char *line = in + pos;
		if (line[0] == '\n' || (line[0] == '\r' && end - pos == 2 && line[1] == '\n')) {
			/* The empty line that ends the section. */
			str_append(out, line, end - pos);
			pos = end;
			break;
		}
		size_t colon;
		size_t name_len = field_name_len(line, end - pos, &colon);
		if (name_len == 0)
			break; /* not a field: the body starts here */
		/* The field goes on over the lines that start with a blank. */
		bool complete = true;
		while (complete) {
			if (end == len) {
				complete = at_end;
				break;
			}
			if (!is_blank(in[end]))
				break;
			size_t next = line_end(in, len, end, at_end);
			if (next == 0)
				complete = false;
			else
				end = next;
		}
		if (!complete)
			break;
		const char *field = line;
		size_t field_len = end - pos;
		int rc = 0;
		fm.kind = addr_header_field_kind(field, name_len);
		if ((fm.kind & kinds) != 0) {
			str_clear(&value);
			rc = addr_list_rewrite(field + colon + 1, field_len - colon - 1,
			                       map_in_field, &fm, &value);
		}
		if (rc < 0) {
			changed = -1;
			break;
		}
		if (rc == 1) {
			struct str rewritten = STR_INIT;
			str_append(&rewritten, field, colon + 1);
			str_append(&rewritten, value.data, value.len);
			addr_header_fold(rewritten.data, rewritten.len, out);
			str_free(&rewritten);
			changed = 1;
		} else {
			str_append(out, field, field_len);
		}
		pos = end;
	}
	str_free(&value);
	*used_r = pos;
	return changed;
}

/* An addr_list_map_fn called for the addresses of every kind of field. */
struct any_field {
	addr_list_map_fn *map;
	void *ctx;
};

static int map_any_field(void *ctx, enum addr_header_kind kind, const char *spec,
                         struct str *replacement)
{
	(void)kind;
	struct any_field *af = ctx;
	return af->map(af->ctx, spec, replacement);
}

int addr_header_rewrite(const char *in, size_t len, bool at_end, addr_list_map_fn *map, void *ctx,
                        struct str *out, size_t *used_r)
{
	struct any_field af = {map, ctx};
	return addr_header_rewrite_kinds(in, len, at_end,
	                                 ADDR_HEADER_SENDER | ADDR_HEADER_RECIPIENT, map_any_field,
	                                 &af, out, used_r);
}

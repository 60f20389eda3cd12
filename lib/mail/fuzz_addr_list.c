/* Fuzz target: address lists and header sections read for rewriting.
 * The spans of a list lie in order within it, and rewriting every
 * addr-spec to "X@Y" keeps the list's shape (parsed again, it has as
 * many addr-specs, each "X@Y"). A header section that nothing changed
 * comes out byte for byte; rewriting one kind of field takes as much of
 * it as rewriting all, and shows the map addresses of that kind only;
 * folding only adds line ends. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/addr_header.h"
#include "mail/addr_list.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int to_xy(void *ctx, const char *spec, struct str *replacement)
{
	(void)ctx;
	if (*spec == '\0')
		abort();
	str_append_cstr(replacement, "X@Y");
	return 1;
}

static int keep(void *ctx, const char *spec, struct str *replacement)
{
	(void)ctx;
	(void)spec;
	(void)replacement;
	return 0;
}

/* An addr_header_map_fn that insists on the kinds it was asked for. */
static int kind_to_xy(void *ctx, enum addr_header_kind kind, const char *spec,
                      struct str *replacement)
{
	const unsigned *kinds = ctx;
	if ((kind != ADDR_HEADER_SENDER && kind != ADDR_HEADER_RECIPIENT) || !(*kinds & kind))
		abort();
	return to_xy(NULL, spec, replacement);
}

static void without_line_ends(const char *in, size_t len, struct str *out)
{
	for (size_t i = 0; i < len; i++)
		if (in[i] != '\r' && in[i] != '\n')
			str_append_char(out, in[i]);
}

static void check_list(const char *text, size_t len)
{
	struct addr_list_span *spans;
	size_t count;
	if (addr_list_parse(text, len, &spans, &count) != 0)
		return;
	size_t prev = 0;
	struct str spec = STR_INIT;
	for (size_t i = 0; i < count; i++) {
		if (spans[i].start < prev || spans[i].end <= spans[i].start || spans[i].end > len)
			abort();
		prev = spans[i].end;
		str_clear(&spec);
		addr_list_spec(text, &spans[i], &spec);
		if (spec.len == 0 || spec.len > spans[i].end - spans[i].start)
			abort();
	}
	struct str out = STR_INIT;
	int rc = addr_list_rewrite(text, len, to_xy, NULL, &out);
	if (rc < 0 || (rc == 0 && out.len != 0))
		abort();
	if (rc == 1) {
		struct addr_list_span *again;
		size_t again_count;
		if (addr_list_parse(out.data, out.len, &again, &again_count) != 0 ||
		    again_count != count)
			abort();
		for (size_t i = 0; i < again_count; i++) {
			str_clear(&spec);
			addr_list_spec(out.data, &again[i], &spec);
			if (!str_equal_cstr(&spec, "X@Y"))
				abort();
		}
		free(again);
	}
	str_free(&out);
	str_free(&spec);
	free(spans);
}

static void check_section(const char *text, size_t len, bool at_end, unsigned kinds)
{
	struct str out = STR_INIT;
	size_t used = 0;
	if (addr_header_rewrite(text, len, at_end, keep, NULL, &out, &used) != 0 || used > len ||
	    out.len != used || (used && memcmp(out.data, text, used) != 0))
		abort();
	str_clear(&out);
	int rc = addr_header_rewrite(text, len, at_end, to_xy, NULL, &out, &used);
	if (rc < 0 || used > len)
		abort();
	str_clear(&out);
	size_t used_kinds = 0;
	if (addr_header_rewrite_kinds(text, len, at_end, kinds, kind_to_xy, &kinds, &out,
	                              &used_kinds) < 0 ||
	    used_kinds != used)
		abort();
	str_free(&out);
	/* Folding keeps every byte but line ends. */
	struct str folded = STR_INIT, a = STR_INIT, b = STR_INIT;
	addr_header_fold(text, len, &folded);
	without_line_ends(text, len, &a);
	without_line_ends(folded.data ? folded.data : "", folded.len, &b);
	if (folded.len < len || a.len != b.len || (a.len && memcmp(a.data, b.data, a.len) != 0))
		abort();
	str_free(&folded);
	str_free(&a);
	str_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	const char *text = (const char *)data + 1;
	check_list(text, size - 1);
	check_section(text, size - 1, data[0] & 1, (data[0] >> 1) & 3);
	return 0;
}

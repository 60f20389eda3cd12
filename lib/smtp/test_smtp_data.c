/* Unit tests for smtp/smtp_data: unstuffing, the end sequence, smuggling. */
#include "smtp/smtp_data.h"
#include "util/testing.h"

#include <string.h>

/* Feed text in chunks of the given size; returns bytes consumed in all. */
static size_t decode(const char *text, size_t chunk, struct smtp_data_decoder *d, struct str *out)
{
	size_t len = strlen(text), used = 0;
	smtp_data_init(d);
	while (used < len && !d->done) {
		size_t n = len - used < chunk ? len - used : chunk;
		used += smtp_data_feed(d, text + used, n, out);
	}
	return used;
}

TEST(simple_and_stuffed)
{
	for (size_t chunk = 1; chunk <= 64; chunk *= 2) {
		struct smtp_data_decoder d;
		struct str out = STR_INIT;
		const char *in = "Subject: x\r\n\r\n..leading dot\r\n.\r\nQUIT\r\n";
		size_t used = decode(in, chunk, &d, &out);
		CHECK(d.done);
		CHECK_STR(str_cstr(&out), "Subject: x\r\n\r\n.leading dot\r\n");
		CHECK(strcmp(in + used, "QUIT\r\n") == 0);
		CHECK(d.bare_lf == 0 && d.bare_cr == 0);
		str_free(&out);
	}
}

TEST(empty_message)
{
	struct smtp_data_decoder d;
	struct str out = STR_INIT;
	decode(".\r\n", 1, &d, &out);
	CHECK(d.done);
	CHECK(out.len == 0);
	str_free(&out);
}

/* The published smuggling end sequences must never end the message. */
TEST(smuggling_variants_do_not_end)
{
	const char *variants[] = {"\n.\n",   "\n.\r\n", "\r.\r",   "\r.\n",
	                          "\r\n.\n", "\n.\r",   "\r\n.\r", "\r.\r\n"};
	for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
		struct str in = STR_INIT, out = STR_INIT;
		str_printf(&in, "Subject: a\r\n\r\nbody%sMAIL FROM:<x@y>\r\nmore\r\n.\r\n",
		           variants[i]);
		struct smtp_data_decoder d;
		size_t used = decode(str_cstr(&in), 3, &d, &out);
		CHECK(d.done);
		CHECK(used == in.len);
		CHECK(strstr(str_cstr(&out), "MAIL FROM:<x@y>\r\n") != NULL);
		CHECK(d.bare_lf + d.bare_cr > 0);
		str_free(&in);
		str_free(&out);
	}
}

TEST(bare_line_ends_normalized)
{
	struct smtp_data_decoder d;
	struct str out = STR_INIT;
	decode("a\nb\rc\r\n.\r\n", 2, &d, &out);
	CHECK(d.done);
	CHECK_STR(str_cstr(&out), "a\r\nb\r\nc\r\n");
	CHECK(d.bare_lf == 1 && d.bare_cr == 1);
	str_free(&out);
}

TEST(line_length)
{
	struct smtp_data_decoder d;
	struct str out = STR_INIT;
	decode("12345\r\n1234567890\r\n.\r\n", 4, &d, &out);
	CHECK(d.max_line == 10);
	str_free(&out);
}

int main(void)
{
	RUN(simple_and_stuffed);
	RUN(empty_message);
	RUN(smuggling_variants_do_not_end);
	RUN(bare_line_ends_normalized);
	RUN(line_length);
	return TESTING_DONE();
}

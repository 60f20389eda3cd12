/*
 * Tests of the 7-bit conversion: which parts are converted and which pass
 * byte for byte, the Content-Transfer-Encoding field replaced or added,
 * quoted-printable lines (length, soft breaks, "=", trailing white space,
 * CRs), multipart and message/rfc822 walks, and that every way of cutting
 * the input, in either pass, gives the same result.
 */
#include <stdlib.h>
#include <string.h>

#include "mail/mime_7bit.h"
#include "util/testing.h"

/* Both passes, the first in pieces of scan_step bytes, the second of
 * put_step (0: all at once). */
static char *convert_in_steps(const char *in, size_t len, size_t scan_step, size_t put_step)
{
	struct mime_7bit *m = mime_7bit_new();
	struct str out = STR_INIT;
	size_t step = scan_step ? scan_step : (len ? len : 1);
	for (size_t at = 0; at < len; at += step)
		mime_7bit_scan(m, in + at, len - at < step ? len - at : step);
	mime_7bit_scan_end(m);
	step = put_step ? put_step : (len ? len : 1);
	for (size_t at = 0; at < len; at += step)
		mime_7bit_put(m, in + at, len - at < step ? len - at : step, &out);
	mime_7bit_end(m, &out);
	mime_7bit_free(m);
	str_append(&out, "", 0);
	return str_steal(&out);
}

static char *result;

static const char *conv(const char *in)
{
	size_t len = strlen(in);
	free(result);
	result = convert_in_steps(in, len, 0, 0);
	struct str whole = STR_INIT;
	mime_7bit_convert(in, len, &whole);
	str_append(&whole, "", 0);
	bool same = strcmp(whole.data, result) == 0;
	str_free(&whole);
	for (size_t step = 1; step < 8 && same; step++) {
		char *a = convert_in_steps(in, len, step, 0);
		char *b = convert_in_steps(in, len, 0, step);
		char *c = convert_in_steps(in, len, step, 8 - step);
		same = strcmp(a, result) == 0 && strcmp(b, result) == 0 && strcmp(c, result) == 0;
		free(a);
		free(b);
		free(c);
	}
	return same ? result : "(differs by cut)";
}

static bool all_7bit(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s & 0x80)
			return false;
	return true;
}

/* Quoted-printable text back to bytes (soft breaks removed). */
static char *qp_decode(const char *s)
{
	struct str out = STR_INIT;
	while (*s) {
		if (s[0] == '=' && s[1] == '\r' && s[2] == '\n') {
			s += 3;
		} else if (s[0] == '=' && s[1] && s[2]) {
			char hex[3] = {s[1], s[2], 0};
			str_append_char(&out, (char)strtol(hex, NULL, 16));
			s += 3;
		} else {
			str_append_char(&out, *s++);
		}
	}
	str_append(&out, "", 0);
	return str_steal(&out);
}

/* Every line of s at most max bytes before its CRLF. */
static bool lines_within(const char *s, size_t max)
{
	for (const char *nl; (nl = strstr(s, "\r\n")) != NULL; s = nl + 2)
		if ((size_t)(nl - s) > max)
			return false;
	return strlen(s) <= max;
}

TEST(seven_bit_passes_as_it_is)
{
	const char *in = "Subject: plain\r\nFrom: a@b\r\n\r\nhello\r\n.\r\nbye\n";
	CHECK_STR(conv(in), in);
	CHECK_STR(conv(""), "");
	/* Only the header section has 8-bit bytes: nothing to convert. */
	const char *head = "Subject: caf\xc3\xa9\r\n\r\nhello\r\n";
	CHECK_STR(conv(head), head);
	/* base64 and quoted-printable are left alone. */
	const char *b64 = "Content-Transfer-Encoding: base64\r\n\r\nw6k=\r\n";
	CHECK_STR(conv(b64), b64);
}

TEST(plain_message_gets_mime_fields)
{
	CHECK_STR(conv("Subject: x\r\n\r\ncaf\xc3\xa9\r\n"),
	          "Subject: x\r\nMIME-Version: 1.0\r\nContent-Transfer-Encoding: "
	          "quoted-printable\r\n\r\ncaf=C3=A9\r\n");
	/* A MIME-Version already there is not repeated. */
	CHECK_STR(conv("MIME-Version: 1.0\r\nSubject: x\r\n\r\n\xe9\r\n"),
	          "MIME-Version: 1.0\r\nSubject: x\r\nContent-Transfer-Encoding: "
	          "quoted-printable\r\n\r\n=E9\r\n");
}

TEST(cte_replaced_where_it_stands)
{
	CHECK_STR(conv("MIME-Version: 1.0\r\nContent-Transfer-Encoding: 8bit\r\n"
	               "Content-Type: text/plain; charset=utf-8\r\n\r\n\xc3\xa9t\xc3\xa9\r\n"),
	          "MIME-Version: 1.0\r\nContent-Transfer-Encoding: quoted-printable\r\n"
	          "Content-Type: text/plain; charset=utf-8\r\n\r\n=C3=A9t=C3=A9\r\n");
	/* Folded, odd case, with a comment; a second one is dropped. */
	CHECK_STR(conv("MIME-Version: 1.0\r\ncontent-transfer-encoding:\r\n (x) BINARY\r\n"
	               "Content-Transfer-Encoding: 8bit\r\n\r\n\xe9\r\n"),
	          "MIME-Version: 1.0\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
	          "=E9\r\n");
	/* Said to be 8bit, is 7-bit: only the label changes. */
	CHECK_STR(conv("Content-Transfer-Encoding: 8bit\r\n\r\nascii = fine \r\n"),
	          "Content-Transfer-Encoding: 7bit\r\n\r\nascii = fine \r\n");
	/* Said to be 7bit, is not: converted. */
	CHECK_STR(conv("MIME-Version: 1.0\r\nContent-Transfer-Encoding: 7bit\r\n\r\n\xe9\r\n"),
	          "MIME-Version: 1.0\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
	          "=E9\r\n");
}

TEST(quoted_printable_rules)
{
	const char *head = "MIME-Version: 1.0\r\nContent-Transfer-Encoding: 8bit\r\n\r\n";
	const char *qp_head =
	    "MIME-Version: 1.0\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n";
	char in[512], want[512];
	/* "=", trailing space and tab, a lone CR, a tab inside. */
	snprintf(in, sizeof(in), "%sa=b \r\nc\td\t\r\ne\rf\r\n\xff", head);
	snprintf(want, sizeof(want), "%sa=3Db=20\r\nc\td=09\r\ne=0Df\r\n=FF", qp_head);
	CHECK_STR(conv(in), want);
	/* Bare LF line ends: converted lines end in CRLF. */
	CHECK_STR(conv("Subject: x\n\n\xe9 \n\n"),
	          "Subject: x\nMIME-Version: 1.0\r\nContent-Transfer-Encoding: "
	          "quoted-printable\r\n\n=E9=20\r\n\r\n");
	/* Trailing white space at the very end, and a final lone CR. */
	snprintf(in, sizeof(in), "%s\xe9 ", head);
	snprintf(want, sizeof(want), "%s=E9=20", qp_head);
	CHECK_STR(conv(in), want);
	snprintf(in, sizeof(in), "%s--\xe9\r\n- x\r\n", head);
	snprintf(want, sizeof(want), "%s=2D-=E9\r\n=2D x\r\n", qp_head);
	CHECK_STR(conv(in), want);
	snprintf(in, sizeof(in), "%s\xe9\r", head);
	snprintf(want, sizeof(want), "%s=E9\r\n", qp_head);
	CHECK_STR(conv(in), want);
}

TEST(long_lines_get_soft_breaks)
{
	struct str in = STR_INIT, text = STR_INIT;
	str_append_cstr(&in, "Content-Type: text/plain\r\nContent-Transfer-Encoding: 8bit\r\n\r\n");
	for (int i = 0; i < 300; i++)
		str_append_cstr(&text, i % 7 == 0 ? "\xc3\xa9" : i % 11 == 0 ? " " : "x=");
	str_append_cstr(&text, "   \r\nshort\r\n");
	for (int i = 0; i < 200; i++)
		str_append_cstr(&text, "-");
	str_append_cstr(&text, "\r\n");
	str_append(&in, text.data, text.len);
	const char *out = conv(str_cstr(&in));
	CHECK(all_7bit(out));
	CHECK(lines_within(out, 76));
	const char *body = strstr(out, "\r\n\r\n");
	CHECK(body != NULL);
	if (body) {
		char *back = qp_decode(body + 4);
		CHECK_STR(back, str_cstr(&text));
		free(back);
	}
	/* No encoded line starts with "-" (a boundary?). */
	CHECK(strstr(out, "\r\n-") == NULL);
	str_free(&in);
	str_free(&text);
}

static const char *const multipart_lines[] = {
    "MIME-Version: 1.0\r\n",
    "Subject: caf\xc3\xa9 stays\r\n",
    "Content-Type: multipart/mixed;\r\n boundary=\"=_outer\"\r\n",
    "Content-Transfer-Encoding: 8bit\r\n",
    "\r\n",
    "preamble\r\n",
    "--=_outer\r\n",
    "Content-Type: text/plain; charset=us-ascii\r\n",
    "\r\n",
    "plain part\r\n",
    "--=_outer\r\n",
    "Content-Type: text/plain; charset=utf-8\r\n",
    "Content-Transfer-Encoding: 8bit\r\n",
    "\r\n",
    "gr\xc3\xbc\xc3\x9f\x65\r\n",
    "--=_outer\r\n",
    "Content-Type: multipart/alternative; boundary=inner\r\n",
    "\r\n",
    "--inner\r\n",
    "Content-Type: text/html\r\n",
    "\r\n",
    "<p>\xc3\xa9</p>\r\n",
    "--inner--\r\n",
    "inner epilogue\r\n",
    "--=_outer\r\n",
    "Content-Type: message/rfc822\r\n",
    "Content-Transfer-Encoding: 8bit\r\n",
    "\r\n",
    "Subject: nested \xc3\xa9\r\n",
    "\r\n",
    "nested \xc3\xa9\r\n",
    "--=_outer\r\n",
    "Content-Type: application/octet-stream\r\n",
    "Content-Transfer-Encoding: base64\r\n",
    "\r\n",
    "AAEC\r\n",
    "--=_outer--\r\n",
    "epilogue\r\n",
    NULL,
};

static const char *const multipart_7bit_lines[] = {
    "MIME-Version: 1.0\r\n",
    "Subject: caf\xc3\xa9 stays\r\n",
    "Content-Type: multipart/mixed;\r\n boundary=\"=_outer\"\r\n",
    "Content-Transfer-Encoding: 7bit\r\n",
    "\r\n",
    "preamble\r\n",
    "--=_outer\r\n",
    "Content-Type: text/plain; charset=us-ascii\r\n",
    "\r\n",
    "plain part\r\n",
    "--=_outer\r\n",
    "Content-Type: text/plain; charset=utf-8\r\n",
    "Content-Transfer-Encoding: quoted-printable\r\n",
    "\r\n",
    "gr=C3=BC=C3=9Fe\r\n",
    "--=_outer\r\n",
    "Content-Type: multipart/alternative; boundary=inner\r\n",
    "\r\n",
    "--inner\r\n",
    "Content-Type: text/html\r\n",
    "Content-Transfer-Encoding: quoted-printable\r\n",
    "\r\n",
    "<p>=C3=A9</p>\r\n",
    "--inner--\r\n",
    "inner epilogue\r\n",
    "--=_outer\r\n",
    "Content-Type: message/rfc822\r\n",
    "Content-Transfer-Encoding: 7bit\r\n",
    "\r\n",
    "Subject: nested \xc3\xa9\r\n",
    "Content-Transfer-Encoding: quoted-printable\r\n",
    "\r\n",
    "nested =C3=A9\r\n",
    "--=_outer\r\n",
    "Content-Type: application/octet-stream\r\n",
    "Content-Transfer-Encoding: base64\r\n",
    "\r\n",
    "AAEC\r\n",
    "--=_outer--\r\n",
    "epilogue\r\n",
    NULL,
};

static char *joined(const char *const *lines)
{
	struct str s = STR_INIT;
	for (; *lines; lines++)
		str_append_cstr(&s, *lines);
	str_append(&s, "", 0);
	return str_steal(&s);
}

TEST(multipart_walk)
{
	char *in = joined(multipart_lines), *want = joined(multipart_7bit_lines);
	CHECK_STR(conv(in), want);
	/* Converting again changes nothing. */
	CHECK_STR(conv(want), want);
	free(in);
	free(want);
}

TEST(boundaries_recover_and_digest)
{
	/* A missing inner close: the outer boundary ends the inner parts. */
	CHECK_STR(conv("Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n"
	               "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n\xe9\r\n"
	               "--a\r\n\r\n\xe8\r\n--a--\r\n"),
	          "Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n"
	          "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
	          "Content-Transfer-Encoding: quoted-printable\r\n\r\n=E9\r\n"
	          "--a\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=E8\r\n--a--\r\n");
	/* multipart/digest parts are messages by default. */
	CHECK_STR(conv("Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\n"
	               "Subject: in\r\n\r\n\xe9\r\n--d--\r\n"),
	          "Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\n"
	          "Subject: in\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=E9\r\n"
	          "--d--\r\n");
	/* A part whose headers end without an empty line. */
	CHECK_STR(conv("Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n"
	               "Content-Type: text/plain\r\n\xe9 no blank line\r\n--a--\r\n"),
	          "Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n"
	          "Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n"
	          "\r\n=E9 no blank line\r\n--a--\r\n");
	/* Without a boundary parameter a multipart is a leaf. */
	CHECK_STR(conv("Content-Type: multipart/mixed\r\n\r\n\xe9\r\n"),
	          "Content-Type: multipart/mixed\r\nMIME-Version: 1.0\r\n"
	          "Content-Transfer-Encoding: quoted-printable\r\n\r\n=E9\r\n");
}

TEST(limits_hold)
{
	/* Deeper than the nesting limit: still 7-bit, no crash. */
	struct str in = STR_INIT;
	for (int i = 0; i < 150; i++)
		str_printf(&in, "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n", i,
		           i);
	str_append_cstr(&in, "\r\n\xe9\r\n");
	const char *out = conv(str_cstr(&in));
	CHECK(all_7bit(out));
	/* A header field over 64 KiB passes as it is. */
	str_clear(&in);
	str_append_cstr(&in, "Content-Type: text/plain; x=\"");
	for (int i = 0; i < 70000; i++)
		str_append_char(&in, 'y');
	str_append_cstr(&in, "\"\r\n\r\n\xe9\r\n");
	out = conv(str_cstr(&in));
	CHECK(all_7bit(out));
	CHECK(strstr(out, "\r\n\r\n=E9\r\n") != NULL);
	str_free(&in);
}

int main(void)
{
	RUN(seven_bit_passes_as_it_is);
	RUN(plain_message_gets_mime_fields);
	RUN(cte_replaced_where_it_stands);
	RUN(quoted_printable_rules);
	RUN(long_lines_get_soft_breaks);
	RUN(multipart_walk);
	RUN(boundaries_recover_and_digest);
	RUN(limits_hold);
	free(result);
	return TESTING_DONE();
}

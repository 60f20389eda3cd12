/*
 * Tests of the header fields removed on the way in: Return-Path and
 * Content-Length in any case and with "Name :", their continuation lines,
 * look-alike names kept, LF and CRLF lines, and a last line without a
 * line end.
 */
#include <stdlib.h>
#include <string.h>

#include "mail/drop_headers.h"
#include "util/testing.h"

static char *kept;

static const char *filter(const char *head)
{
	/* The header lines, then a body that must come through untouched. */
	struct str s = STR_INIT;
	str_append_cstr(&s, head);
	str_append_cstr(&s, "\r\nBODY");
	size_t n = drop_headers_remove(&s, strlen(head));
	bool body_ok =
	    s.len == n + 6 && memcmp(s.data + n, "\r\nBODY", 6) == 0 && s.data[s.len] == '\0';
	str_truncate(&s, n);
	str_append(&s, "", 0);
	free(kept);
	kept = str_steal(&s);
	return body_ok ? kept : "(body damaged)";
}

TEST(fields_removed)
{
	CHECK_STR(filter("Return-Path: <forged@x>\r\nSubject: s\r\n"), "Subject: s\r\n");
	CHECK_STR(filter("return-path:<a@b>\ncontent-LENGTH : 12\nFrom: a\n"), "From: a\n");
	CHECK_STR(filter("Subject: s\r\nReturn-Path:\r\n <folded@x>\r\n\tmore\r\nTo: t\r\n"),
	          "Subject: s\r\nTo: t\r\n");
	CHECK_STR(filter("Subject: s\r\nReturn-Path: <a@b>"), "Subject: s\r\n");
}

TEST(others_kept)
{
	const char *head = "X-Return-Path: a\r\nReturn-Paths: b\r\nContent-Length-X: c\r\n"
	                   "Subject: Return-Path: d\r\n Return-Path: folded into Subject\r\n";
	CHECK_STR(filter(head), head);
	CHECK_STR(filter(""), "");
	CHECK(drop_headers_field("Return-Path:", 12));
	CHECK(!drop_headers_field("Return-Path", 11));
}

int main(void)
{
	RUN(fields_removed);
	RUN(others_kept);
	free(kept);
	return TESTING_DONE();
}

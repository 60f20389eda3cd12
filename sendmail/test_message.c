/*
 * Unit tests for sendmail's address lists (-t headers, arguments) and its
 * message handling: line ends, the "." line, the header section, Bcc
 * removal, recipient extraction and the headers added when missing.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sendmail/sendmail.h"
#include "util/alloc.h"
#include "util/testing.h"

/* The list as "a|b|c", or "ERROR" if it does not parse. */
static char *split(const char *text)
{
	struct addrlist list = {0};
	const char *error;
	struct str out = STR_INIT;
	if (addrlist_parse(text, strlen(text), &list, &error) != 0) {
		str_append_cstr(&out, "ERROR");
	} else {
		for (size_t i = 0; i < list.count; i++)
			str_printf(&out, "%s%s", i ? "|" : "", list.items[i]);
	}
	addrlist_free(&list);
	return str_steal(&out);
}

static void check_split(const char *text, const char *want, int line)
{
	char *got = split(text);
	if (strcmp(got, want) != 0)
		fprintf(stderr, "line %d: split(%s) = \"%s\", want \"%s\"\n", line, text, got,
		        want);
	CHECK(strcmp(got, want) == 0);
	free(got);
}

#define SPLIT(text, want) check_split(text, want, __LINE__)

TEST(address_lists)
{
	SPLIT("bob@example.test", "bob@example.test");
	SPLIT(" bob@example.test , carol@example.org ", "bob@example.test|carol@example.org");
	SPLIT("Bob Smith <bob@example.test>", "bob@example.test");
	SPLIT("\"Smith, Bob\" <bob@example.test>, carol", "bob@example.test|carol");
	SPLIT("bob@example.test (Bob Smith), (just a comment)", "bob@example.test");
	SPLIT("bob (nested (comment) here) @ example.test", "bob@example.test");
	SPLIT("\"odd local\"@example.test", "\"odd local\"@example.test");
	SPLIT("\"a\\\"b\"@example.test", "\"a\\\"b\"@example.test");
	SPLIT("Team: a@x.test, B <b@y.test>;, c@z.test", "a@x.test|b@y.test|c@z.test");
	SPLIT("undisclosed-recipients:;", "");
	SPLIT("a@x.test,\r\n\tb@y.test", "a@x.test|b@y.test");
	SPLIT("<@relay.test,@r2.test:bob@example.test>", "bob@example.test");
	SPLIT("<>", "");
	SPLIT("Name <>, bob", "|bob");
	SPLIT("bob@[192.0.2.1]", "bob@[192.0.2.1]");
	SPLIT("a , , b", "a|b");
	SPLIT("first.last@example.test", "first.last@example.test");
	SPLIT("J\xc3\xb6rg <j\xc3\xb6rg@b\xc3\xbc"
	      "cher.example>",
	      "j\xc3\xb6rg@b\xc3\xbc"
	      "cher.example");
	SPLIT("", "");
	/* Malformed. */
	SPLIT("Bob Smith", "ERROR");
	SPLIT("<bob@example.test", "ERROR");
	SPLIT("bob@example.test>", "ERROR");
	SPLIT("\"unterminated@example.test", "ERROR");
	SPLIT("bob (unterminated comment", "ERROR");
	SPLIT("<a@b.test> <c@d.test>", "ERROR");
	SPLIT("<a@b.test, c@d.test>", "ERROR");
}

static char *qualify(const char *spec)
{
	char *canon = NULL;
	bool utf8 = false;
	const char *error;
	if (address_qualify(spec, "origin.test", &canon, &utf8, &error) != 0)
		return xstrdup("ERROR");
	char *out = xasprintf("%s%s", canon, utf8 ? " (utf8)" : "");
	free(canon);
	return out;
}

static void check_qualify(const char *spec, const char *want, int line)
{
	char *got = qualify(spec);
	if (strcmp(got, want) != 0)
		fprintf(stderr, "line %d: qualify(%s) = \"%s\", want \"%s\"\n", line, spec, got,
		        want);
	CHECK(strcmp(got, want) == 0);
	free(got);
}

#define QUALIFY(spec, want) check_qualify(spec, want, __LINE__)

TEST(qualify)
{
	QUALIFY("bob", "bob@origin.test");
	QUALIFY("bob@Example.TEST", "bob@example.test");
	QUALIFY("<bob@example.test>", "bob@example.test");
	QUALIFY("", "");
	QUALIFY("<>", "");
	QUALIFY("\"a@b\"", "\"a@b\"@origin.test");
	QUALIFY("postmaster", "postmaster@origin.test");
	QUALIFY("j\xc3\xb6rg", "j\xc3\xb6rg@origin.test (utf8)");
	QUALIFY("a b", "ERROR");
	QUALIFY("bob@", "ERROR");
	QUALIFY("bob@-bad-.test", "ERROR");
}

/* message_read over len bytes written into a pipe; *out_len_r is set
 * to the length of the result (which may hold NUL bytes). */
static char *read_message_bytes(const char *input, size_t len, bool dot_ends, long long limit,
                                size_t *out_len_r)
{
	int fds[2];
	*out_len_r = 0;
	if (pipe(fds) != 0)
		return xstrdup("PIPE");
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		_exit(write(fds[1], input, len) == (ssize_t)len ? 0 : 1);
	}
	close(fds[1]);
	struct str out = STR_INIT;
	const char *error;
	int rc = message_read(fds[0], dot_ends, limit, &out, &error);
	close(fds[0]);
	waitpid(pid, NULL, 0);
	if (rc != 0) {
		str_free(&out);
		return xstrdup("ERROR");
	}
	*out_len_r = out.len;
	return str_steal(&out);
}

static char *read_message(const char *input, bool dot_ends, long long limit)
{
	size_t unused;
	return read_message_bytes(input, strlen(input), dot_ends, limit, &unused);
}

static void check_read(const char *input, bool dot_ends, long long limit, const char *want,
                       int line)
{
	char *got = read_message(input, dot_ends, limit);
	if (strcmp(got, want) != 0)
		fprintf(stderr, "line %d: read gave \"%s\", want \"%s\"\n", line, got, want);
	CHECK(strcmp(got, want) == 0);
	free(got);
}

#define READ(input, dot, limit, want) check_read(input, dot, limit, want, __LINE__)

TEST(reading)
{
	READ("a\nb\n", true, 0, "a\r\nb\r\n");
	READ("a\r\nb\r\n", true, 0, "a\r\nb\r\n");
	READ("a\rb", true, 0, "a\r\nb\r\n");
	READ("no newline", true, 0, "no newline\r\n");
	READ("", true, 0, "");
	READ("a\n.\nafter\n", true, 0, "a\r\n");
	READ("a\r\n.\r\nafter\n", true, 0, "a\r\n");
	READ("a\n.\nafter\n", false, 0, "a\r\n.\r\nafter\r\n");
	READ("a\n..\n.x\n", true, 0, "a\r\n..\r\n.x\r\n");
	READ(".", true, 0, "");
	READ("From alice Mon Jan  1 00:00:00 2024\nSubject: x\n", true, 0, "Subject: x\r\n");
	READ("Subject: x\nFrom alice\n", true, 0, "Subject: x\r\nFrom alice\r\n");
	READ("0123456789\n", true, 12, "0123456789\r\n");
	READ("0123456789\n", true, 11, "ERROR");
	READ("0123456789abcdef", true, 8, "ERROR");
}

/* NUL bytes are data: a line "." followed by a NUL and more is not the
 * end of the input, and nothing after it is lost. */
TEST(reading_nul_bytes)
{
	static const char input[] = "a\n.\0hidden\nafter\n.\nignored\n";
	static const char want[] = "a\r\n.\0hidden\r\nafter\r\n";
	size_t len;
	char *got = read_message_bytes(input, sizeof(input) - 1, true, 0, &len);
	CHECK(len == sizeof(want) - 1);
	CHECK(len == sizeof(want) - 1 && memcmp(got, want, len) == 0);
	free(got);
	static const char from[] = "From\0 x\nb\n";
	got = read_message_bytes(from, sizeof(from) - 1, true, 0, &len);
	static const char from_want[] = "From\0 x\r\nb\r\n";
	CHECK(len == sizeof(from_want) - 1 && memcmp(got, from_want, len) == 0);
	free(got);
}

TEST(header_section)
{
	const char *m = "To: a@x.test,\r\n b@y.test\r\nSubject: s\r\n\r\nbody: not a header\r\n";
	struct header_section hs;
	header_section_scan(m, strlen(m), &hs);
	CHECK(hs.count == 2);
	CHECK(hs.has_blank);
	CHECK(header_field_is(m, &hs.fields[0], "to"));
	CHECK(hs.fields[0].len == strlen("To: a@x.test,\r\n b@y.test\r\n"));
	CHECK(header_field_is(m, &hs.fields[1], "Subject"));
	CHECK(!header_field_is(m, &hs.fields[1], "Subj"));
	CHECK(hs.end == strlen("To: a@x.test,\r\n b@y.test\r\nSubject: s\r\n"));
	header_section_free(&hs);

	const char *no_headers = "hello world\r\n";
	header_section_scan(no_headers, strlen(no_headers), &hs);
	CHECK(hs.count == 0 && hs.end == 0 && !hs.has_blank);
	header_section_free(&hs);

	const char *stops = "Subject: s\r\nnot a header\r\n";
	header_section_scan(stops, strlen(stops), &hs);
	CHECK(hs.count == 1 && !hs.has_blank && hs.end == 12);
	header_section_free(&hs);
}

static const struct message_options plain_opts = {false, true, "alice@origin.test", "",
                                                  "host.test"};

static char *finish(const char *input, const struct message_options *opts, struct addrlist *rcpts)
{
	struct str msg = STR_INIT;
	str_append_cstr(&msg, input);
	const char *error;
	if (message_finish(&msg, opts, rcpts, &error) != 0) {
		str_free(&msg);
		return xstrdup("ERROR");
	}
	return str_steal(&msg);
}

TEST(bcc_removed_and_recipients_extracted)
{
	struct message_options o = plain_opts;
	o.extract = true;
	struct addrlist rcpts = {0};
	char *out = finish("From: a@x.test\r\nDate: d\r\nMessage-ID: <m@x>\r\n"
	                   "To: Bob <bob@example.test>\r\n"
	                   "Cc: carol@example.org,\r\n\tdave\r\n"
	                   "bcc: secret@example.net,\r\n hidden@example.net\r\n"
	                   "Subject: hi\r\n\r\nBcc: in the body stays\r\n",
	                   &o, &rcpts);
	CHECK_STR(out, "From: a@x.test\r\nDate: d\r\nMessage-ID: <m@x>\r\n"
	               "To: Bob <bob@example.test>\r\n"
	               "Cc: carol@example.org,\r\n\tdave\r\n"
	               "Subject: hi\r\n\r\nBcc: in the body stays\r\n");
	CHECK(rcpts.count == 5);
	if (rcpts.count == 5) {
		CHECK_STR(rcpts.items[0], "bob@example.test");
		CHECK_STR(rcpts.items[1], "carol@example.org");
		CHECK_STR(rcpts.items[2], "dave");
		CHECK_STR(rcpts.items[3], "secret@example.net");
		CHECK_STR(rcpts.items[4], "hidden@example.net");
	}
	addrlist_free(&rcpts);
	free(out);

	/* With Resent- fields only the Resent- recipients count. */
	out = finish("From: a@x.test\r\nDate: d\r\nMessage-ID: <m@x>\r\nTo: old@example.test\r\n"
	             "Resent-To: new@example.test\r\nResent-Bcc: hush@example.test\r\n\r\nb\r\n",
	             &o, &rcpts);
	CHECK(rcpts.count == 2);
	if (rcpts.count == 2) {
		CHECK_STR(rcpts.items[0], "new@example.test");
		CHECK_STR(rcpts.items[1], "hush@example.test");
	}
	CHECK(strstr(out, "Resent-Bcc") == NULL && strstr(out, "To: old@example.test") != NULL);
	addrlist_free(&rcpts);
	free(out);

	out = finish("To: Bob Smith\r\n\r\nb\r\n", &o, &rcpts);
	CHECK_STR(out, "ERROR");
	addrlist_free(&rcpts);
	free(out);
}

TEST(missing_headers_added)
{
	struct message_options o = plain_opts;
	o.full_name = "Alice Liddell";
	char *out = finish("Subject: hi\r\n\r\nbody\r\n", &o, NULL);
	CHECK(strncmp(out,
	              "Subject: hi\r\nFrom: Alice Liddell <alice@origin.test>\r\nDate: ", 58) == 0);
	CHECK(strstr(out, "\r\nMessage-ID: <") != NULL &&
	      strstr(out, "@host.test>\r\n\r\nbody\r\n"));
	free(out);

	/* Present ones are kept as they are, in any case. */
	out = finish("FROM: x@y.test\r\ndate: d\r\nmessage-id: <i@d>\r\n\r\nb\r\n", &o, NULL);
	CHECK_STR(out, "FROM: x@y.test\r\ndate: d\r\nmessage-id: <i@d>\r\n\r\nb\r\n");
	free(out);

	/* A body without a header section gets the separator. */
	out = finish("just text\r\n", &o, NULL);
	CHECK(strncmp(out, "From: ", 6) == 0);
	CHECK(strstr(out, "\r\n\r\njust text\r\n") != NULL);
	free(out);

	/* Empty message: headers only. */
	out = finish("", &plain_opts, NULL);
	CHECK(strncmp(out, "From: alice@origin.test\r\nDate: ", 31) == 0);
	CHECK(strstr(out, "\r\n\r\n") == NULL);
	free(out);

	/* Null sender. */
	o.from_addr = "";
	out = finish("From: x@y.test\r\n\r\n", &o, NULL);
	CHECK(strncmp(out, "From: x@y.test\r\n", 16) == 0);
	free(out);
	out = finish("Date: d\r\nMessage-ID: <a@b>\r\n\r\n", &o, NULL);
	CHECK(strstr(out, "From: MAILER-DAEMON@host.test\r\n") != NULL);
	free(out);

	/* Bcc kept when not asked to remove it (-bs). */
	o.remove_bcc = false;
	out = finish("From: x@y.test\r\nDate: d\r\nMessage-ID: <a@b>\r\nBcc: z@y.test\r\n\r\n", &o,
	             NULL);
	CHECK(strstr(out, "Bcc: z@y.test") != NULL);
	free(out);
}

static void check_phrase(const char *name, const char *want, int line)
{
	struct str out = STR_INIT;
	format_phrase(name, &out);
	if (strcmp(str_cstr(&out), want) != 0)
		fprintf(stderr, "line %d: phrase(%s) = %s\n", line, name, str_cstr(&out));
	CHECK(strcmp(str_cstr(&out), want) == 0);
	str_free(&out);
}

#define PHRASE(name, want) check_phrase(name, want, __LINE__)

TEST(phrases)
{
	PHRASE("Alice Liddell", "Alice Liddell");
	PHRASE("Smith, John", "\"Smith, John\"");
	PHRASE("Say \"hi\"", "\"Say \\\"hi\\\"\"");
	PHRASE("a  b", "\"a  b\"");
	PHRASE("J\xc3\xb6rg", "=?UTF-8?B?SsO2cmc=?=");
	/* Long non-ASCII names are split into words of at most 75 characters. */
	struct str name = STR_INIT, out = STR_INIT;
	for (int i = 0; i < 40; i++)
		str_append_cstr(&name, "\xc3\xa9");
	format_phrase(str_cstr(&name), &out);
	CHECK(strchr(str_cstr(&out), ' ') != NULL);
	for (char *w = strtok(out.data, " "); w; w = strtok(NULL, " "))
		CHECK(strlen(w) <= 75);
	str_free(&name);
	str_free(&out);
}

int main(void)
{
	RUN(address_lists);
	RUN(qualify);
	RUN(reading);
	RUN(reading_nul_bytes);
	RUN(header_section);
	RUN(bcc_removed_and_recipients_extracted);
	RUN(missing_headers_added);
	RUN(phrases);
	return TESTING_DONE();
}

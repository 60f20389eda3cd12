/* Unit tests for the delivery status notification builder: the message
 * structure (headers, MIME parts, boundaries, CRLF), the fields of the
 * delivery-status part, what part of the original is returned, and the
 * refusals. */
#include <stdlib.h>
#include <string.h>

#include "mail/dsn.h"
#include "util/alloc.h"
#include "util/str.h"
#include "util/testing.h"

#define NOW 1795385328 /* Sun, 22 Nov 2026 22:08:48 +0000 */

static const char original[] = "From: joe@example.org\r\n"
                               "To: bob@example.com\r\n"
                               "Subject: hello\r\n"
                               "\r\n"
                               "line one\r\n"
                               "line two\r\n";

static void make_env(struct queue_envelope *env, const char *ret)
{
	queue_envelope_init(env);
	memcpy(env->id, "0006412F3A1B2C4D", QUEUE_ID_LEN + 1);
	env->arrival = NOW - 7200;
	env->sender = "joe@example.org";
	env->envid = "ENV123";
	env->ret = (char *)ret;
}

static struct dsn_rcpt failed_rcpt(void)
{
	struct dsn_rcpt r = {
	    .final_rcpt = "bob@example.com",
	    .orcpt = "rfc822;Bob@Example.com",
	    .action = DSN_ACTION_FAILED,
	    .status = "5.1.1",
	    .remote_mta = "mx.example.com",
	    .diagnostic = "smtp; 550 5.1.1 <bob@example.com>: Recipient address rejected",
	    .last_attempt = NOW - 60,
	};
	return r;
}

static struct dsn_report make_report(const struct queue_envelope *env, const struct dsn_rcpt *rcpts,
                                     size_t count)
{
	struct dsn_report rep = {
	    .env = env,
	    .reporting_mta = "mail.example.org",
	    .rcpts = rcpts,
	    .rcpt_count = count,
	    .content = original,
	    .content_len = sizeof(original) - 1,
	    .content_limit = 50000,
	    .now = NOW,
	};
	return rep;
}

/* ---- a small MIME reader for the checks ---- */

struct parsed {
	char *headers; /* the top-level header section */
	char *boundary;
	char *parts[4]; /* each part: its headers, empty line, body */
	int part_count;
	bool closed;
};

static char *between(const char *s, const char *start, const char *end)
{
	const char *a = strstr(s, start);
	if (a == NULL)
		return NULL;
	a += strlen(start);
	const char *b = strstr(a, end);
	return b ? xstrndup(a, (size_t)(b - a)) : NULL;
}

static void parse_message(const char *msg, struct parsed *p)
{
	memset(p, 0, sizeof(*p));
	const char *end = strstr(msg, "\r\n\r\n");
	p->headers = end ? xstrndup(msg, (size_t)(end - msg) + 2) : xstrdup("");
	p->boundary = between(msg, "boundary=\"", "\"");
	if (p->boundary == NULL)
		return;
	char *delim = xasprintf("\r\n--%s", p->boundary);
	const char *pos = strstr(msg, delim);
	while (pos != NULL && p->part_count < 4) {
		pos += strlen(delim);
		if (strncmp(pos, "--\r\n", 4) == 0) {
			p->closed = pos[4] == '\0';
			break;
		}
		if (strncmp(pos, "\r\n", 2) != 0)
			break;
		pos += 2;
		const char *next = strstr(pos, delim);
		if (next == NULL)
			break;
		p->parts[p->part_count++] = xstrndup(pos, (size_t)(next - pos));
		pos = next;
	}
	free(delim);
}

static void free_parsed(struct parsed *p)
{
	free(p->headers);
	free(p->boundary);
	for (int i = 0; i < p->part_count; i++)
		free(p->parts[i]);
}

/* Every line ends in CRLF, no line is longer than 998 bytes. */
static bool lines_ok(const char *msg, size_t len)
{
	size_t line_len = 0;
	for (size_t i = 0; i < len; i++) {
		if (msg[i] == '\n') {
			if (i == 0 || msg[i - 1] != '\r')
				return false;
			line_len = 0;
		} else if (++line_len > 998) {
			return false;
		}
	}
	return len >= 2 && msg[len - 1] == '\n';
}

static bool has(const char *s, const char *needle)
{
	bool found = s != NULL && strstr(s, needle) != NULL;
	if (!found)
		fprintf(stderr, "  missing: %s\n", needle);
	return found;
}

static int build(const struct dsn_report *rep, struct str *out)
{
	const char *error = NULL;
	str_init(out);
	int rc = dsn_build(rep, out, &error);
	if (rc < 0)
		fprintf(stderr, "  dsn_build: %s\n", error);
	return rc;
}

TEST(failure_report)
{
	struct queue_envelope env;
	make_env(&env, "");
	struct dsn_rcpt rcpt = failed_rcpt();
	struct dsn_report rep = make_report(&env, &rcpt, 1);
	struct str out;
	CHECK(build(&rep, &out) == 0);
	CHECK(lines_ok(out.data, out.len));
	struct parsed p;
	parse_message(str_cstr(&out), &p);
	CHECK(has(p.headers, "Date: Sun, 22 Nov 2026 22:08:48 +0000\r\n"));
	CHECK(has(p.headers, "From: MAILER-DAEMON@mail.example.org (Mail Delivery System)\r\n"));
	CHECK(has(p.headers, "To: <joe@example.org>\r\n"));
	CHECK(has(p.headers, "Subject: Undelivered Mail Returned to Sender\r\n"));
	CHECK(
	    has(p.headers, "Message-ID: <20261122220848.0006412F3A1B2C4D.F@mail.example.org>\r\n"));
	CHECK(has(p.headers, "Auto-Submitted: auto-replied\r\n"));
	CHECK(has(p.headers, "MIME-Version: 1.0\r\n"));
	CHECK(has(p.headers, "Content-Type: multipart/report; report-type=delivery-status;"));
	CHECK(p.boundary != NULL && strlen(p.boundary) <= 70);
	CHECK(p.part_count == 3);
	CHECK(p.closed);
	if (p.part_count == 3) {
		CHECK(has(p.parts[0], "Content-Type: text/plain; charset=us-ascii\r\n"));
		CHECK(has(p.parts[0], "This is the mail system at host mail.example.org.\r\n"));
		CHECK(has(p.parts[0], "could not\r\nbe delivered to one or more recipients"));
		CHECK(has(p.parts[0], "<bob@example.com>: host mx.example.com said: 550 5.1.1"));
		CHECK(has(p.parts[1],
		          "Content-Type: message/delivery-status\r\n\r\n"
		          "Original-Envelope-Id: ENV123\r\n"
		          "Reporting-MTA: dns; mail.example.org\r\n"
		          "Arrival-Date: Sun, 22 Nov 2026 20:08:48 +0000\r\n"
		          "X-Postern-Queue-ID: 0006412F3A1B2C4D\r\n"
		          "X-Postern-Sender: rfc822; joe@example.org\r\n"
		          "\r\n"
		          "Final-Recipient: rfc822; bob@example.com\r\n"
		          "Original-Recipient: rfc822;Bob@Example.com\r\n"
		          "Action: failed\r\n"
		          "Status: 5.1.1\r\n"
		          "Remote-MTA: dns; mx.example.com\r\n"
		          "Diagnostic-Code: smtp; 550 5.1.1 <bob@example.com>: Recipient "
		          "address rejected\r\n"
		          "Last-Attempt-Date: Sun, 22 Nov 2026 22:07:48 +0000\r\n"));
		CHECK(has(p.parts[2], "Content-Description: Undelivered Message\r\n"
		                      "Content-Type: message/rfc822\r\n\r\n"));
		CHECK(has(p.parts[2], original)); /* the full message */
		CHECK(strstr(p.parts[2], "Content-Transfer-Encoding: 8bit") == NULL);
	}
	free_parsed(&p);
	str_free(&out);
}

TEST(headers_only_when_ret_hdrs)
{
	struct queue_envelope env;
	make_env(&env, "HDRS");
	struct dsn_rcpt rcpt = failed_rcpt();
	struct dsn_report rep = make_report(&env, &rcpt, 1);
	struct str out;
	CHECK(build(&rep, &out) == 0);
	struct parsed p;
	parse_message(str_cstr(&out), &p);
	CHECK(p.part_count == 3 && p.closed);
	if (p.part_count == 3) {
		CHECK(has(p.parts[2], "Content-Type: text/rfc822-headers\r\n\r\n"
		                      "From: joe@example.org\r\nTo: bob@example.com\r\n"
		                      "Subject: hello\r\n"));
		CHECK(strstr(p.parts[2], "line one") == NULL);
	}
	free_parsed(&p);
	str_free(&out);
}

TEST(delay_report)
{
	struct queue_envelope env;
	make_env(&env, "FULL");
	struct dsn_rcpt rcpt = failed_rcpt();
	rcpt.action = DSN_ACTION_DELAYED;
	rcpt.status = "4.4.1";
	rcpt.remote_mta = NULL;
	rcpt.diagnostic = "connect to mx.example.com: Connection refused";
	rcpt.retry_until = env.arrival + 5 * 86400;
	struct dsn_report rep = make_report(&env, &rcpt, 1);
	struct str out;
	CHECK(build(&rep, &out) == 0);
	CHECK(lines_ok(out.data, out.len));
	struct parsed p;
	parse_message(str_cstr(&out), &p);
	CHECK(has(p.headers, "Subject: Delayed Mail (still being retried)\r\n"));
	CHECK(p.part_count == 3 && p.closed);
	if (p.part_count == 3) {
		CHECK(has(p.parts[0], "THIS IS A WARNING ONLY"));
		CHECK(has(p.parts[0], "could not be delivered for 2 hours."));
		CHECK(has(p.parts[0], "retried until it is 5 days old."));
		CHECK(has(p.parts[0], "<bob@example.com>: connect to mx.example.com: Connection"));
		CHECK(has(p.parts[1], "Action: delayed\r\nStatus: 4.4.1\r\n"));
		CHECK(has(p.parts[1], "Diagnostic-Code: x-postern; connect to mx.example.com"));
		CHECK(has(p.parts[1], "Will-Retry-Until: Fri, 27 Nov 2026 20:08:48 +0000\r\n"));
		CHECK(strstr(p.parts[1], "Remote-MTA") == NULL);
		/* delay notices return only the header, whatever RET says */
		CHECK(has(p.parts[2], "Content-Type: text/rfc822-headers\r\n"));
	}
	free_parsed(&p);
	str_free(&out);
}

TEST(success_report_and_mixed)
{
	struct queue_envelope env;
	make_env(&env, NULL);
	struct dsn_rcpt rcpts[2] = {failed_rcpt(), failed_rcpt()};
	rcpts[0].action = DSN_ACTION_DELIVERED;
	rcpts[0].status = "2.0.0";
	rcpts[0].orcpt = "carol@example.com";
	rcpts[1].action = DSN_ACTION_RELAYED;
	rcpts[1].status = "2.0.0";
	rcpts[1].diagnostic = NULL;
	struct dsn_report rep = make_report(&env, rcpts, 2);
	struct str out;
	CHECK(build(&rep, &out) == 0);
	struct parsed p;
	parse_message(str_cstr(&out), &p);
	CHECK(has(p.headers, "Subject: Successful Mail Delivery Report\r\n"));
	CHECK(has(p.headers, ".S@mail.example.org>"));
	if (p.part_count == 3) {
		CHECK(has(p.parts[0], "successfully delivered"));
		CHECK(has(p.parts[0], "relayed (status 2.0.0)"));
		CHECK(has(p.parts[1], "Original-Recipient: rfc822; carol@example.com\r\n"));
		CHECK(has(p.parts[1], "Action: delivered\r\n"));
		CHECK(has(p.parts[1], "Action: relayed\r\n"));
		CHECK(has(p.parts[2], "text/rfc822-headers"));
	}
	free_parsed(&p);
	str_free(&out);

	/* one failure among deliveries makes it a failure report */
	rcpts[1] = failed_rcpt();
	CHECK(build(&rep, &out) == 0);
	CHECK(strstr(str_cstr(&out), "Subject: Undelivered Mail Returned to Sender") != NULL);
	str_free(&out);
}

TEST(verify_report)
{
	struct queue_envelope env;
	make_env(&env, NULL);
	struct dsn_rcpt rcpts[3] = {failed_rcpt(), failed_rcpt(), failed_rcpt()};
	rcpts[0].action = DSN_ACTION_DELIVERABLE;
	rcpts[0].status = "2.1.5";
	rcpts[0].diagnostic = "smtp; 250 2.1.5 ok";
	rcpts[1].action = DSN_ACTION_UNDELIVERABLE;
	rcpts[2].action = DSN_ACTION_DELAYED;
	rcpts[2].status = "4.4.1";
	rcpts[2].remote_mta = NULL;
	rcpts[2].diagnostic = "x-postern; connect to mx: Connection refused";
	struct dsn_report rep = make_report(&env, rcpts, 3);
	struct str out;
	CHECK(build(&rep, &out) == 0);
	struct parsed p;
	parse_message(str_cstr(&out), &p);
	CHECK(has(p.headers, "Subject: Mail Delivery Status Report\r\n"));
	CHECK(has(p.headers, ".V@mail.example.org>"));
	CHECK(p.part_count == 3);
	if (p.part_count == 3) {
		CHECK(has(p.parts[0], "Enclosed is the mail delivery report that you requested."));
		CHECK(has(p.parts[0], "<bob@example.com>: host mx.example.com said: 250 2.1.5 ok"));
		CHECK(has(p.parts[1], "Action: deliverable\r\nStatus: 2.1.5\r\n"));
		CHECK(has(p.parts[1], "Action: undeliverable\r\nStatus: 5.1.1\r\n"));
		CHECK(has(p.parts[1], "Action: delayed\r\nStatus: 4.4.1\r\n"));
		/* Only the header comes back, failure or not. */
		CHECK(has(p.parts[2], "text/rfc822-headers"));
		CHECK(strstr(p.parts[2], "line one") == NULL);
	}
	free_parsed(&p);
	str_free(&out);
}

TEST(content_cut_and_line_ends)
{
	struct queue_envelope env;
	make_env(&env, "FULL");
	struct dsn_rcpt rcpt = failed_rcpt();
	struct dsn_report rep = make_report(&env, &rcpt, 1);
	static const char lf_message[] = "Subject: lf\n\nfirst\nsecond line\nthird";
	rep.content = lf_message;
	rep.content_len = sizeof(lf_message) - 1;
	struct str out;
	CHECK(build(&rep, &out) == 0);
	CHECK(lines_ok(out.data, out.len));
	CHECK(strstr(str_cstr(&out), "Subject: lf\r\n\r\nfirst\r\nsecond line\r\nthird\r\n") !=
	      NULL);
	str_free(&out);

	rep.content_limit = 25; /* inside "second line" */
	CHECK(build(&rep, &out) == 0);
	CHECK(strstr(str_cstr(&out), "Subject: lf\r\n\r\nfirst\r\n\r\n--") != NULL);
	CHECK(strstr(str_cstr(&out), "second") == NULL);
	str_free(&out);

	rep.content_limit = 0;
	CHECK(build(&rep, &out) == 0);
	struct parsed p;
	parse_message(str_cstr(&out), &p);
	CHECK(p.part_count == 3 && p.closed);
	free_parsed(&p);
	str_free(&out);
}

TEST(boundary_not_in_content)
{
	struct queue_envelope env;
	make_env(&env, "FULL");
	struct dsn_rcpt rcpt = failed_rcpt();
	struct dsn_report rep = make_report(&env, &rcpt, 1);
	/* the first two boundaries the builder would try */
	static const char tricky[] = "Subject: x\r\n\r\n--0006412F3A1B2C4D.1795385328.0/postern\r\n"
	                             "--0006412F3A1B2C4D.1795385328.1/postern--\r\n";
	rep.content = tricky;
	rep.content_len = sizeof(tricky) - 1;
	struct str out;
	CHECK(build(&rep, &out) == 0);
	struct parsed p;
	parse_message(str_cstr(&out), &p);
	CHECK(p.boundary != NULL && strstr(tricky, p.boundary) == NULL);
	CHECK(p.part_count == 3 && p.closed);
	free_parsed(&p);
	str_free(&out);
}

TEST(eight_bit_and_sanitising)
{
	struct queue_envelope env;
	make_env(&env, "");
	struct dsn_rcpt rcpt = failed_rcpt();
	rcpt.final_rcpt = "j\xc3\xbcrgen@example.com";
	rcpt.diagnostic = "smtp; 550 bad\r\nInjected: header\r\n\r\nbody";
	struct dsn_report rep = make_report(&env, &rcpt, 1);
	static const char latin[] = "Subject: caf\xc3\xa9\r\n\r\nbody\r\n";
	rep.content = latin;
	rep.content_len = sizeof(latin) - 1;
	struct str out;
	CHECK(build(&rep, &out) == 0);
	CHECK(lines_ok(out.data, out.len));
	struct parsed p;
	parse_message(str_cstr(&out), &p);
	CHECK(has(p.headers, "Content-Transfer-Encoding: 8bit\r\n"));
	CHECK(strstr(str_cstr(&out), "\r\nInjected:") == NULL);
	if (p.part_count == 3) {
		CHECK(has(p.parts[0], "charset=utf-8"));
		CHECK(has(p.parts[1], "Final-Recipient: utf-8; j\xc3\xbcrgen@example.com\r\n"));
		CHECK(has(p.parts[1],
		          "Diagnostic-Code: smtp; 550 bad  Injected: header    body\r\n"));
		CHECK(has(p.parts[2], "Content-Transfer-Encoding: 8bit\r\n"));
	}
	free_parsed(&p);
	str_free(&out);
}

TEST(long_diagnostic_is_folded)
{
	struct queue_envelope env;
	make_env(&env, "");
	struct dsn_rcpt rcpt = failed_rcpt();
	struct str diag = STR_INIT;
	str_append_cstr(&diag, "smtp; 550");
	for (int i = 0; i < 300; i++)
		str_append_cstr(&diag, " word");
	rcpt.diagnostic = str_cstr(&diag);
	struct dsn_report rep = make_report(&env, &rcpt, 1);
	struct str out;
	CHECK(build(&rep, &out) == 0);
	CHECK(lines_ok(out.data, out.len));
	const char *line = out.data;
	bool short_lines = true;
	while (line != NULL && *line) {
		const char *nl = strchr(line, '\n');
		if (nl != NULL && nl - line > 80 && strncmp(line, "--", 2) != 0)
			short_lines = false;
		line = nl ? nl + 1 : NULL;
	}
	CHECK(short_lines);
	str_free(&out);

	/* one huge word cannot be folded: it is cut instead */
	str_set(&diag, "smtp; 550 ");
	for (int i = 0; i < 3000; i++)
		str_append_char(&diag, 'x');
	rcpt.diagnostic = str_cstr(&diag);
	rcpt.final_rcpt = str_cstr(&diag) + 10;
	CHECK(build(&rep, &out) == 0);
	CHECK(lines_ok(out.data, out.len));
	str_free(&out);
	str_free(&diag);
}

static void check_refused(const struct dsn_report *rep)
{
	struct str out = STR_INIT;
	const char *error = NULL;
	CHECK(dsn_build(rep, &out, &error) == -1);
	CHECK(error != NULL);
	CHECK(out.len == 0);
	str_free(&out);
}

TEST(refusals)
{
	struct queue_envelope env;
	make_env(&env, "");
	struct dsn_rcpt rcpt = failed_rcpt();
	struct dsn_report rep = make_report(&env, &rcpt, 1);

	env.sender = "";
	check_refused(&rep);
	rep.notify_to = "";
	check_refused(&rep);
	rep.notify_to = NULL;
	env.sender = NULL;
	check_refused(&rep);
	env.sender = "joe@example.org";

	rep.rcpt_count = 0;
	check_refused(&rep);
	rep.rcpt_count = 1;

	const char *bad_status[] = {"", "3.1.1", "5.1", "5..1", "5.1.1 ", "5.1.1000", "x", NULL};
	for (size_t i = 0; i < sizeof(bad_status) / sizeof(bad_status[0]); i++) {
		rcpt.status = bad_status[i];
		check_refused(&rep);
	}
	rcpt.status = "5.1.1";

	rep.reporting_mta = "bad host";
	check_refused(&rep);
	rep.reporting_mta = NULL;
	check_refused(&rep);
	rep.reporting_mta = "mail.example.org";

	rcpt.remote_mta = "mx\r\nX: y";
	check_refused(&rep);
	rcpt.remote_mta = NULL;

	rcpt.final_rcpt = "";
	check_refused(&rep);
	rcpt.final_rcpt = "bob@example.com";
	rcpt.action = (enum dsn_action)42;
	check_refused(&rep);
	rcpt.action = DSN_ACTION_FAILED;

	struct str out = STR_INIT;
	const char *error;
	CHECK(dsn_build(&rep, &out, &error) == 0);
	str_free(&out);
}

/* A double bounce: the report about a failed notice (null sender) goes to
 * the postmaster named by notify_to. */
TEST(double_bounce_to_postmaster)
{
	struct queue_envelope env;
	make_env(&env, "");
	env.sender = "";
	struct dsn_rcpt rcpt = failed_rcpt();
	struct dsn_report rep = make_report(&env, &rcpt, 1);
	rep.notify_to = "postmaster";
	struct str out = STR_INIT;
	const char *error;
	CHECK(dsn_build(&rep, &out, &error) == 0);
	CHECK(strstr(str_cstr(&out), "\r\nTo: <postmaster>\r\n") != NULL);
	CHECK(strstr(str_cstr(&out), "X-Postern-Sender: rfc822; \r\n") != NULL);
	CHECK(strstr(str_cstr(&out), "Action: failed\r\n") != NULL);
	str_free(&out);
}

/* The per-message block of the delivery-status part (its fields up to the
 * empty line before the first recipient's). */
static char *per_message_fields(const struct dsn_report *rep)
{
	struct str out = STR_INIT;
	const char *error;
	char *block = NULL;
	if (dsn_build(rep, &out, &error) == 0)
		block = between(str_cstr(&out), "Content-Type: message/delivery-status\r\n\r\n",
		                "\r\n\r\nFinal-Recipient: ");
	str_free(&out);
	return block;
}

/* Where name's field starts in block (at a line start), or -1. */
static long field_at(const char *block, const char *name)
{
	size_t len = strlen(name);
	const char *p = block;
	while (p != NULL) {
		if (strncmp(p, name, len) == 0 && p[len] == ':')
			return p - block;
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return -1;
}

/* RFC 3464 section 2.2: Original-Envelope-Id, Reporting-MTA, Arrival-Date,
 * then the extension (X-) fields. */
TEST(per_message_field_order)
{
	struct queue_envelope env;
	make_env(&env, "");
	struct dsn_rcpt rcpt = failed_rcpt();
	struct dsn_report rep = make_report(&env, &rcpt, 1);
	char *block = per_message_fields(&rep);
	CHECK(block != NULL);
	if (block != NULL) {
		long envid = field_at(block, "Original-Envelope-Id");
		long mta = field_at(block, "Reporting-MTA");
		long arrival = field_at(block, "Arrival-Date");
		long queue_id = field_at(block, "X-Postern-Queue-ID");
		long sender = field_at(block, "X-Postern-Sender");
		CHECK(envid == 0);
		CHECK(mta > envid);
		CHECK(arrival > mta);
		CHECK(queue_id > arrival);
		CHECK(sender > queue_id);
	}
	free(block);

	/* without an ENVID, Reporting-MTA comes first; without an arrival
	 * time, the extension fields follow it */
	static const char first[] = "Reporting-MTA: dns; mail.example.org\r\nArrival-Date: ";
	env.envid = "";
	block = per_message_fields(&rep);
	CHECK(block != NULL && strncmp(block, first, sizeof(first) - 1) == 0);
	free(block);
	env.arrival = 0;
	block = per_message_fields(&rep);
	CHECK(block != NULL);
	if (block != NULL)
		CHECK_STR(block, "Reporting-MTA: dns; mail.example.org\r\n"
		                 "X-Postern-Queue-ID: 0006412F3A1B2C4D\r\n"
		                 "X-Postern-Sender: rfc822; joe@example.org");
	free(block);
}

TEST(format_date)
{
	struct str s = STR_INIT;
	dsn_format_date(0, &s);
	CHECK_STR(str_cstr(&s), "Thu, 1 Jan 1970 00:00:00 +0000");
	str_clear(&s);
	dsn_format_date(NOW, &s);
	CHECK_STR(str_cstr(&s), "Sun, 22 Nov 2026 22:08:48 +0000");
	str_free(&s);
}

int main(void)
{
	RUN(failure_report);
	RUN(headers_only_when_ret_hdrs);
	RUN(delay_report);
	RUN(success_report_and_mixed);
	RUN(verify_report);
	RUN(content_cut_and_line_ends);
	RUN(boundary_not_in_content);
	RUN(eight_bit_and_sanitising);
	RUN(long_diagnostic_is_folded);
	RUN(refusals);
	RUN(double_bounce_to_postmaster);
	RUN(per_message_field_order);
	RUN(format_date);
	return TESTING_DONE();
}

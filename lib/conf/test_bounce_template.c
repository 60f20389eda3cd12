/* Unit tests for bounce_template_file: a file with templates parses into
 * their header fields and text (leading white space and empty lines
 * kept), every kind of mistake is an error naming its line and leaves
 * nothing, and $name expansion knows main.conf parameters, $$ and the
 * time-unit suffixes. */
#include <stdlib.h>
#include <string.h>

#include "conf/bounce_template.h"
#include "conf/conf.h"
#include "util/alloc.h"
#include "util/testing.h"

static const char good[] = "# local texts\n"
                           "\n"
                           "failure_template = <<EOF\n"
                           "Charset: us-ascii\n"
                           "From: MAILER-DAEMON (Mail Delivery System)\n"
                           "Subject: Undeliverable\n"
                           "Postmaster-Subject: Postmaster Copy: Undeliverable\n"
                           "\n"
                           "This is $myhostname.\n"
                           "\n"
                           "   indented line\n"
                           "EOF\n"
                           "delay_template = <<END\n"
                           "Subject: Still trying\n"
                           "\n"
                           "Tried for $delay_warning_time_hours hours, up to "
                           "$maximal_queue_lifetime_days days ($$5).\n"
                           "END\n";

static bool has_error(const struct diag_list *d, const char *text)
{
	for (size_t i = 0; i < d->count; i++)
		if (strstr(d->items[i].text, text) != NULL)
			return true;
	return false;
}

TEST(parse_good)
{
	struct bounce_templates t;
	struct diag_list d;
	diag_list_init(&d);
	CHECK(bounce_templates_parse("bounce.cf", good, strlen(good), &t, &d) == 0);
	CHECK(d.count == 0);
	const struct bounce_template *f = &t.t[BOUNCE_TEMPLATE_FAILURE];
	CHECK(f->set);
	CHECK_STR(f->charset, "us-ascii");
	CHECK_STR(f->from, "MAILER-DAEMON (Mail Delivery System)");
	CHECK_STR(f->subject, "Undeliverable");
	CHECK_STR(f->postmaster_subject, "Postmaster Copy: Undeliverable");
	CHECK_STR(f->text, "This is $myhostname.\n\n   indented line\n");
	CHECK(t.t[BOUNCE_TEMPLATE_DELAY].set && t.t[BOUNCE_TEMPLATE_DELAY].from == NULL);
	CHECK(!t.t[BOUNCE_TEMPLATE_SUCCESS].set && !t.t[BOUNCE_TEMPLATE_VERIFY].set);

	struct conf *conf = conf_new("/nonexistent");
	const char *error;
	CHECK(conf_set(conf, "myhostname", "mx.example.test", &error) == 0);
	CHECK(conf_set(conf, "delay_warning_time", "4h", &error) == 0);
	CHECK(conf_set(conf, "maximal_queue_lifetime", "5d", &error) == 0);
	bounce_templates_expand(&t, conf);
	CHECK_STR(f->text, "This is mx.example.test.\n\n   indented line\n");
	CHECK_STR(t.t[BOUNCE_TEMPLATE_DELAY].text, "Tried for 4 hours, up to 5 days ($5).\n");
	char *x = bounce_template_expand("${myhostname} $unknown_thing $ $1 ${bad $maximal_queue_"
	                                 "lifetime_weeks $bounce_queue_lifetime_minutes",
	                                 conf);
	CHECK_STR(x, "mx.example.test  $ $1 ${bad 0 7200");
	free(x);
	conf_free(conf);
	bounce_templates_free(&t);
	diag_list_free(&d);
}

static void expect_error(const char *text, const char *message)
{
	struct bounce_templates t;
	struct diag_list d;
	diag_list_init(&d);
	CHECK(bounce_templates_parse("bounce.cf", text, strlen(text), &t, &d) == -1);
	CHECK(has_error(&d, message));
	if (!has_error(&d, message))
		for (size_t i = 0; i < d.count; i++)
			fprintf(stderr, "  got: %s\n", d.items[i].text);
	for (int k = 0; k < BOUNCE_TEMPLATE_COUNT; k++)
		CHECK(!t.t[k].set);
	diag_list_free(&d);
}

TEST(errors_name_the_line)
{
	expect_error("junk\n", "bounce.cf:1: expected");
	expect_error("fail_template = <<EOF\n\nx\nEOF\n", "bounce.cf:1: expected");
	expect_error("failure_template = <<EOF\nSubject: x\n\ntext\n",
	             "bounce.cf:1: "
	             "failure_template: no \"EOF\"");
	expect_error("failure_template = <<EOF\nSubject: x\nEOF\n", "no empty line");
	expect_error("\nfailure_template = <<EOF\nSubject x\n\nt\nEOF\n",
	             "bounce.cf:3: a template header line");
	expect_error("failure_template = <<EOF\nReply-To: x\n\nt\nEOF\n",
	             "bounce.cf:2: unknown template header");
	expect_error("failure_template = <<EOF\nSubject: a\nSubject: b\n\nt\nEOF\n",
	             "bounce.cf:3: template header given twice");
	expect_error("failure_template = <<EOF\nSubject: \n\nt\nEOF\n", "empty template header");
	expect_error("failure_template = <<EOF\nCharset: utf 8\n\nt\nEOF\n", "not a character set");
	expect_error("failure_template = <<EOF\n\nd\xc3\xa9j\xc3\xa0\nEOF\n", "needs a Charset");
	expect_error("failure_template = <<EOF\n\nt\nEOF\nfailure_template = <<EOF\n\nu\nEOF\n",
	             "bounce.cf:5: failure_template given twice");
	expect_error("failure_template = <<\n\nt\n\n", "bounce.cf:1: expected");
	expect_error("failure_template = <<EOF\nSubject: a\rb\n\nt\nEOF\n", "control character");
	/* A good template next to a bad one: nothing is kept. */
	expect_error("delay_template = <<EOF\n\nfine\nEOF\njunk\n", "bounce.cf:5: expected");
}

TEST(charset_allows_8bit)
{
	const char text[] = "failure_template = <<EOF\nCharset: utf-8\nSubject: \xc3\xa9"
	                    "chec\n\n"
	                    "d\xc3\xa9j\xc3\xa0\nEOF\n";
	struct bounce_templates t;
	struct diag_list d;
	diag_list_init(&d);
	CHECK(bounce_templates_parse("bounce.cf", text, strlen(text), &t, &d) == 0);
	CHECK_STR(t.t[BOUNCE_TEMPLATE_FAILURE].subject, "\xc3\xa9"
	                                                "chec");
	bounce_templates_free(&t);
	diag_list_free(&d);
}

int main(void)
{
	RUN(parse_good);
	RUN(errors_name_the_line);
	RUN(charset_allows_8bit);
	return TESTING_DONE();
}

/* Unit tests for mail/pipe_args: the pipe agent's master.conf arguments
 * (flags, user, size, eol escapes, argv last), the errors an admin sees,
 * the recipient values under the h, u and q flags, and argv expansion
 * with per-recipient macros repeated per recipient. */
#include <stdlib.h>
#include <string.h>

#include "mail/pipe_args.h"
#include "util/testing.h"

/* Parse a blank-separated argument line: 0 with pa filled, or -1 with
 * the error in *why (a static buffer). */
static int parse(const char *line, struct pipe_args *pa, const char **why)
{
	static struct str error;
	char *copy = strdup(line);
	char *args[32];
	size_t n = 0;
	for (char *tok = strtok(copy, " "); tok && n < 32; tok = strtok(NULL, " "))
		args[n++] = tok;
	str_clear(&error);
	int rc = pipe_args_parse(args, n, pa, &error);
	*why = str_cstr(&error);
	free(copy);
	return rc;
}

TEST(attributes)
{
	struct pipe_args pa;
	const char *why;
	CHECK(parse("flags=DRhu user=vmail:vmail size=10000 eol=\\r\\n directory=/tmp "
	            "null_sender=<> argv=/bin/lda -f ${sender} -d ${user}@${nexthop}",
	            &pa, &why) == 0);
	CHECK(pa.flags == (PIPE_FLAG_DELIVERED_TO | PIPE_FLAG_RETURN_PATH | PIPE_FLAG_FOLD_HOST |
	                   PIPE_FLAG_FOLD_USER));
	CHECK_STR(pa.user, "vmail:vmail");
	CHECK(pa.size_limit == 10000);
	CHECK_STR(pa.eol, "\r\n");
	CHECK_STR(pa.directory, "/tmp");
	CHECK_STR(pa.null_sender, "<>");
	CHECK(pa.argc == 5);
	CHECK_STR(pa.argv[0], "/bin/lda");
	CHECK_STR(pa.argv[4], "${user}@${nexthop}");
	pipe_args_free(&pa);

	/* Defaults; argv= with the command in the next word. */
	CHECK(parse("user=nobody argv= /bin/cat", &pa, &why) == 0);
	CHECK(pa.flags == 0 && pa.size_limit == 0 && pa.directory == NULL);
	CHECK_STR(pa.eol, "\n");
	CHECK_STR(pa.null_sender, "MAILER-DAEMON");
	CHECK(pa.argc == 1);
	CHECK_STR(pa.argv[0], "/bin/cat");
	pipe_args_free(&pa);

	CHECK(parse("user=nobody eol=\\015\\012 argv=/bin/cat", &pa, &why) == 0);
	CHECK_STR(pa.eol, "\r\n");
	pipe_args_free(&pa);
}

TEST(attribute_errors)
{
	struct pipe_args pa;
	const char *why;
	CHECK(parse("user=nobody", &pa, &why) == -1);
	CHECK_STR(why, "argv= missing or empty: no command to run");
	CHECK(parse("argv=/bin/cat", &pa, &why) == -1);
	CHECK_STR(why, "user= missing: the command needs a user to run as");
	CHECK(parse("flags=Z user=nobody argv=/bin/cat", &pa, &why) == -1);
	CHECK_STR(why, "flags=Z: unknown flag 'Z' (known: BDFORXhqu.>)");
	CHECK(parse("user=a user=b argv=/bin/cat", &pa, &why) == -1);
	CHECK_STR(why, "user= given twice");
	CHECK(parse("user=nobody colour=red argv=/bin/cat", &pa, &why) == -1);
	CHECK_STR(why, "unknown attribute \"colour\"");
	CHECK(parse("user=nobody stray argv=/bin/cat", &pa, &why) == -1);
	CHECK_STR(why, "\"stray\": expected name=value (argv= comes last)");
	CHECK(parse("user=nobody directory=tmp argv=/bin/cat", &pa, &why) == -1);
	CHECK_STR(why, "directory=tmp: not an absolute path");
	CHECK(parse("user=nobody eol=\\q argv=/bin/cat", &pa, &why) == -1);
	CHECK_STR(why, "eol=\\q: unknown escape");
	CHECK(parse("user=nobody eol=\\0 argv=/bin/cat", &pa, &why) == -1);
	CHECK(parse("user=nobody size=lots argv=/bin/cat", &pa, &why) == -1);
	CHECK(strncmp(why, "size=lots: ", 11) == 0);
	CHECK(parse("user=nobody argv=/bin/cat ${recipent}", &pa, &why) == -1);
	CHECK_STR(why, "argv: unknown macro ${recipent} in \"${recipent}\"");
	CHECK(parse("user=nobody argv=/bin/cat ${sender", &pa, &why) == -1);
}

TEST(recipient_values)
{
	struct pipe_recipient_values rv;
	pipe_recipient_values("Bob+Lists@Example.TEST", NULL, "+", 0, &rv);
	CHECK_STR(rv.recipient, "Bob+Lists@Example.TEST");
	CHECK_STR(rv.original_recipient, "Bob+Lists@Example.TEST");
	CHECK_STR(rv.mailbox, "Bob+Lists");
	CHECK_STR(rv.user, "Bob");
	CHECK_STR(rv.extension, "Lists");
	CHECK_STR(rv.domain, "Example.TEST");
	pipe_recipient_values_free(&rv);

	pipe_recipient_values("Bob+Lists@Example.TEST", "orig@Example.TEST", "+",
	                      PIPE_FLAG_FOLD_HOST | PIPE_FLAG_FOLD_USER, &rv);
	CHECK_STR(rv.recipient, "bob+lists@example.test");
	CHECK_STR(rv.original_recipient, "orig@example.test");
	CHECK_STR(rv.user, "bob");
	CHECK_STR(rv.domain, "example.test");
	pipe_recipient_values_free(&rv);

	pipe_recipient_values("a b@x.test", NULL, "", PIPE_FLAG_QUOTE, &rv);
	CHECK_STR(rv.recipient, "\"a b\"@x.test");
	CHECK_STR(rv.mailbox, "\"a b\"");
	CHECK_STR(rv.extension, "");
	pipe_recipient_values_free(&rv);
}

TEST(argv_expansion)
{
	struct pipe_args pa;
	const char *why;
	CHECK(parse("user=nobody argv=/bin/deliver -f ${sender} -n $nexthop --to=${recipient} "
	            "${size} $$x ${extension?+${extension}}",
	            &pa, &why) == 0);
	struct pipe_recipient_values rv[2];
	pipe_recipient_values("a+ext@one.test", NULL, "+", 0, &rv[0]);
	pipe_recipient_values("b@two.test", NULL, "+", 0, &rv[1]);
	struct pipe_message_values mv = {.sender = "", .nexthop = "one.test", .size = "123"};
	char **argv;
	struct str error = STR_INIT;
	CHECK(pipe_argv_expand(&pa, &mv, rv, 2, &argv, &error) == 0);
	const char *want[] = {"/bin/deliver",
	                      "-f",
	                      "MAILER-DAEMON",
	                      "-n",
	                      "one.test",
	                      "--to=a+ext@one.test",
	                      "--to=b@two.test",
	                      "123",
	                      "$x",
	                      "+ext",
	                      "",
	                      NULL};
	size_t n = 0;
	while (argv[n] && want[n]) {
		CHECK_STR(argv[n], want[n]);
		n++;
	}
	CHECK(argv[n] == NULL && want[n] == NULL);
	for (size_t i = 0; argv[i]; i++)
		free(argv[i]);
	free(argv);

	/* No recipients: per-recipient arguments are left out. */
	CHECK(pipe_argv_expand(&pa, &mv, rv, 0, &argv, &error) == 0);
	CHECK_STR(argv[4], "one.test");
	CHECK_STR(argv[5], "123");
	for (size_t i = 0; argv[i]; i++)
		free(argv[i]);
	free(argv);
	pipe_recipient_values_free(&rv[0]);
	pipe_recipient_values_free(&rv[1]);
	pipe_args_free(&pa);
	str_free(&error);
}

int main(void)
{
	RUN(attributes);
	RUN(attribute_errors);
	RUN(recipient_values);
	RUN(argv_expansion);
	return TESTING_DONE();
}

/*
 * Tests of envelope_redirect_copy: REDIRECT replaces every recipient and
 * drops the content filter, BCC adds one with NOTIFY=NEVER (not twice),
 * both together, and neither (a plain copy); the other fields are kept.
 */
#include <stdlib.h>
#include <string.h>

#include "mail/redirect.h"
#include "util/alloc.h"
#include "util/testing.h"

static void envelope(struct queue_envelope *env)
{
	queue_envelope_init(env);
	memcpy(env->id, "0123456789ABCDEF", 17);
	env->sender = xstrdup("s@example.org");
	env->filter = xstrdup("smtp:[127.0.0.1]:10025");
	queue_envelope_add_rcpt(env, "a@example.org", "rfc822;a@example.org", "SUCCESS");
	queue_envelope_add_rcpt(env, "b@example.org", "", "");
}

TEST(redirect)
{
	struct queue_envelope env, out;
	envelope(&env);
	envelope_redirect_copy(&out, &env, "q@example.org", NULL);
	CHECK(out.rcpt_count == 1);
	CHECK_STR(out.rcpts[0].address, "q@example.org");
	CHECK(out.filter == NULL);
	CHECK_STR(out.sender, "s@example.org");
	CHECK_STR(out.id, "0123456789ABCDEF");
	queue_envelope_free(&out);
	envelope_redirect_copy(&out, &env, "q@example.org", "archive@example.org");
	CHECK(out.rcpt_count == 2);
	CHECK_STR(out.rcpts[1].address, "archive@example.org");
	CHECK_STR(out.rcpts[1].notify, "NEVER");
	queue_envelope_free(&out);
	queue_envelope_free(&env);
}

TEST(bcc)
{
	struct queue_envelope env, out;
	envelope(&env);
	envelope_redirect_copy(&out, &env, NULL, "archive@example.org");
	CHECK(out.rcpt_count == 3);
	CHECK_STR(out.rcpts[0].notify, "SUCCESS");
	CHECK_STR(out.rcpts[2].address, "archive@example.org");
	CHECK_STR(out.rcpts[2].notify, "NEVER");
	CHECK_STR(out.filter, "smtp:[127.0.0.1]:10025");
	queue_envelope_free(&out);
	/* Already a recipient (in any case): not added again. */
	envelope_redirect_copy(&out, &env, NULL, "B@example.org");
	CHECK(out.rcpt_count == 2);
	queue_envelope_free(&out);
	envelope_redirect_copy(&out, &env, NULL, NULL);
	CHECK(out.rcpt_count == 2);
	queue_envelope_free(&out);
	queue_envelope_free(&env);
}

int main(void)
{
	RUN(redirect);
	RUN(bcc);
	return TESTING_DONE();
}

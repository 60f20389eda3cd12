/*
 * Tests of blind carbon copies: always_bcc, sender and recipient tables
 * (user@domain before @domain, case-insensitive keys), NOTIFY=NEVER, no
 * duplicates, values with <> and blanks, and a table that fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/bcc.h"
#include "util/testing.h"

/* A fake table: "key=value" pairs; the spec "broken" fails every look-up. */
static const char *const *pairs;
static struct str asked;

static int fake_lookup(void *ctx, const char *spec, const char *key, struct str *value)
{
	(void)ctx;
	str_printf(&asked, "%s:%s|", spec, key);
	if (strcmp(spec, "broken") == 0)
		return -1;
	for (size_t i = 0; pairs && pairs[i]; i++) {
		const char *eq = strchr(pairs[i], '=');
		if (strlen(key) == (size_t)(eq - pairs[i]) &&
		    strncmp(key, pairs[i], eq - pairs[i]) == 0) {
			str_set(value, eq + 1);
			return 1;
		}
	}
	return 0;
}

static char *maps[] = {"t", NULL};
static char *broken[] = {"broken", NULL};

/* The recipients of env as "address/notify " pairs. */
static char *rcpts(const struct queue_envelope *env)
{
	struct str out = STR_INIT;
	for (size_t i = 0; i < env->rcpt_count; i++)
		str_printf(&out, "%s/%s ", env->rcpts[i].address, env->rcpts[i].notify);
	return str_steal(&out);
}

TEST(tables_and_always_bcc)
{
	static const char *p[] = {"alice@example.test=<archive-alice@example.test>",
	                          "@example.test=domain-archive@example.test",
	                          "sales@shop.test= sales-copy@example.test ", NULL};
	pairs = p;
	struct bcc_config cfg = {.always_bcc = "all@example.test",
	                         .sender_maps = maps,
	                         .recipient_maps = maps,
	                         .lookup = fake_lookup};
	CHECK(bcc_wanted(&cfg));
	struct queue_envelope received, out;
	queue_envelope_init(&received);
	queue_envelope_init(&out);
	received.sender = strdup("Alice@Example.TEST");
	queue_envelope_add_rcpt(&received, "sales@shop.test", "", "");
	queue_envelope_add_rcpt(&received, "bob@other.test", "", "SUCCESS");
	/* out: the expanded recipients (here one already the always_bcc) */
	queue_envelope_add_rcpt(&out, "sales-team@shop.test", "rfc822;sales@shop.test", "");
	queue_envelope_add_rcpt(&out, "all@example.test", "", "");
	str_clear(&asked);
	CHECK(bcc_add(&cfg, &received, &out) == 0);
	char *got = rcpts(&out);
	CHECK_STR(got, "sales-team@shop.test/ all@example.test/ archive-alice@example.test/NEVER "
	               "sales-copy@example.test/NEVER ");
	free(got);
	/* Keys: lower case, the address first, then @domain. */
	CHECK_STR(str_cstr(&asked),
	          "t:alice@example.test|t:sales@shop.test|t:bob@other.test|t:@other.test|");
	/* A second run adds nothing new. */
	CHECK(bcc_add(&cfg, &received, &out) == 0);
	CHECK(out.rcpt_count == 4);
	queue_envelope_free(&out);
	queue_envelope_init(&out);
	/* The @domain entry, for a sender of that domain without its own. */
	free(received.sender);
	received.sender = strdup("carol@example.test");
	CHECK(bcc_add(&cfg, &received, &out) == 0);
	got = rcpts(&out);
	CHECK_STR(got, "domain-archive@example.test/NEVER sales-copy@example.test/NEVER "
	               "all@example.test/NEVER ");
	free(got);
	queue_envelope_free(&out);
	queue_envelope_free(&received);
}

TEST(nothing_configured_and_failures)
{
	struct bcc_config none = {.lookup = fake_lookup};
	CHECK(!bcc_wanted(&none));
	struct bcc_config empty_always = {.always_bcc = "", .lookup = fake_lookup};
	CHECK(!bcc_wanted(&empty_always));
	struct queue_envelope received, out;
	queue_envelope_init(&received);
	queue_envelope_init(&out);
	received.sender = strdup(""); /* the null sender is not looked up */
	queue_envelope_add_rcpt(&received, "x@y.test", "", "");
	struct bcc_config cfg = {
	    .sender_maps = maps, .recipient_maps = broken, .lookup = fake_lookup};
	str_clear(&asked);
	CHECK(bcc_add(&cfg, &received, &out) == -1);
	CHECK_STR(str_cstr(&asked), "broken:x@y.test|");
	queue_envelope_free(&out);
	queue_envelope_free(&received);
}

int main(void)
{
	RUN(tables_and_always_bcc);
	RUN(nothing_configured_and_failures);
	str_free(&asked);
	return TESTING_DONE();
}

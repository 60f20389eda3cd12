/* Fuzz target: every SMTP command parser over arbitrary bytes. Besides
 * memory safety it checks that failures carry a reply, and that a parsed
 * MAIL or RCPT address (strict or not: strict_rfc821_envelopes), written
 * back in canonical form, parses again to the same thing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_command.h"
#include "util/alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_reply(const struct smtp_reply *reply)
{
	if (reply->code < 500 || reply->code > 555 || reply->enhanced == NULL ||
	    reply->text == NULL || reply->enhanced[0] != '5')
		abort();
}

static void fuzz_mail(const char *arg, bool strict)
{
	struct smtp_mail_params p;
	struct smtp_reply reply;
	if (smtp_parse_mail_from_envelope(arg, strict, &p, &reply) != 0) {
		check_reply(&reply);
		if (p.address != NULL || p.envid != NULL || p.auth != NULL)
			abort();
		return;
	}
	if (p.size < 0 || (p.envid && strlen(p.envid) > 100))
		abort();
	char *again = xasprintf("FROM:<%s>%s", p.address, p.smtputf8 ? " SMTPUTF8" : "");
	struct smtp_mail_params q;
	if (smtp_parse_mail_from(again, &q, &reply) != 0 || strcmp(p.address, q.address) != 0 ||
	    strcmp(p.addr.local, q.addr.local) != 0 || strcmp(p.addr.domain, q.addr.domain) != 0)
		abort();
	smtp_mail_params_free(&q);
	free(again);
	smtp_mail_params_free(&p);
}

static void fuzz_rcpt(const char *arg, bool strict)
{
	struct smtp_rcpt_params p;
	struct smtp_reply reply;
	if (smtp_parse_rcpt_to_envelope(arg, strict, &p, &reply) != 0) {
		check_reply(&reply);
		if (p.address != NULL || p.notify != NULL || p.orcpt != NULL)
			abort();
		return;
	}
	if ((p.notify_flags & SMTP_NOTIFY_NEVER) && p.notify_flags != SMTP_NOTIFY_NEVER)
		abort();
	if ((p.notify == NULL) != (p.notify_flags == 0))
		abort();
	char *again = xasprintf("TO:<%s>", p.address);
	struct smtp_rcpt_params q;
	if (smtp_parse_rcpt_to(again, &q, &reply) != 0 || strcmp(p.address, q.address) != 0 ||
	    p.postmaster != q.postmaster)
		abort();
	smtp_rcpt_params_free(&q);
	free(again);
	smtp_rcpt_params_free(&p);
}

static void fuzz_bdat(const char *arg)
{
	unsigned long long size = 0;
	bool last = false;
	struct smtp_reply reply;
	if (smtp_parse_bdat(arg, &size, &last, &reply) != 0)
		check_reply(&reply);
	else if (size > SMTP_BDAT_SIZE_MAX)
		abort();
}

static void fuzz_auth(const char *arg)
{
	struct smtp_auth_params p;
	struct smtp_reply reply;
	if (smtp_parse_auth(arg, &p, &reply) != 0) {
		check_reply(&reply);
		return;
	}
	size_t len = strlen(p.mechanism);
	if (len == 0 || len > 20)
		abort();
	for (size_t i = 0; i < len; i++)
		if (p.mechanism[i] >= 'a' && p.mechanism[i] <= 'z')
			abort();
	smtp_auth_params_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The parsers see a C string, as smtpd hands them one. */
	char *line = xstrndup((const char *)data, size);
	const char *arg;
	enum smtp_verb verb = smtp_command_parse(line, &arg);
	if (smtp_verb_name(verb) == NULL || arg < line || arg > line + strlen(line))
		abort();
	fuzz_mail(arg, true);
	fuzz_mail(arg, false);
	fuzz_rcpt(arg, true);
	fuzz_rcpt(arg, false);
	fuzz_bdat(arg);
	fuzz_auth(arg);
	fuzz_mail(line, size > 0 && (data[0] & 1));
	fuzz_rcpt(line, size > 0 && (data[0] & 2));
	fuzz_bdat(line);
	fuzz_auth(line);
	free(line);
	return 0;
}

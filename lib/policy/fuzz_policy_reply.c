/* Fuzz target: what a policy server sends back (policy_proto.h), reply
 * after reply, and each action as smtpd reads it (smtp/access_action.h);
 * also the bytes as a policy server's address. A policy server may send
 * anything; none of it may crash smtpd, and what is accepted must keep
 * the bounds smtpd relies on. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy_proto.h"
#include "smtp/access_action.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_action(const char *value)
{
	struct access_action a;
	access_action_parse(value, 554, 450, &a);
	if (a.text == NULL || a.word == NULL || a.word_len > strlen(value))
		abort();
	switch (a.kind) {
	case ACCESS_REFUSE:
	case ACCESS_DEFER_IF_PERMIT:
	case ACCESS_DEFER_IF_REJECT:
		if (a.code < 400 || a.code > 599 || a.enhanced[0] != '0' + a.code / 100 ||
		    a.text_len == 0)
			abort();
		break;
	case ACCESS_PREPEND:
		if (!access_header_valid(a.text, a.text_len))
			abort();
		break;
	case ACCESS_IGNORED:
	case ACCESS_INVALID:
		if (a.error == NULL)
			abort();
		break;
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = strndup((const char *)data, size);
	struct policy_endpoint ep;
	const char *error = NULL;
	if (policy_endpoint_parse(text, "/var/spool/postern", &ep, &error) == 0) {
		if (ep.is_unix ? ep.path == NULL : ep.host == NULL || ep.port == NULL)
			abort();
		policy_endpoint_free(&ep);
	} else if (error == NULL) {
		abort();
	}
	check_action(text);
	free(text);

	struct str action = STR_INIT;
	size_t at = 0;
	while (at < size) {
		size_t used = 0;
		error = NULL;
		int rc =
		    policy_reply_parse((const char *)data + at, size - at, &action, &used, &error);
		if (rc < 0 && error == NULL)
			abort();
		if (rc != 1)
			break;
		if (used == 0 || used > size - at || action.len > POLICY_REPLY_LINE_MAX ||
		    memchr(action.data ? action.data : "", '\0', action.len))
			abort();
		check_action(str_cstr(&action));
		at += used;
	}
	str_free(&action);
	return 0;
}

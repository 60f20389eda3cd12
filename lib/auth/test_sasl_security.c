/* Unit tests for sasl_security.c: Postfix's option words and what they
 * let through. */
#include "auth/sasl_security.h"

#include "auth/dovecot_auth.h"
#include "util/testing.h"

TEST(parse_and_allow)
{
	struct sasl_policy p;
	const char *bad = NULL;
	char *none[] = {NULL};
	CHECK(sasl_policy_parse(none, &p, &bad) == 0 && p.refused == 0 && p.required == 0);
	CHECK(sasl_policy_allows(&p, DOVECOT_MECH_ANONYMOUS | DOVECOT_MECH_PLAINTEXT));

	char *postfix_default[] = {"noanonymous", NULL};
	CHECK(sasl_policy_parse(postfix_default, &p, &bad) == 0);
	CHECK(!sasl_policy_allows(&p, DOVECOT_MECH_ANONYMOUS));
	CHECK(sasl_policy_allows(&p, DOVECOT_MECH_PLAINTEXT));

	char *strict[] = {"NoAnonymous", "noplaintext", "nodictionary", "noactive", NULL};
	CHECK(sasl_policy_parse(strict, &p, &bad) == 0);
	CHECK(!sasl_policy_allows(&p, DOVECOT_MECH_PLAINTEXT));
	CHECK(!sasl_policy_allows(&p, DOVECOT_MECH_DICTIONARY | DOVECOT_MECH_ACTIVE));
	CHECK(sasl_policy_allows(&p, DOVECOT_MECH_MUTUAL_AUTH));
	CHECK(sasl_policy_allows(&p, 0));

	char *strong[] = {"mutual_auth", "forward_secrecy", NULL};
	CHECK(sasl_policy_parse(strong, &p, &bad) == 0);
	CHECK(!sasl_policy_allows(&p, DOVECOT_MECH_MUTUAL_AUTH));
	CHECK(sasl_policy_allows(&p, DOVECOT_MECH_MUTUAL_AUTH | DOVECOT_MECH_FORWARD_SECRECY));

	char *typo[] = {"noanonymous", "noplain", NULL};
	CHECK(sasl_policy_parse(typo, &p, &bad) == -1);
	CHECK_STR(bad, "noplain");
	CHECK(p.refused == 0 && p.required == 0);
}

int main(void)
{
	RUN(parse_and_allow);
	return TESTING_DONE();
}

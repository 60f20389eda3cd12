/* Unit tests for smtp/xforward: the XFORWARD command parser, the EHLO
 * keyword parser and the client's command builder. */
#include <stdlib.h>

#include "smtp/smtp_resp.h"
#include "smtp/xforward.h"
#include "util/testing.h"

/* The error text of parsing arg, or "OK". */
static char *parse_error(const char *arg)
{
	struct xforward_attrs a;
	char *error = NULL;
	if (xforward_parse(arg, &a, &error) == 0) {
		CHECK(error == NULL);
		xforward_attrs_free(&a);
		return strdup("OK");
	}
	CHECK(error != NULL);
	CHECK(a.given == 0);
	return error;
}

#define CHECK_PARSE_ERROR(arg, want)                                                               \
	do {                                                                                       \
		char *got_ = parse_error(arg);                                                     \
		CHECK_STR(got_, want);                                                             \
		free(got_);                                                                        \
	} while (0)

TEST(parse_good)
{
	struct xforward_attrs a;
	char *error = NULL;
	CHECK(xforward_parse("NAME=mail.example.com ADDR=192.0.2.5 PORT=4711 PROTO=ESMTPS "
	                     "HELO=[192.0.2.5] IDENT=0006412F3A1B2C4D SOURCE=remote LOGIN=u+40x",
	                     &a, &error) == 0);
	CHECK(a.given == XFORWARD_ALL);
	CHECK_STR(xforward_attrs_get(&a, XFORWARD_NAME), "mail.example.com");
	CHECK_STR(xforward_attrs_get(&a, XFORWARD_ADDR), "192.0.2.5");
	CHECK_STR(xforward_attrs_get(&a, XFORWARD_PORT), "4711");
	CHECK_STR(xforward_attrs_get(&a, XFORWARD_PROTO), "ESMTPS");
	CHECK_STR(xforward_attrs_get(&a, XFORWARD_HELO), "[192.0.2.5]");
	CHECK_STR(xforward_attrs_get(&a, XFORWARD_IDENT), "0006412F3A1B2C4D");
	CHECK_STR(xforward_attrs_get(&a, XFORWARD_SOURCE), "REMOTE");
	/* xtext decoded; '@' is kept in a login. */
	CHECK_STR(xforward_attrs_get(&a, XFORWARD_LOGIN), "u@x");
	xforward_attrs_free(&a);

	/* Case-insensitive names, blanks, IPv6 with and without prefix. */
	CHECK(xforward_parse("  addr=IPv6:2001:db8::1\tname=unknown  ", &a, &error) == 0);
	CHECK(a.given == (XFORWARD_ADDR | XFORWARD_NAME));
	CHECK_STR(xforward_attrs_get(&a, XFORWARD_ADDR), "2001:db8::1");
	CHECK(xforward_attrs_get(&a, XFORWARD_PORT) == NULL);
	xforward_attrs_free(&a);
	CHECK(xforward_parse("ADDR=::1", &a, &error) == 0);
	CHECK_STR(xforward_attrs_get(&a, XFORWARD_ADDR), "::1");
	xforward_attrs_free(&a);

	/* Unavailable values; SOURCE then is LOCAL, as in Postfix. */
	CHECK(xforward_parse("NAME=[UNAVAILABLE] ADDR=[TEMPUNAVAIL] SOURCE=[UNAVAILABLE]", &a,
	                     &error) == 0);
	CHECK_STR(xforward_attrs_get(&a, XFORWARD_NAME), "");
	CHECK_STR(xforward_attrs_get(&a, XFORWARD_ADDR), "");
	CHECK_STR(xforward_attrs_get(&a, XFORWARD_SOURCE), "LOCAL");
	xforward_attrs_free(&a);

	/* Censoring: an encoded space, header specials and control bytes. */
	CHECK(xforward_parse("HELO=a+20b<c>+01 IDENT=x;y", &a, &error) == 0);
	CHECK_STR(xforward_attrs_get(&a, XFORWARD_HELO), "a?b?c??");
	CHECK_STR(xforward_attrs_get(&a, XFORWARD_IDENT), "x?y");
	xforward_attrs_free(&a);

	/* Not xtext: taken as it is. */
	CHECK(xforward_parse("HELO=a+zz", &a, &error) == 0);
	CHECK_STR(xforward_attrs_get(&a, XFORWARD_HELO), "a+zz");
	xforward_attrs_free(&a);

	/* The same attribute twice: the last wins. */
	CHECK(xforward_parse("PROTO=SMTP PROTO=ESMTP", &a, &error) == 0);
	CHECK_STR(xforward_attrs_get(&a, XFORWARD_PROTO), "ESMTP");
	xforward_attrs_free(&a);
}

TEST(parse_bad)
{
	CHECK_PARSE_ERROR("", "Syntax: XFORWARD attribute=value...");
	CHECK_PARSE_ERROR("   ", "Syntax: XFORWARD attribute=value...");
	CHECK_PARSE_ERROR("NAME", "Error: attribute=value expected");
	CHECK_PARSE_ERROR("NAME=", "Error: attribute=value expected");
	CHECK_PARSE_ERROR("NAME=a b", "Error: attribute=value expected");
	CHECK_PARSE_ERROR("=b", "Bad XFORWARD attribute name: ");
	CHECK_PARSE_ERROR("FOO=bar", "Bad XFORWARD attribute name: FOO");
	CHECK_PARSE_ERROR("F\x80O=bar", "Bad XFORWARD attribute name: F?O");
	CHECK_PARSE_ERROR("NAME=ok.example ADDR=1.2.3", "Bad ADDR syntax: 1.2.3");
	CHECK_PARSE_ERROR("ADDR=IPv6:1.2.3.4", "Bad ADDR syntax: IPv6:1.2.3.4");
	CHECK_PARSE_ERROR("NAME=bad_na<me", "Bad NAME syntax: bad_na?me");
	CHECK_PARSE_ERROR("NAME=[192.0.2.1]", "Bad NAME syntax: [192.0.2.1]");
	CHECK_PARSE_ERROR("NAME=123", "Bad NAME syntax: 123");
	CHECK_PARSE_ERROR("PORT=65536", "Bad PORT syntax: 65536");
	CHECK_PARSE_ERROR("PORT=12a", "Bad PORT syntax: 12a");
	CHECK_PARSE_ERROR("SOURCE=elsewhere", "Bad SOURCE syntax: elsewhere");
	char proto[80];
	snprintf(proto, sizeof(proto), "PROTO=%065d", 0);
	CHECK_PARSE_ERROR(proto,
	                  "Bad PROTO syntax: "
	                  "00000000000000000000000000000000000000000000000000000000000000000");
	char long_value[300];
	snprintf(long_value, sizeof(long_value), "HELO=%0256d", 0);
	CHECK_PARSE_ERROR(long_value, "Error: attribute value too long");
	snprintf(long_value, sizeof(long_value), "HELO=%0255d", 0);
	CHECK_PARSE_ERROR(long_value, "OK");
}

TEST(merge)
{
	struct xforward_attrs all, one;
	char *error = NULL;
	xforward_attrs_init(&all);
	CHECK(xforward_parse("NAME=a.example ADDR=192.0.2.1", &one, &error) == 0);
	xforward_attrs_merge(&all, &one);
	CHECK(one.given == 0);
	CHECK(xforward_parse("ADDR=192.0.2.2 HELO=h", &one, &error) == 0);
	xforward_attrs_merge(&all, &one);
	CHECK(all.given == (XFORWARD_NAME | XFORWARD_ADDR | XFORWARD_HELO));
	CHECK_STR(xforward_attrs_get(&all, XFORWARD_NAME), "a.example");
	CHECK_STR(xforward_attrs_get(&all, XFORWARD_ADDR), "192.0.2.2");
	CHECK_STR(xforward_attrs_get(&all, XFORWARD_HELO), "h");
	xforward_attrs_free(&all);
	CHECK(all.given == 0 && xforward_attrs_get(&all, XFORWARD_NAME) == NULL);
}

TEST(names)
{
	CHECK(xforward_attr_lookup("name", 4) == XFORWARD_NAME);
	CHECK(xforward_attr_lookup("LOGIN", 5) == XFORWARD_LOGIN);
	CHECK(xforward_attr_lookup("LOGINX", 6) == 0);
	CHECK(xforward_attr_lookup("", 0) == 0);
	CHECK_STR(xforward_attr_name(6), "SOURCE");
	CHECK(xforward_attr_name(XFORWARD_ATTR_COUNT) == NULL);
	const char *kw = XFORWARD_KEYWORDS;
	CHECK(xforward_keywords_parse(kw, strlen(kw)) == XFORWARD_ALL);
	CHECK(xforward_keywords_parse(" name  addr FOO\tproto", 21) ==
	      (XFORWARD_NAME | XFORWARD_ADDR | XFORWARD_PROTO));
	CHECK(xforward_keywords_parse("", 0) == 0);
}

TEST(ehlo_keyword)
{
	struct smtp_resp r;
	const char *error = NULL;
	smtp_resp_init(&r);
	CHECK(smtp_resp_add_line(&r, "250-mx.example", 14, &error) == SMTP_RESP_MORE);
	const char *line = "250-XFORWARD NAME ADDR PROTO HELO SOURCE PORT IDENT";
	CHECK(smtp_resp_add_line(&r, line, strlen(line), &error) == SMTP_RESP_MORE);
	CHECK(smtp_resp_add_line(&r, "250 PIPELINING", 14, &error) == SMTP_RESP_DONE);
	struct smtp_ehlo e;
	smtp_ehlo_parse(&r, &e);
	CHECK(e.pipelining);
	CHECK(e.xforward == (XFORWARD_ALL & ~XFORWARD_LOGIN));
	smtp_ehlo_free(&e);
	smtp_resp_clear(&r);
	CHECK(smtp_resp_add_line(&r, "250 mx.example", 14, &error) == SMTP_RESP_DONE);
	smtp_ehlo_parse(&r, &e);
	CHECK(e.xforward == 0);
	smtp_ehlo_free(&e);
	smtp_resp_free(&r);
}

TEST(commands)
{
	const char *values[XFORWARD_ATTR_COUNT] = {
	    "client.example", "192.0.2.5", "4711", "ESMTP", "helo name", "ID1", "REMOTE", NULL,
	};
	char **lines = xforward_commands(values, XFORWARD_ALL);
	CHECK(lines[0] != NULL && lines[1] == NULL);
	CHECK_STR(lines[0], "XFORWARD NAME=client.example ADDR=192.0.2.5 PORT=4711 PROTO=ESMTP "
	                    "HELO=helo+20name IDENT=ID1 SOURCE=REMOTE LOGIN=[UNAVAILABLE]");
	xforward_commands_free(lines);

	/* Only the announced ones. */
	lines = xforward_commands(values, XFORWARD_NAME | XFORWARD_HELO);
	CHECK_STR(lines[0], "XFORWARD NAME=client.example HELO=helo+20name");
	CHECK(lines[1] == NULL);
	xforward_commands_free(lines);
	lines = xforward_commands(values, 0);
	CHECK(lines[0] == NULL);
	xforward_commands_free(lines);

	/* Long values: split over commands of at most 512 bytes; one too
	 * long for a server goes as [UNAVAILABLE]. What is built parses. */
	char name[250], helo[250], ident[240], login[300];
	memset(name, 'n', sizeof(name));
	for (size_t i = 50; i < sizeof(name); i += 50)
		name[i] = '.'; /* labels of at most 63 */
	name[sizeof(name) - 1] = '\0';
	memset(helo, 'h', sizeof(helo));
	helo[sizeof(helo) - 1] = '\0';
	memset(ident, '=', sizeof(ident)); /* 3 bytes each as xtext */
	ident[sizeof(ident) - 1] = '\0';
	memset(login, 'l', sizeof(login));
	login[sizeof(login) - 1] = '\0';
	const char *long_values[XFORWARD_ATTR_COUNT] = {
	    name, "192.0.2.5", "", "ESMTP", helo, ident, "LOCAL", login,
	};
	lines = xforward_commands(long_values, XFORWARD_ALL);
	size_t n = 0;
	struct xforward_attrs all, one;
	xforward_attrs_init(&all);
	for (; lines[n]; n++) {
		CHECK(strlen(lines[n]) + 2 <= XFORWARD_LINE_MAX);
		CHECK(strncmp(lines[n], "XFORWARD ", 9) == 0);
		char *error = NULL;
		CHECK(xforward_parse(lines[n] + 9, &one, &error) == 0);
		free(error);
		xforward_attrs_merge(&all, &one);
	}
	CHECK(n >= 2);
	CHECK(all.given == XFORWARD_ALL);
	CHECK_STR(xforward_attrs_get(&all, XFORWARD_NAME), name);
	CHECK_STR(xforward_attrs_get(&all, XFORWARD_PORT), "");
	CHECK_STR(xforward_attrs_get(&all, XFORWARD_IDENT), ""); /* too long as xtext */
	CHECK_STR(xforward_attrs_get(&all, XFORWARD_LOGIN), ""); /* too long */
	CHECK_STR(xforward_attrs_get(&all, XFORWARD_SOURCE), "LOCAL");
	xforward_attrs_free(&all);
	xforward_commands_free(lines);
}

int main(void)
{
	RUN(parse_good);
	RUN(parse_bad);
	RUN(merge);
	RUN(names);
	RUN(ehlo_keyword);
	RUN(commands);
	return TESTING_DONE();
}

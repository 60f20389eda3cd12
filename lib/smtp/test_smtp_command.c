/* Unit tests for smtp/smtp_command: verbs, MAIL, RCPT, BDAT and AUTH. */
#include <limits.h>
#include <stdlib.h>

#include "smtp/smtp_command.h"
#include "util/alloc.h"
#include "util/testing.h"

static struct smtp_reply reply;

/* ---- helpers: parse, check the failure reply, free ---- */

#define MAIL_FAILS(arg, want_code, want_enhanced)                                                  \
	do {                                                                                       \
		struct smtp_mail_params p_;                                                        \
		CHECK(smtp_parse_mail_from(arg, &p_, &reply) == -1);                               \
		CHECK(reply.code == (want_code));                                                  \
		CHECK_STR(reply.enhanced, want_enhanced);                                          \
		CHECK(reply.text != NULL && p_.address == NULL && p_.envid == NULL &&              \
		      p_.auth == NULL && p_.addr.local == NULL);                                   \
	} while (0)

#define RCPT_FAILS(arg, want_code, want_enhanced)                                                  \
	do {                                                                                       \
		struct smtp_rcpt_params p_;                                                        \
		CHECK(smtp_parse_rcpt_to(arg, &p_, &reply) == -1);                                 \
		CHECK(reply.code == (want_code));                                                  \
		CHECK_STR(reply.enhanced, want_enhanced);                                          \
		CHECK(reply.text != NULL && p_.address == NULL && p_.notify == NULL &&             \
		      p_.orcpt == NULL && p_.addr.local == NULL);                                  \
	} while (0)

/* The canonical sender, or NULL if parsing failed. */
static char *mail_address(const char *arg)
{
	struct smtp_mail_params p;
	if (smtp_parse_mail_from(arg, &p, &reply) != 0)
		return NULL;
	char *address = xstrdup(p.address);
	smtp_mail_params_free(&p);
	return address;
}

static char *rcpt_address(const char *arg)
{
	struct smtp_rcpt_params p;
	if (smtp_parse_rcpt_to(arg, &p, &reply) != 0)
		return NULL;
	char *address = xstrdup(p.address);
	smtp_rcpt_params_free(&p);
	return address;
}

#define CHECK_ADDR(fn, arg, want)                                                                  \
	do {                                                                                       \
		char *got_ = fn(arg);                                                              \
		CHECK_STR(got_, want);                                                             \
		free(got_);                                                                        \
	} while (0)

/* ---- verbs ---- */

TEST(verbs)
{
	static const struct {
		const char *line;
		enum smtp_verb verb;
		const char *arg;
	} cases[] = {
	    {"HELO mail.example.com", SMTP_VERB_HELO, "mail.example.com"},
	    {"ehlo mail.example.com", SMTP_VERB_EHLO, "mail.example.com"},
	    {"MAIL FROM:<a@b.c>", SMTP_VERB_MAIL, "FROM:<a@b.c>"},
	    {"mail from:<a@b.c>", SMTP_VERB_MAIL, "from:<a@b.c>"},
	    {"Rcpt To:<a@b.c>", SMTP_VERB_RCPT, "To:<a@b.c>"},
	    {"DATA", SMTP_VERB_DATA, ""},
	    {"data   ", SMTP_VERB_DATA, ""},
	    {"BDAT 100 LAST", SMTP_VERB_BDAT, "100 LAST"},
	    {"RSET", SMTP_VERB_RSET, ""},
	    {"NOOP anything at all", SMTP_VERB_NOOP, "anything at all"},
	    {"QUIT", SMTP_VERB_QUIT, ""},
	    {"VRFY  user", SMTP_VERB_VRFY, "user"},
	    {"EXPN list", SMTP_VERB_EXPN, "list"},
	    {"HELP", SMTP_VERB_HELP, ""},
	    {"StartTLS", SMTP_VERB_STARTTLS, ""},
	    {"AUTH PLAIN =", SMTP_VERB_AUTH, "PLAIN ="},
	    {"ETRN example.com", SMTP_VERB_ETRN, "example.com"},
	    {"xforward NAME=a", SMTP_VERB_XFORWARD, "NAME=a"},
	    {"MAIL\tFROM:<>", SMTP_VERB_MAIL, "FROM:<>"},
	    {"", SMTP_VERB_UNKNOWN, ""},
	    {" MAIL FROM:<>", SMTP_VERB_UNKNOWN, "MAIL FROM:<>"},
	    {"MAILFROM:<>", SMTP_VERB_UNKNOWN, ""},
	    {"MAI", SMTP_VERB_UNKNOWN, ""},
	    {"STARTTLSX", SMTP_VERB_UNKNOWN, ""},
	    {"GET / HTTP/1.0", SMTP_VERB_UNKNOWN, "/ HTTP/1.0"},
	    {"M\xC3\x81IL x", SMTP_VERB_UNKNOWN, "x"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *arg = NULL;
		enum smtp_verb verb = smtp_command_parse(cases[i].line, &arg);
		CHECK(verb == cases[i].verb);
		CHECK_STR(arg, cases[i].arg);
	}
	CHECK_STR(smtp_verb_name(SMTP_VERB_STARTTLS), "STARTTLS");
	CHECK_STR(smtp_verb_name(SMTP_VERB_ETRN), "ETRN");
	CHECK_STR(smtp_verb_name(SMTP_VERB_UNKNOWN), "UNKNOWN");
	CHECK_STR(smtp_verb_name((enum smtp_verb)999), "UNKNOWN");
}

/* strict_rfc821_envelopes = no: an address without brackets too. */
TEST(envelopes_not_strict)
{
	struct smtp_mail_params p;
	CHECK(smtp_parse_mail_from_envelope("FROM: A@B.c SIZE=10", false, &p, &reply) == 0);
	CHECK(strcmp(p.address, "A@b.c") == 0 && p.size == 10);
	smtp_mail_params_free(&p);
	CHECK(smtp_parse_mail_from_envelope("FROM:<a@b.c>", false, &p, &reply) == 0);
	smtp_mail_params_free(&p);
	CHECK(smtp_parse_mail_from_envelope("FROM:", false, &p, &reply) == -1);
	CHECK(smtp_parse_mail_from_envelope("FROM:a@b.c", true, &p, &reply) == -1);
	struct smtp_rcpt_params r;
	CHECK(smtp_parse_rcpt_to_envelope("TO: x@y.z NOTIFY=NEVER", false, &r, &reply) == 0);
	CHECK(strcmp(r.address, "x@y.z") == 0 && r.notify_flags == SMTP_NOTIFY_NEVER);
	smtp_rcpt_params_free(&r);
	CHECK(smtp_parse_rcpt_to_envelope("TO: bad@@y.z", false, &r, &reply) == -1);
	CHECK(reply.code == 501);
}

/* A local submission (sendmail -bs): a bare Local-part gets @origin. */
TEST(envelopes_local)
{
	struct smtp_mail_params p;
	CHECK(smtp_parse_mail_from_local("FROM:<alice>", "Origin.test", &p, &reply) == 0);
	CHECK_STR(p.address, "alice@origin.test");
	smtp_mail_params_free(&p);
	CHECK(smtp_parse_mail_from_local("FROM:<\"a@b\">", "origin.test", &p, &reply) == 0);
	CHECK_STR(p.address, "\"a@b\"@origin.test");
	smtp_mail_params_free(&p);
	CHECK(smtp_parse_mail_from_local("FROM:<a@b.c>", "origin.test", &p, &reply) == 0);
	CHECK_STR(p.address, "a@b.c");
	smtp_mail_params_free(&p);
	CHECK(smtp_parse_mail_from_local("FROM:<>", "origin.test", &p, &reply) == 0);
	CHECK_STR(p.address, "");
	smtp_mail_params_free(&p);
	CHECK(smtp_parse_mail_from_local("FROM:<bad address>", "origin.test", &p, &reply) == -1);
	CHECK(reply.code == 501);
	/* Not for a network client. */
	CHECK(smtp_parse_mail_from("FROM:<alice>", &p, &reply) == -1);
	CHECK(reply.code == 501);
	struct smtp_rcpt_params r;
	CHECK(smtp_parse_rcpt_to_local("TO:<bob> NOTIFY=NEVER", "origin.test", &r, &reply) == 0);
	CHECK_STR(r.address, "bob@origin.test");
	smtp_rcpt_params_free(&r);
	CHECK(smtp_parse_rcpt_to_local("TO:<Postmaster>", "origin.test", &r, &reply) == 0);
	CHECK(r.postmaster);
	smtp_rcpt_params_free(&r);
	CHECK(smtp_parse_rcpt_to_local("TO:<>", "origin.test", &r, &reply) == -1);
	CHECK(smtp_parse_rcpt_to("TO:<bob>", &r, &reply) == -1);
	CHECK(reply.code == 501);
}

TEST(reply_format)
{
	struct smtp_mail_params p;
	CHECK(smtp_parse_mail_from("FROM:a@b.c", &p, &reply) == -1);
	struct str out = STR_INIT;
	smtp_reply_format(&reply, &out);
	CHECK_STR(str_cstr(&out), "501 5.5.4 Syntax: MAIL FROM:<address>");
	str_free(&out);
}

/* ---- MAIL FROM ---- */

TEST(mail_paths)
{
	CHECK_ADDR(mail_address, "FROM:<user@example.com>", "user@example.com");
	CHECK_ADDR(mail_address, "FROM:<>", "");
	CHECK_ADDR(mail_address, "from:<User@Example.COM>", "User@example.com");
	CHECK_ADDR(mail_address, "FROM: <user@example.com>", "user@example.com");
	CHECK_ADDR(mail_address, "FROM:   <>", "");
	CHECK_ADDR(mail_address, "FROM:<user@example.com>   ", "user@example.com");
	CHECK_ADDR(mail_address, "FROM:<@relay.example,@r2.example:user@example.com>",
	           "user@example.com");
	CHECK_ADDR(mail_address, "FROM:<@relay.example:user@example.com>", "user@example.com");
	CHECK_ADDR(mail_address, "FROM:<\"a b\"@example.com>", "\"a b\"@example.com");
	CHECK_ADDR(mail_address, "FROM:<\"a>b\"@example.com>", "\"a>b\"@example.com");
	CHECK_ADDR(mail_address, "FROM:<\"a\\\">\"@example.com>", "\"a\\\">\"@example.com");
	CHECK_ADDR(mail_address, "FROM:<\"plain\"@example.com>", "plain@example.com");
	CHECK_ADDR(mail_address, "FROM:<u@[192.0.2.1]>", "u@[192.0.2.1]");
	CHECK_ADDR(mail_address, "FROM:<u@[ipv6:2001:DB8::1]>", "u@[IPv6:2001:db8::1]");

	struct smtp_mail_params p;
	CHECK(smtp_parse_mail_from("FROM:<>", &p, &reply) == 0);
	CHECK(address_is_null(&p.addr));
	CHECK(!smtp_mail_params_has_extensions(&p));
	CHECK(!p.has_size && p.size == 0 && p.body == NULL && p.ret == NULL && !p.smtputf8);
	smtp_mail_params_free(&p);
	CHECK(p.address == NULL);
	smtp_mail_params_free(&p); /* twice is harmless */
}

TEST(mail_path_errors)
{
	MAIL_FAILS("", 501, "5.5.4");
	MAIL_FAILS("FROM:", 501, "5.5.4");
	MAIL_FAILS("FROM:user@example.com", 501, "5.5.4");
	MAIL_FAILS("FROM: user@example.com", 501, "5.5.4");
	MAIL_FAILS("FROM:<user@example.com", 501, "5.5.4");
	MAIL_FAILS("FROM:<\"user>@example.com", 501, "5.5.4"); /* quote never closed */
	MAIL_FAILS("FROM :<user@example.com>", 501, "5.5.4");
	MAIL_FAILS("FROM<user@example.com>", 501, "5.5.4");
	MAIL_FAILS("TO:<user@example.com>", 501, "5.5.4");
	MAIL_FAILS("FROM:<user@example.com>x", 501, "5.5.4");
	MAIL_FAILS("FROM:<user@example.com>SIZE=1", 501, "5.5.4");
	MAIL_FAILS("FROM:<<user@example.com>>", 501, "5.5.4");
	MAIL_FAILS("FROM:<<user@example.com>", 501, "5.1.7");
	MAIL_FAILS("FROM:<a..b@example.com>", 501, "5.1.7");
	MAIL_FAILS("FROM:<.a@example.com>", 501, "5.1.7");
	MAIL_FAILS("FROM:<a@example..com>", 501, "5.1.7");
	MAIL_FAILS("FROM:<user>", 501, "5.1.7");
	MAIL_FAILS("FROM:<user@>", 501, "5.1.7");
	MAIL_FAILS("FROM:<@example.com>", 501, "5.1.7");
	MAIL_FAILS("FROM:<@relay.example:>", 501, "5.1.7");
	MAIL_FAILS("FROM:<@relay.example>", 501, "5.1.7");
	MAIL_FAILS("FROM:<@bad_host:user@example.com>", 501, "5.1.7");
	MAIL_FAILS("FROM:<@a.example,:user@example.com>", 501, "5.1.7");
	MAIL_FAILS("FROM:<@a.example,b.example:user@example.com>", 501, "5.1.7");
	MAIL_FAILS("FROM:<user@[300.1.1.1]>", 501, "5.1.7");
	MAIL_FAILS("FROM:<jos\xC3@example.com> SMTPUTF8", 501, "5.1.7");
	CHECK(reply.detail != NULL);

	/* 256 octets with the brackets is the limit of a path. */
	char local[65], domain[190];
	memset(local, 'a', 64);
	local[64] = '\0';
	memset(domain, 'b', 189);
	domain[189] = '\0';
	for (size_t i = 63; i < 189; i += 64)
		domain[i] = '.';
	char *arg = xasprintf("FROM:<@r.example:%s@%s>", local, domain);
	MAIL_FAILS(arg, 501, "5.1.7");
	CHECK_STR(reply.detail, "path too long");
	free(arg);
	arg = xasprintf("FROM:<%s@%s>", local, domain);
	char *want = xasprintf("%s@%s", local, domain);
	CHECK_ADDR(mail_address, arg, want);
	free(arg);
	free(want);
}

TEST(mail_smtputf8)
{
	MAIL_FAILS("FROM:<jos\xC3\xA9@example.com>", 553, "5.6.7");
	MAIL_FAILS("FROM:<user@b\xC3\xBC"
	           "cher.example>",
	           553, "5.6.7");
	CHECK_ADDR(mail_address, "FROM:<jos\xC3\xA9@example.com> SMTPUTF8",
	           "jos\xC3\xA9@example.com");
	CHECK_ADDR(mail_address,
	           "FROM:<user@B\xC3\xBC"
	           "cher.example> smtputf8 BODY=8BITMIME",
	           "user@b\xC3\xBC"
	           "cher.example");
	/* Parameters may carry UTF-8 only where they are decoded as such. */
	MAIL_FAILS("FROM:<a@b.c> ENVID=caf\xC3\xA9", 501, "5.5.4");
}

TEST(mail_parameters)
{
	struct smtp_mail_params p;
	CHECK(smtp_parse_mail_from("FROM:<a@b.c> SIZE=12345 BODY=8BITMIME SMTPUTF8 RET=HDRS "
	                           "ENVID=QQ+2B1 AUTH=user+2Bx@example.com",
	                           &p, &reply) == 0);
	CHECK_STR(p.address, "a@b.c");
	CHECK(p.has_size && p.size == 12345);
	CHECK_STR(p.body, "8BITMIME");
	CHECK(p.smtputf8);
	CHECK_STR(p.ret, "HDRS");
	CHECK_STR(p.envid, "QQ+1");
	CHECK_STR(p.auth, "user+x@example.com");
	CHECK(smtp_mail_params_has_extensions(&p));
	smtp_mail_params_free(&p);

	/* Keywords and values are case-insensitive; blanks may be repeated. */
	CHECK(smtp_parse_mail_from("from:<> size=0  body=binarymime\tret=full envid=x auth=<> ", &p,
	                           &reply) == 0);
	CHECK(p.has_size && p.size == 0);
	CHECK_STR(p.body, "BINARYMIME");
	CHECK_STR(p.ret, "FULL");
	CHECK_STR(p.envid, "x");
	CHECK_STR(p.auth, "<>");
	CHECK(!p.smtputf8);
	smtp_mail_params_free(&p);

	CHECK(smtp_parse_mail_from("FROM:<> Body=7bit", &p, &reply) == 0);
	CHECK_STR(p.body, "7BIT");
	CHECK(smtp_mail_params_has_extensions(&p));
	smtp_mail_params_free(&p);

	CHECK(smtp_parse_mail_from("FROM:<> SIZE=00042", &p, &reply) == 0);
	CHECK(p.size == 42);
	smtp_mail_params_free(&p);
	CHECK(smtp_parse_mail_from("FROM:<> SIZE=99999999999999999999", &p, &reply) == 0);
	CHECK(p.size == LLONG_MAX);
	smtp_mail_params_free(&p);
	CHECK(smtp_parse_mail_from("FROM:<> SIZE=9223372036854775807", &p, &reply) == 0);
	CHECK(p.size == LLONG_MAX);
	smtp_mail_params_free(&p);
	CHECK(smtp_parse_mail_from("FROM:<> SIZE=9223372036854775806", &p, &reply) == 0);
	CHECK(p.size == LLONG_MAX - 1);
	smtp_mail_params_free(&p);

	/* ENVID: 100 characters of xtext at most, decoded printable ASCII. */
	char envid[102];
	memset(envid, 'e', 101);
	envid[100] = '\0';
	char *arg = xasprintf("FROM:<> ENVID=%s", envid);
	CHECK(smtp_parse_mail_from(arg, &p, &reply) == 0);
	CHECK(p.envid != NULL && strlen(p.envid) == 100);
	smtp_mail_params_free(&p);
	free(arg);
	envid[100] = 'e';
	envid[101] = '\0';
	arg = xasprintf("FROM:<> ENVID=%s", envid);
	MAIL_FAILS(arg, 501, "5.5.4");
	free(arg);
	CHECK(smtp_parse_mail_from("FROM:<> ENVID=a+20b", &p, &reply) == 0);
	CHECK_STR(p.envid, "a b");
	smtp_mail_params_free(&p);

	/* AUTH= may decode to UTF-8. */
	CHECK(smtp_parse_mail_from("FROM:<> AUTH=jos+C3+A9@x.org", &p, &reply) == 0);
	CHECK_STR(p.auth, "jos\xC3\xA9@x.org");
	smtp_mail_params_free(&p);
}

TEST(mail_parameter_errors)
{
	/* Unknown parameters. */
	MAIL_FAILS("FROM:<> FOO=bar", 555, "5.5.4");
	MAIL_FAILS("FROM:<> XVERP", 555, "5.5.4");
	MAIL_FAILS("FROM:<> NOTIFY=NEVER", 555, "5.5.4");
	MAIL_FAILS("FROM:<> SIZE-X=1", 555, "5.5.4");
	/* Parameter syntax. */
	MAIL_FAILS("FROM:<> =1", 501, "5.5.4");
	MAIL_FAILS("FROM:<> -SIZE=1", 501, "5.5.4");
	MAIL_FAILS("FROM:<> SIZE==1", 501, "5.5.4");
	MAIL_FAILS("FROM:<> SI_ZE=1", 501, "5.5.4");
	MAIL_FAILS("FROM:<> SIZE=1\x01", 501, "5.5.4");
	MAIL_FAILS("FROM:<> SIZE=1\x7F", 501, "5.5.4");
	/* Duplicates. */
	MAIL_FAILS("FROM:<> SIZE=1 SIZE=1", 501, "5.5.4");
	MAIL_FAILS("FROM:<> BODY=7BIT body=8bitmime", 501, "5.5.4");
	MAIL_FAILS("FROM:<> SMTPUTF8 SMTPUTF8", 501, "5.5.4");
	MAIL_FAILS("FROM:<> RET=FULL RET=HDRS", 501, "5.5.4");
	MAIL_FAILS("FROM:<> ENVID=a ENVID=b", 501, "5.5.4");
	MAIL_FAILS("FROM:<> AUTH=<> AUTH=<>", 501, "5.5.4");
	/* Bad values. */
	MAIL_FAILS("FROM:<> SIZE", 501, "5.5.4");
	MAIL_FAILS("FROM:<> SIZE=", 501, "5.5.4");
	MAIL_FAILS("FROM:<> SIZE=abc", 501, "5.5.4");
	MAIL_FAILS("FROM:<> SIZE=-1", 501, "5.5.4");
	MAIL_FAILS("FROM:<> SIZE=+1", 501, "5.5.4");
	MAIL_FAILS("FROM:<> SIZE=1x", 501, "5.5.4");
	MAIL_FAILS("FROM:<> SIZE=123456789012345678901", 501, "5.5.4"); /* 21 digits */
	MAIL_FAILS("FROM:<> BODY", 501, "5.5.4");
	MAIL_FAILS("FROM:<> BODY=9BIT", 501, "5.5.4");
	MAIL_FAILS("FROM:<> BODY=8BITMIMEX", 501, "5.5.4");
	MAIL_FAILS("FROM:<> SMTPUTF8=yes", 501, "5.5.4");
	MAIL_FAILS("FROM:<> SMTPUTF8=", 501, "5.5.4");
	MAIL_FAILS("FROM:<> RET", 501, "5.5.4");
	MAIL_FAILS("FROM:<> RET=ALL", 501, "5.5.4");
	MAIL_FAILS("FROM:<> ENVID", 501, "5.5.4");
	MAIL_FAILS("FROM:<> ENVID=", 501, "5.5.4");
	MAIL_FAILS("FROM:<> ENVID=a+2", 501, "5.5.4");
	MAIL_FAILS("FROM:<> ENVID=a+ZZ", 501, "5.5.4");
	MAIL_FAILS("FROM:<> ENVID=+00", 501, "5.5.4");
	MAIL_FAILS("FROM:<> ENVID=a+0D+0Ab", 501, "5.5.4"); /* CR LF */
	MAIL_FAILS("FROM:<> ENVID=+C3+A9", 501, "5.5.4");   /* 8-bit */
	MAIL_FAILS("FROM:<> AUTH", 501, "5.5.4");
	MAIL_FAILS("FROM:<> AUTH=", 501, "5.5.4");
	MAIL_FAILS("FROM:<> AUTH=a+", 501, "5.5.4");
	MAIL_FAILS("FROM:<> AUTH=a+0Ab", 501, "5.5.4");
	MAIL_FAILS("FROM:<> AUTH=+C3", 501, "5.5.4"); /* not UTF-8 */
	/* A good parameter before a bad one leaves nothing behind. */
	MAIL_FAILS("FROM:<a@b.c> ENVID=abc AUTH=<> SIZE=x", 501, "5.5.4");
	/* A bad address after good parameters, likewise. */
	MAIL_FAILS("FROM:<a..b@c> ENVID=abc AUTH=<>", 501, "5.1.7");
}

/* ---- RCPT TO ---- */

TEST(rcpt_paths)
{
	CHECK_ADDR(rcpt_address, "TO:<user@example.com>", "user@example.com");
	CHECK_ADDR(rcpt_address, "to: <User@EXAMPLE.com>", "User@example.com");
	CHECK_ADDR(rcpt_address, "TO:<user@example.com>  ", "user@example.com");
	CHECK_ADDR(rcpt_address, "TO:<@hop.example:user@example.com>", "user@example.com");
	CHECK_ADDR(rcpt_address, "TO:<\"x y\"@example.com>", "\"x y\"@example.com");
	/* UTF-8 is accepted here; whether the transaction allows it is the caller's call. */
	CHECK_ADDR(rcpt_address, "TO:<jos\xC3\xA9@example.com>", "jos\xC3\xA9@example.com");

	struct smtp_rcpt_params p;
	static const char *const postmasters[] = {"TO:<Postmaster>", "TO:<postmaster>",
	                                          "to:<POSTMASTER> ", "TO: <PostMaster>"};
	for (size_t i = 0; i < sizeof(postmasters) / sizeof(postmasters[0]); i++) {
		CHECK(smtp_parse_rcpt_to(postmasters[i], &p, &reply) == 0);
		CHECK(p.postmaster);
		CHECK_STR(p.address, "postmaster");
		CHECK_STR(p.addr.local, "postmaster");
		CHECK_STR(p.addr.domain, "");
		CHECK(p.notify == NULL && p.orcpt == NULL && p.notify_flags == 0);
		smtp_rcpt_params_free(&p);
	}
	CHECK(smtp_parse_rcpt_to("TO:<postmaster@example.com>", &p, &reply) == 0);
	CHECK(!p.postmaster);
	CHECK_STR(p.address, "postmaster@example.com");
	smtp_rcpt_params_free(&p);
	CHECK(smtp_parse_rcpt_to("TO:<jos\xC3\xA9@example.com>", &p, &reply) == 0);
	CHECK(!address_is_ascii(&p.addr));
	smtp_rcpt_params_free(&p);
}

TEST(rcpt_path_errors)
{
	RCPT_FAILS("", 501, "5.5.4");
	RCPT_FAILS("TO:", 501, "5.5.4");
	RCPT_FAILS("TO:user@example.com", 501, "5.5.4");
	RCPT_FAILS("FROM:<user@example.com>", 501, "5.5.4");
	RCPT_FAILS("TO :<user@example.com>", 501, "5.5.4");
	RCPT_FAILS("TO:<user@example.com", 501, "5.5.4");
	RCPT_FAILS("TO:<user@example.com>NOTIFY=NEVER", 501, "5.5.4");
	RCPT_FAILS("TO:<>", 501, "5.1.3");
	RCPT_FAILS("TO:<user>", 501, "5.1.3");
	RCPT_FAILS("TO:<postmast>", 501, "5.1.3");
	RCPT_FAILS("TO:<\"postmaster\">", 501, "5.1.3");
	RCPT_FAILS("TO:<@hop.example:postmaster>", 501, "5.1.3");
	RCPT_FAILS("TO:<user..x@example.com>", 501, "5.1.3");
	RCPT_FAILS("TO:<user@-example.com>", 501, "5.1.3");
	RCPT_FAILS("TO:<jos\xC3@example.com>", 501, "5.1.3");
	RCPT_FAILS("TO:<jos\xC0\xA9@example.com>", 501, "5.1.3");
}

TEST(rcpt_notify)
{
	static const struct {
		const char *arg;
		const char *notify;
		unsigned flags;
	} good[] = {
	    {"TO:<a@b.c> NOTIFY=NEVER", "NEVER", SMTP_NOTIFY_NEVER},
	    {"TO:<a@b.c> notify=never", "NEVER", SMTP_NOTIFY_NEVER},
	    {"TO:<a@b.c> NOTIFY=SUCCESS", "SUCCESS", SMTP_NOTIFY_SUCCESS},
	    {"TO:<a@b.c> NOTIFY=success,delay", "SUCCESS,DELAY",
	     SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_DELAY},
	    {"TO:<a@b.c> NOTIFY=DELAY,FAILURE,SUCCESS", "SUCCESS,FAILURE,DELAY",
	     SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE | SMTP_NOTIFY_DELAY},
	    {"TO:<a@b.c> NOTIFY=FAILURE ", "FAILURE", SMTP_NOTIFY_FAILURE},
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct smtp_rcpt_params p;
		CHECK(smtp_parse_rcpt_to(good[i].arg, &p, &reply) == 0);
		CHECK_STR(p.notify, good[i].notify);
		CHECK(p.notify_flags == good[i].flags);
		smtp_rcpt_params_free(&p);
	}
	RCPT_FAILS("TO:<a@b.c> NOTIFY=NEVER,SUCCESS", 501, "5.5.4");
	RCPT_FAILS("TO:<a@b.c> NOTIFY=DELAY,NEVER", 501, "5.5.4");
	RCPT_FAILS("TO:<a@b.c> NOTIFY=SUCCESS,SUCCESS", 501, "5.5.4");
	RCPT_FAILS("TO:<a@b.c> NOTIFY=SUCCESS,", 501, "5.5.4");
	RCPT_FAILS("TO:<a@b.c> NOTIFY=,SUCCESS", 501, "5.5.4");
	RCPT_FAILS("TO:<a@b.c> NOTIFY=SUCCESS,,DELAY", 501, "5.5.4");
	RCPT_FAILS("TO:<a@b.c> NOTIFY=SOMETIMES", 501, "5.5.4");
	RCPT_FAILS("TO:<a@b.c> NOTIFY=", 501, "5.5.4");
	RCPT_FAILS("TO:<a@b.c> NOTIFY", 501, "5.5.4");
	RCPT_FAILS("TO:<a@b.c> NOTIFY=NEVER NOTIFY=NEVER", 501, "5.5.4");
}

TEST(rcpt_orcpt)
{
	static const struct {
		const char *arg;
		const char *orcpt;
	} good[] = {
	    {"TO:<a@b.c> ORCPT=rfc822;user+2Bx@example.com", "rfc822;user+x@example.com"},
	    {"TO:<a@b.c> ORCPT=RFC822;A@B.C", "rfc822;A@B.C"},
	    {"TO:<a@b.c> orcpt=rfc822;+22a+20b+22@x.org", "rfc822;\"a b\"@x.org"},
	    {"TO:<a@b.c> ORCPT=utf-8;jos\\x{E9}@x.org", "utf-8;jos\xC3\xA9@x.org"},
	    {"TO:<a@b.c> ORCPT=UTF-8;jos\xC3\xA9@x.org", "utf-8;jos\xC3\xA9@x.org"},
	    {"TO:<a@b.c> ORCPT=utf-8;a\\x{2B}b@x.org", "utf-8;a+b@x.org"},
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct smtp_rcpt_params p;
		CHECK(smtp_parse_rcpt_to(good[i].arg, &p, &reply) == 0);
		CHECK_STR(p.orcpt, good[i].orcpt);
		smtp_rcpt_params_free(&p);
	}
	struct smtp_rcpt_params p;
	CHECK(smtp_parse_rcpt_to("TO:<a@b.c> NOTIFY=FAILURE,DELAY ORCPT=rfc822;a@b.c", &p,
	                         &reply) == 0);
	CHECK_STR(p.notify, "FAILURE,DELAY");
	CHECK_STR(p.orcpt, "rfc822;a@b.c");
	smtp_rcpt_params_free(&p);

	RCPT_FAILS("TO:<a@b.c> ORCPT=a@b.c", 501, "5.5.4");  /* no type */
	RCPT_FAILS("TO:<a@b.c> ORCPT=x400;a", 501, "5.5.4"); /* unsupported type */
	RCPT_FAILS("TO:<a@b.c> ORCPT=;a@b.c", 501, "5.5.4");
	RCPT_FAILS("TO:<a@b.c> ORCPT=rfc822;", 501, "5.5.4");
	RCPT_FAILS("TO:<a@b.c> ORCPT=rfc822;a+2", 501, "5.5.4");
	RCPT_FAILS("TO:<a@b.c> ORCPT=rfc822;a+00b", 501, "5.5.4");
	RCPT_FAILS("TO:<a@b.c> ORCPT=rfc822;a+0Ab", 501, "5.5.4");
	RCPT_FAILS("TO:<a@b.c> ORCPT=rfc822;+C3+A9@x", 501, "5.5.4"); /* 8-bit needs utf-8 */
	RCPT_FAILS("TO:<a@b.c> ORCPT=rfc822;caf\xC3\xA9@x", 501, "5.5.4");
	RCPT_FAILS("TO:<a@b.c> ORCPT=utf-8;a\\x{41}", 501, "5.5.4");
	RCPT_FAILS("TO:<a@b.c> ORCPT=utf-8;a+b", 501, "5.5.4");
	RCPT_FAILS("TO:<a@b.c> ORCPT=utf-8;a\\x{0A}b", 501, "5.5.4");
	RCPT_FAILS("TO:<a@b.c> ORCPT=utf-8;caf\xC3", 501, "5.5.4");
	RCPT_FAILS("TO:<a@b.c> ORCPT=utf-8;\\x{D800}", 501, "5.5.4");
	RCPT_FAILS("TO:<a@b.c> ORCPT", 501, "5.5.4");
	RCPT_FAILS("TO:<a@b.c> ORCPT=rfc822;a@b ORCPT=rfc822;a@b", 501, "5.5.4");
	RCPT_FAILS("TO:<a@b.c> SIZE=10", 555, "5.5.4");
	RCPT_FAILS("TO:<a@b.c> XFORWARD", 555, "5.5.4");
	RCPT_FAILS("TO:<a@b.c> ORCPT=rfc822;a@b.c =x", 501, "5.5.4");

	/* ORCPT: 500 characters at most. */
	char value[502];
	memset(value, 'o', 501);
	value[493] = '\0'; /* "rfc822;" + 493 = 500 */
	char *arg = xasprintf("TO:<a@b.c> ORCPT=rfc822;%s", value);
	CHECK(smtp_parse_rcpt_to(arg, &p, &reply) == 0);
	smtp_rcpt_params_free(&p);
	free(arg);
	value[493] = 'o';
	value[494] = '\0';
	arg = xasprintf("TO:<a@b.c> ORCPT=rfc822;%s", value);
	RCPT_FAILS(arg, 501, "5.5.4");
	free(arg);
}

/* ---- BDAT ---- */

TEST(bdat)
{
	static const struct {
		const char *arg;
		unsigned long long size;
		bool last;
	} good[] = {
	    {"0", 0, false},
	    {"1000", 1000, false},
	    {"1000 LAST", 1000, true},
	    {"1000 last", 1000, true},
	    {"1000  Last  ", 1000, true},
	    {"1000 ", 1000, false},
	    {"007\tLAST", 7, true},
	    {"9007199254740992", 9007199254740992ULL, false},
	    {"0 LAST", 0, true},
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		unsigned long long size = 1;
		bool last = !good[i].last;
		CHECK(smtp_parse_bdat(good[i].arg, &size, &last, &reply) == 0);
		CHECK(size == good[i].size);
		CHECK(last == good[i].last);
	}
	static const char *const bad[] = {
	    "",
	    "LAST",
	    "-1",
	    "+1",
	    " 1",
	    "10x",
	    "10 LASTX",
	    "10 LAST x",
	    "10 FIRST",
	    "1 2",
	    "0x10",
	    "9007199254740993",
	    "99999999999999999999999999999",
	    "10,LAST",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unsigned long long size = 5;
		bool last = false;
		CHECK(smtp_parse_bdat(bad[i], &size, &last, &reply) == -1);
		CHECK(reply.code == 501);
		CHECK_STR(reply.enhanced, "5.5.4");
		CHECK(size == 5);
	}
}

/* ---- AUTH ---- */

TEST(auth)
{
	static const struct {
		const char *arg;
		const char *mech;
		const char *response;
	} good[] = {
	    {"PLAIN", "PLAIN", NULL},
	    {"plain", "PLAIN", NULL},
	    {"PLAIN =", "PLAIN", ""},
	    {"PLAIN AHVzZXIAcGFzcw==", "PLAIN", "AHVzZXIAcGFzcw=="},
	    {"login dXNlcg==", "LOGIN", "dXNlcg=="},
	    {"CRAM-MD5", "CRAM-MD5", NULL},
	    {"SCRAM-SHA-256 biwsbj11c2VyLHI9YWJj", "SCRAM-SHA-256", "biwsbj11c2VyLHI9YWJj"},
	    {"X_MECH_1", "X_MECH_1", NULL},
	    {"PLAIN  dGVzdA==  ", "PLAIN", "dGVzdA=="},
	    {"ABCDEFGHIJKLMNOPQRST", "ABCDEFGHIJKLMNOPQRST", NULL},
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct smtp_auth_params p;
		CHECK(smtp_parse_auth(good[i].arg, &p, &reply) == 0);
		CHECK_STR(p.mechanism, good[i].mech);
		if (good[i].response)
			CHECK_STR(p.initial_response, good[i].response);
		else
			CHECK(p.initial_response == NULL);
		smtp_auth_params_free(&p);
		CHECK(p.mechanism == NULL);
	}
	static const struct {
		const char *arg;
		const char *enhanced;
	} bad[] = {
	    {"", "5.5.4"},
	    {"PL@IN", "5.5.4"},
	    {"PLAIN.", "5.5.4"},
	    {"ABCDEFGHIJKLMNOPQRSTU", "5.5.4"}, /* 21 characters */
	    {"PLAIN dGVzdA== extra", "5.5.4"},
	    {"PLAIN abc", "5.5.2"},
	    {"PLAIN a$==", "5.5.2"},
	    {"PLAIN ==", "5.5.2"},
	    {"PLAIN ====", "5.5.2"},
	    {"PLAIN dGVz=dA=", "5.5.2"},
	    {"PLAIN *", "5.5.2"},
	    {"PL\xC3\x81IN", "5.5.4"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct smtp_auth_params p;
		CHECK(smtp_parse_auth(bad[i].arg, &p, &reply) == -1);
		CHECK(reply.code == 501);
		CHECK_STR(reply.enhanced, bad[i].enhanced);
		CHECK(p.mechanism == NULL && p.initial_response == NULL);
	}
}

int main(void)
{
	RUN(verbs);
	RUN(envelopes_not_strict);
	RUN(envelopes_local);
	RUN(reply_format);
	RUN(mail_paths);
	RUN(mail_path_errors);
	RUN(mail_smtputf8);
	RUN(mail_parameters);
	RUN(mail_parameter_errors);
	RUN(rcpt_paths);
	RUN(rcpt_path_errors);
	RUN(rcpt_notify);
	RUN(rcpt_orcpt);
	RUN(bdat);
	RUN(auth);
	return TESTING_DONE();
}

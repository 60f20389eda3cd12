/*
 * Tests of canonical mapping and masquerading at receipt (canonical.h):
 * the class words, the order of the table sets (sender or recipient
 * tables, then canonical_maps, then masquerading) and which classes each
 * applies to, nested results, "@domain" results and extensions, the
 * masquerade_domains order with "!" entries and exceptions, the envelope
 * (null sender, ORCPT), the header section by kind of field, and tables
 * that cannot be read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mail/canonical.h"
#include "util/alloc.h"
#include "util/testing.h"

static char *result;

static char *const mydestination[] = {"box.local", "localhost", NULL};

static char *sender_maps[] = {"inline:{ root@box.local=admin@example.com, "
                              "@old.example=@new.example, "
                              "chain1@example.com=chain2@example.com }",
                              NULL};
static char *recipient_maps[] = {"inline:{ info@box.local=office@example.com, "
                                 "postmaster=hostmaster@example.com, "
                                 "j\xc3\xbcrgen@box.local=juergen@example.com }",
                                 NULL};
static char *common_maps[] = {"inline:{ admin@example.com=Admin.Person@example.com, "
                              "chain2@example.com=chain3@example.com, "
                              "chain3@example.com=chain4@example.com, "
                              "self@example.com=SELF@Example.com, "
                              "loop1@example.com=loop2@example.com, "
                              "loop2@example.com=loop1@example.com, "
                              "user@box.local=user.name@example.com, "
                              "{ bad@box.local = not an address } }",
                              NULL};
static char *masquerade_domains[] = {"!keep.example.com", "example.com", "example.net", NULL};
static char *exceptions[] = {"root", "inline:{ mailer-daemon=yes }", NULL};

#define ALL_CLASSES                                                                                \
	(CANONICAL_ENVELOPE_SENDER | CANONICAL_ENVELOPE_RECIPIENT | CANONICAL_HEADER_SENDER |      \
	 CANONICAL_HEADER_RECIPIENT)

static struct canonical_settings defaults(void)
{
	return (struct canonical_settings){
	    .canonical_maps = common_maps,
	    .sender_maps = sender_maps,
	    .recipient_maps = recipient_maps,
	    .canonical_classes = ALL_CLASSES,
	    .sender_classes = CANONICAL_ENVELOPE_SENDER | CANONICAL_HEADER_SENDER,
	    .recipient_classes = CANONICAL_ENVELOPE_RECIPIENT | CANONICAL_HEADER_RECIPIENT,
	    .masquerade_domains = masquerade_domains,
	    .masquerade_classes =
	        CANONICAL_ENVELOPE_SENDER | CANONICAL_HEADER_SENDER | CANONICAL_HEADER_RECIPIENT,
	    .masquerade_exceptions = exceptions,
	    .mydestination = mydestination,
	    .myorigin = "box.local",
	    .delimiter = "+",
	};
}

/* address rewritten as cls with settings s: the result, "-" when
 * unchanged, "ERROR: ..." on failure. */
static const char *rewrite_with(const struct canonical_settings *s, enum canonical_class cls,
                                const char *address)
{
	struct canonical *c = canonical_new(s);
	struct str out = STR_INIT;
	const char *error = "";
	int rc = canonical_rewrite(c, cls, address, &out, &error);
	free(result);
	if (rc == 1)
		result = xstrdup(str_cstr(&out));
	else if (rc == 0)
		result = xstrdup("-");
	else
		result = xasprintf("ERROR: %s", error);
	str_free(&out);
	canonical_free(c);
	return result;
}

static const char *rewrite(enum canonical_class cls, const char *address)
{
	struct canonical_settings s = defaults();
	return rewrite_with(&s, cls, address);
}

TEST(class_words)
{
	unsigned mask = 0;
	const char *bad = NULL;
	char *words[] = {"envelope_sender", "Header_Recipient", NULL};
	CHECK(canonical_classes_parse(words, &mask, &bad) == 0);
	CHECK(mask == (CANONICAL_ENVELOPE_SENDER | CANONICAL_HEADER_RECIPIENT));
	char *wrong[] = {"envelope_sender", "header_senders", NULL};
	CHECK(canonical_classes_parse(wrong, &mask, &bad) == -1);
	CHECK_STR(bad, "header_senders");
	CHECK(canonical_classes_parse(NULL, &mask, &bad) == 0 && mask == 0);
	char *clients[] = {"permit_inet_interfaces", "permit_mynetworks", "static:all", NULL};
	CHECK(canonical_header_clients_parse(clients, &mask, &bad) == 0);
	CHECK(mask == (CANONICAL_CLIENTS_INET_INTERFACES | CANONICAL_CLIENTS_MYNETWORKS |
	               CANONICAL_CLIENTS_ALL));
	char *bad_clients[] = {"permit_sasl_authenticated", "reject", NULL};
	CHECK(canonical_header_clients_parse(bad_clients, &mask, &bad) == -1);
	CHECK_STR(bad, "reject");
}

TEST(table_order_and_classes)
{
	/* sender_canonical_maps, then canonical_maps on its result. */
	CHECK_STR(rewrite(CANONICAL_ENVELOPE_SENDER, "root@box.local"), "Admin.Person@example.com");
	CHECK_STR(rewrite(CANONICAL_HEADER_SENDER, "root@box.local"), "Admin.Person@example.com");
	/* The sender tables are not asked about recipients. */
	CHECK_STR(rewrite(CANONICAL_ENVELOPE_RECIPIENT, "root@box.local"), "-");
	CHECK_STR(rewrite(CANONICAL_ENVELOPE_RECIPIENT, "info@box.local"), "office@example.com");
	CHECK_STR(rewrite(CANONICAL_ENVELOPE_SENDER, "info@box.local"), "-");
	/* canonical_maps for every class. */
	CHECK_STR(rewrite(CANONICAL_HEADER_RECIPIENT, "user@box.local"), "user.name@example.com");
	CHECK_STR(rewrite(CANONICAL_ENVELOPE_SENDER, "user@box.local"), "user.name@example.com");
	/* The bare user key for a local domain only. */
	CHECK_STR(rewrite(CANONICAL_ENVELOPE_RECIPIENT, "postmaster@localhost"),
	          "hostmaster@example.com");
	CHECK_STR(rewrite(CANONICAL_ENVELOPE_RECIPIENT, "postmaster@elsewhere.test"), "-");
	/* Classes narrow each set down. */
	struct canonical_settings s = defaults();
	s.sender_classes = CANONICAL_HEADER_SENDER;
	s.canonical_classes = CANONICAL_ENVELOPE_RECIPIENT;
	s.masquerade_domains = NULL;
	CHECK_STR(rewrite_with(&s, CANONICAL_ENVELOPE_SENDER, "root@box.local"), "-");
	CHECK_STR(rewrite_with(&s, CANONICAL_HEADER_SENDER, "root@box.local"), "admin@example.com");
	CHECK_STR(rewrite_with(&s, CANONICAL_ENVELOPE_RECIPIENT, "user@box.local"),
	          "user.name@example.com");
	CHECK_STR(rewrite_with(&s, CANONICAL_HEADER_RECIPIENT, "user@box.local"), "-");
	/* The null sender is never rewritten. */
	CHECK_STR(rewrite(CANONICAL_ENVELOPE_SENDER, ""), "-");
}

TEST(results)
{
	/* @domain keeps the user (and its extension). */
	CHECK_STR(rewrite(CANONICAL_ENVELOPE_SENDER, "Jane+list@old.example"),
	          "Jane+list@new.example");
	/* An extension that no key held goes into the result. */
	CHECK_STR(rewrite(CANONICAL_ENVELOPE_RECIPIENT, "info+sales@box.local"),
	          "office+sales@example.com");
	/* Each set is asked again with its own result ... */
	CHECK_STR(rewrite(CANONICAL_ENVELOPE_SENDER, "chain1@example.com"), "chain4@example.com");
	/* ... until it gives the address back, in any case ... */
	CHECK_STR(rewrite(CANONICAL_ENVELOPE_RECIPIENT, "self@example.com"), "SELF@example.com");
	/* ... or CANONICAL_NESTING_MAX times (an even count: back where it was). */
	CHECK_STR(rewrite(CANONICAL_ENVELOPE_RECIPIENT, "loop1@example.com"), "-");
	CHECK(strstr(rewrite(CANONICAL_ENVELOPE_RECIPIENT, "bad@box.local"),
	             "ERROR: canonical_maps: ") == result);
}

TEST(masquerading)
{
	struct canonical_settings s = defaults();
	s.canonical_maps = s.sender_maps = s.recipient_maps = NULL;
	CHECK_STR(rewrite_with(&s, CANONICAL_ENVELOPE_SENDER, "user@host.example.com"),
	          "user@example.com");
	CHECK_STR(rewrite_with(&s, CANONICAL_HEADER_RECIPIENT, "user@a.b.Example.NET"),
	          "user@example.net");
	/* The domain itself, and a name that only ends like it, stay. */
	CHECK_STR(rewrite_with(&s, CANONICAL_ENVELOPE_SENDER, "user@example.com"), "-");
	CHECK_STR(rewrite_with(&s, CANONICAL_ENVELOPE_SENDER, "user@badexample.com"), "-");
	/* "!keep.example.com" comes first: it and its subdomains stay. */
	CHECK_STR(rewrite_with(&s, CANONICAL_ENVELOPE_SENDER, "user@keep.example.com"), "-");
	CHECK_STR(rewrite_with(&s, CANONICAL_ENVELOPE_SENDER, "user@x.keep.example.com"), "-");
	/* In the other order, example.com matches first. */
	char *reversed[] = {"example.com", "!keep.example.com", NULL};
	s.masquerade_domains = reversed;
	CHECK_STR(rewrite_with(&s, CANONICAL_ENVELOPE_SENDER, "user@x.keep.example.com"),
	          "user@example.com");
	s.masquerade_domains = masquerade_domains;
	/* Exceptions: names, and tables, on the lower-cased local part. */
	CHECK_STR(rewrite_with(&s, CANONICAL_ENVELOPE_SENDER, "Root@host.example.com"), "-");
	CHECK_STR(rewrite_with(&s, CANONICAL_ENVELOPE_SENDER, "MAILER-DAEMON@host.example.com"),
	          "-");
	/* Envelope recipients are not in the default classes. */
	CHECK_STR(rewrite_with(&s, CANONICAL_ENVELOPE_RECIPIENT, "user@host.example.com"), "-");
	/* No domain, nothing to strip. */
	CHECK_STR(rewrite_with(&s, CANONICAL_HEADER_SENDER, "user"), "-");
	/* After the tables: their result is masqueraded. */
	struct canonical_settings t = defaults();
	char *to_sub[] = {"inline:{ webmaster@box.local=web@www.example.com }", NULL};
	t.canonical_maps = to_sub;
	CHECK_STR(rewrite_with(&t, CANONICAL_HEADER_SENDER, "webmaster@box.local"),
	          "web@example.com");
	CHECK_STR(rewrite_with(&t, CANONICAL_ENVELOPE_RECIPIENT, "webmaster@box.local"),
	          "web@www.example.com");
}

TEST(wanted)
{
	struct canonical_settings s = defaults();
	struct canonical *c = canonical_new(&s);
	CHECK(canonical_wanted(c, CANONICAL_ENVELOPE_SENDER));
	CHECK(canonical_wanted(c, ALL_CLASSES));
	canonical_free(c);
	struct canonical_settings none = {.mydestination = mydestination, .myorigin = "box.local"};
	c = canonical_new(&none);
	CHECK(!canonical_wanted(c, ALL_CLASSES));
	canonical_free(c);
	/* Masquerading only, envelope recipients not in its classes. */
	none.masquerade_domains = masquerade_domains;
	none.masquerade_classes = CANONICAL_ENVELOPE_SENDER;
	c = canonical_new(&none);
	CHECK(canonical_wanted(c, CANONICAL_ENVELOPE_SENDER));
	CHECK(!canonical_wanted(c, CANONICAL_ENVELOPE_RECIPIENT | CANONICAL_HEADER_SENDER));
	canonical_free(c);
	CHECK(!canonical_wanted(NULL, ALL_CLASSES));
}

TEST(envelope)
{
	struct canonical_settings s = defaults();
	struct canonical *c = canonical_new(&s);
	struct queue_envelope in;
	queue_envelope_init(&in);
	in.sender = xstrdup("root@box.local");
	queue_envelope_add_rcpt(&in, "info@box.local", "", "");
	queue_envelope_add_rcpt(&in, "user@box.local", "rfc822;given@example.org", "SUCCESS");
	queue_envelope_add_rcpt(&in, "other@elsewhere.test", "", "NEVER");
	queue_envelope_add_rcpt(&in, "j\xc3\xbcrgen@box.local", "", "");
	struct queue_envelope out;
	const char *error = "";
	CHECK(canonical_rewrite_envelope(c, &in, &out, &error) == 0);
	CHECK_STR(out.sender, "Admin.Person@example.com");
	CHECK(out.rcpt_count == 4);
	if (out.rcpt_count == 4) {
		/* A rewritten recipient keeps the original as ORCPT ... */
		CHECK_STR(out.rcpts[0].address, "office@example.com");
		CHECK_STR(out.rcpts[0].orcpt, "rfc822;info@box.local");
		/* ... unless it had one. */
		CHECK_STR(out.rcpts[1].address, "user.name@example.com");
		CHECK_STR(out.rcpts[1].orcpt, "rfc822;given@example.org");
		CHECK_STR(out.rcpts[1].notify, "SUCCESS");
		/* Unchanged: as it was. */
		CHECK_STR(out.rcpts[2].address, "other@elsewhere.test");
		CHECK_STR(out.rcpts[2].orcpt, "");
		CHECK_STR(out.rcpts[2].notify, "NEVER");
		/* An original recipient in UTF-8. */
		CHECK_STR(out.rcpts[3].address, "juergen@example.com");
		CHECK_STR(out.rcpts[3].orcpt, "utf-8;j\xc3\xbcrgen@box.local");
	}
	queue_envelope_free(&out);
	/* The null sender stays null. */
	free(in.sender);
	in.sender = xstrdup("");
	CHECK(canonical_rewrite_envelope(c, &in, &out, &error) == 0);
	CHECK_STR(out.sender, "");
	queue_envelope_free(&out);
	/* A value that is not an address: an error, and nothing in out. */
	queue_envelope_add_rcpt(&in, "bad@box.local", "", "");
	CHECK(canonical_rewrite_envelope(c, &in, &out, &error) == -1);
	CHECK(strstr(error, "canonical_maps") != NULL);
	queue_envelope_free(&in);
	canonical_free(c);
}

TEST(header_section)
{
	struct canonical_settings s = defaults();
	struct canonical *c = canonical_new(&s);
	const char *head = "From: \"Root (admin)\" <root@box.local> (the boss)\r\n"
	                   "To: Info Desk <info@box.local>, user@mail.example.com\r\n"
	                   "Cc: team: root@box.local, x@keep.example.com;\r\n"
	                   "Reply-To: root@box.local\r\n"
	                   "Subject: root@box.local\r\n"
	                   "\r\n"
	                   "From: root@box.local\r\n";
	struct str out = STR_INIT;
	size_t used = 0;
	const char *error = "";
	CHECK(canonical_rewrite_header(c, NULL, head, strlen(head), true, &out, &used, &error) ==
	      1);
	CHECK_STR(str_cstr(&out), "From: \"Root (admin)\" <Admin.Person@example.com> (the boss)\r\n"
	                          "To: Info Desk <office@example.com>, user@example.com\r\n"
	                          "Cc: team: root@box.local, x@keep.example.com;\r\n"
	                          "Reply-To: Admin.Person@example.com\r\n"
	                          "Subject: root@box.local\r\n"
	                          "\r\n");
	CHECK(strcmp(head + used, "From: root@box.local\r\n") == 0);
	canonical_free(c);
	/* Header classes only where the settings say so. */
	s.canonical_classes = CANONICAL_ENVELOPE_SENDER | CANONICAL_ENVELOPE_RECIPIENT;
	s.sender_classes = CANONICAL_ENVELOPE_SENDER;
	s.masquerade_classes = CANONICAL_HEADER_RECIPIENT;
	c = canonical_new(&s);
	str_clear(&out);
	CHECK(canonical_rewrite_header(c, NULL, head, strlen(head), true, &out, &used, &error) ==
	      1);
	CHECK(strstr(str_cstr(&out), "From: \"Root (admin)\" <root@box.local>") != NULL);
	CHECK(strstr(str_cstr(&out), "To: Info Desk <office@example.com>, user@example.com\r\n") !=
	      NULL);
	canonical_free(c);
	/* A failed look-up. */
	s = defaults();
	c = canonical_new(&s);
	str_clear(&out);
	const char *bad = "To: bad@box.local\r\n\r\n";
	CHECK(canonical_rewrite_header(c, NULL, bad, strlen(bad), true, &out, &used, &error) == -1);
	CHECK(strstr(error, "canonical_maps") != NULL);
	canonical_free(c);
	str_free(&out);
}

TEST(unreadable_tables)
{
	struct canonical_settings s = defaults();
	char *missing[] = {"lmdb:/nonexistent/canonical", NULL};
	s.sender_maps = missing;
	CHECK(strncmp(rewrite_with(&s, CANONICAL_ENVELOPE_SENDER, "a@b.example"),
	              "ERROR: sender_canonical_maps: ", 30) == 0);
	/* Not asked about recipients. */
	CHECK_STR(rewrite_with(&s, CANONICAL_ENVELOPE_RECIPIENT, "info@box.local"),
	          "office@example.com");
	s = defaults();
	char *bad_exceptions[] = {"lmdb:/nonexistent/exceptions", NULL};
	s.masquerade_exceptions = bad_exceptions;
	CHECK(strncmp(rewrite_with(&s, CANONICAL_ENVELOPE_SENDER, "a@host.example.com"),
	              "ERROR: masquerade_exceptions: ", 30) == 0);
}

int main(void)
{
	RUN(class_words);
	RUN(table_order_and_classes);
	RUN(results);
	RUN(masquerading);
	RUN(wanted);
	RUN(envelope);
	RUN(header_section);
	RUN(unreadable_tables);
	free(result);
	return TESTING_DONE();
}

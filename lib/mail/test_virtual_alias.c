/* Unit tests for virtual alias expansion and address extensions: the key
 * order (exact, without extension, bare user in mydestination, @domain
 * catch-all), one to many, chains, self-reference, loops, limits, unknown
 * addresses in a virtual alias domain, extension propagation, and the
 * envelope rewrite with its ORCPTs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mail/extension.h"
#include "mail/virtual_alias.h"
#include "table/table.h"
#include "util/alloc.h"
#include "util/testing.h"

static char tmpdir[] = "/tmp/postern-test-valias-XXXXXX";
static char *table_spec_text;

static const struct table_entry entries[] = {
    {"list@alias.test", "a@mbox.test, b@mbox.test,c@mbox.test"},
    {"chain1@alias.test", "chain2@alias.test"},
    {"chain2@alias.test", "<chain3@alias.test>"},
    {"chain3@alias.test", "end@mbox.test"},
    {"loop1@alias.test", "loop2@alias.test"},
    {"loop2@alias.test", "loop1@alias.test"},
    {"self@mbox.test", "self@mbox.test other@mbox.test"},
    {"selfb@mbox.test", "selfa@mbox.test"},
    {"selfa@mbox.test", "selfb@mbox.test, selfa@mbox.test"},
    {"selfv@alias.test", "selfv@alias.test"},
    {"user@alias.test", "user@mbox.test"},
    {"bare@alias.test", "nodomain"},
    {"@catch.test", "catchall@mbox.test"},
    {"known@catch.test", "known@mbox.test"},
    {"sam", "sam@mbox.test"},
    {"tag+special@alias.test", "special@mbox.test"},
    {"deep0@alias.test", "deep1@alias.test"},
    {"deep1@alias.test", "deep2@alias.test"},
    {"deep2@alias.test", "deep3@alias.test"},
    {"deep3@alias.test", "deep4@alias.test"},
    {"many@alias.test", "m1@x.test m2@x.test m3@x.test m4@x.test"},
    {"alias.test", "virtual alias domain"},
};

static struct virtual_alias *make(const char *delimiter, long long recursion, long long expansion)
{
	static char *maps[2];
	static char *domains[3];
	static char *mydest[] = {"local.test", NULL};
	maps[0] = table_spec_text;
	domains[0] = table_spec_text; /* alias.test is a key */
	domains[1] = "catch.test";
	struct virtual_alias_settings s = {
	    .maps = maps,
	    .domains = domains,
	    .mydestination = mydest,
	    .myorigin = "origin.test",
	    .delimiter = delimiter,
	    .recursion_limit = recursion,
	    .expansion_limit = expansion,
	};
	return virtual_alias_new(&s);
}

/* Expand and return the addresses joined by spaces (or "FAIL status"). */
static char *expand(struct virtual_alias *va, const char *address, int *rc_r)
{
	struct virtual_alias_expansion x;
	int rc = virtual_alias_expand(va, address, &x);
	struct str s = STR_INIT;
	if (rc < 0) {
		str_printf(&s, "FAIL %s", x.status);
		fprintf(stderr, "  %s: %s\n", address, x.reason);
	}
	for (size_t i = 0; rc >= 0 && i < x.count; i++)
		str_printf(&s, "%s%s", i ? " " : "", x.addresses[i]);
	virtual_alias_expansion_free(&x);
	if (rc_r)
		*rc_r = rc;
	return str_steal(&s);
}

#define CHECK_EXPAND(va, addr, want)                                                               \
	do {                                                                                       \
		char *got_ = expand(va, addr, NULL);                                               \
		CHECK_STR(got_, want);                                                             \
		free(got_);                                                                        \
	} while (0)

TEST(extension_split)
{
	CHECK(extension_base_len("user+tag", 8, "+") == 4);
	CHECK(extension_base_len("user+tag", 8, "") == 8);
	CHECK(extension_base_len("user+tag", 8, NULL) == 8);
	CHECK(extension_base_len("+tag", 4, "+") == 4);
	CHECK(extension_base_len("user-a+b", 8, "+-") == 4);
	CHECK(extension_base_len("owner-list", 10, "-") == 10);
	CHECK(extension_base_len("list-request", 12, "-") == 12);
	CHECK(extension_base_len("user+", 5, "+") == 4);
	char *s = extension_strip("Demo+Tag@Example.Test", "+");
	CHECK_STR(s, "Demo@Example.Test");
	free(s);
	s = extension_strip("demo+x", "+");
	CHECK_STR(s, "demo");
	free(s);
	CHECK(extension_strip("demo@example.test", "+") == NULL);
}

TEST(one_to_many_and_chains)
{
	struct virtual_alias *va = make("+", 1000, 1000);
	int rc;
	char *got = expand(va, "List@Alias.Test", &rc);
	CHECK_STR(got, "a@mbox.test b@mbox.test c@mbox.test");
	CHECK(rc == VIRTUAL_ALIAS_EXPANDED);
	free(got);
	CHECK_EXPAND(va, "chain1@alias.test", "end@mbox.test");
	CHECK_EXPAND(va, "user@alias.test", "user@mbox.test");
	CHECK_EXPAND(va, "bare@alias.test", "nodomain@origin.test");
	got = expand(va, "nobody@mbox.test", &rc);
	CHECK_STR(got, "nobody@mbox.test");
	CHECK(rc == VIRTUAL_ALIAS_UNCHANGED);
	free(got);
	virtual_alias_free(va);
}

TEST(self_reference_stops)
{
	struct virtual_alias *va = make("+", 1000, 1000);
	CHECK_EXPAND(va, "self@mbox.test", "self@mbox.test other@mbox.test");
	/* selfa keeps itself; selfb comes back to selfa, which is final */
	CHECK_EXPAND(va, "selfa@mbox.test", "selfa@mbox.test");
	CHECK_EXPAND(va, "selfb@mbox.test", "selfa@mbox.test");
	/* kept as itself in a virtual alias domain: nowhere to deliver it */
	CHECK_EXPAND(va, "selfv@alias.test", "FAIL 5.1.1");
	virtual_alias_free(va);
}

TEST(catch_all_and_bare_user)
{
	struct virtual_alias *va = make("+", 1000, 1000);
	CHECK_EXPAND(va, "anything@catch.test", "catchall@mbox.test");
	CHECK_EXPAND(va, "known@catch.test", "known@mbox.test");
	CHECK_EXPAND(va, "sam@local.test", "sam@mbox.test");
	CHECK_EXPAND(va, "sam", "sam@mbox.test");
	/* "sam" is no key for domains outside mydestination */
	CHECK_EXPAND(va, "sam@mbox.test", "sam@mbox.test");
	virtual_alias_free(va);
}

TEST(failures)
{
	struct virtual_alias *va = make("+", 3, 3);
	CHECK_EXPAND(va, "loop1@alias.test", "FAIL 4.4.6");
	CHECK_EXPAND(va, "unknown@alias.test", "FAIL 5.1.1");
	CHECK_EXPAND(va, "deep0@alias.test", "FAIL 4.6.0");
	/* deep4 is not a key, but alias.test is a virtual alias domain */
	CHECK_EXPAND(va, "deep1@alias.test", "FAIL 5.1.1");
	CHECK_EXPAND(va, "many@alias.test", "FAIL 4.6.0");
	struct virtual_alias_expansion x;
	CHECK(virtual_alias_expand(va, "loop1@alias.test", &x) == VIRTUAL_ALIAS_DEFERRED);
	CHECK(x.reason && strstr(x.reason, "loop1@alias.test -> loop2@alias.test -> "
	                                   "loop1@alias.test") != NULL);
	virtual_alias_expansion_free(&x);
	CHECK(virtual_alias_expand(va, "many@alias.test", &x) == VIRTUAL_ALIAS_DEFERRED);
	virtual_alias_expansion_free(&x);
	CHECK(virtual_alias_expand(va, "unknown@alias.test", &x) == VIRTUAL_ALIAS_FAILED);
	virtual_alias_expansion_free(&x);
	virtual_alias_free(va);
}

TEST(extensions)
{
	struct virtual_alias *va = make("+", 1000, 1000);
	/* the exact key first, then without the extension (propagated) */
	CHECK_EXPAND(va, "tag+special@alias.test", "special@mbox.test");
	CHECK_EXPAND(va, "user+Box@alias.test", "user+Box@mbox.test");
	CHECK_EXPAND(va, "list+x@alias.test", "a+x@mbox.test b+x@mbox.test c+x@mbox.test");
	CHECK_EXPAND(va, "sam+y@local.test", "sam+y@mbox.test");
	/* the catch-all does not propagate */
	CHECK_EXPAND(va, "who+z@catch.test", "catchall@mbox.test");
	virtual_alias_free(va);
	va = make("", 1000, 1000);
	CHECK_EXPAND(va, "user+box@alias.test", "FAIL 5.1.1");
	virtual_alias_free(va);
}

TEST(domains)
{
	struct virtual_alias *va = make("+", 1000, 1000);
	const char *error;
	CHECK(virtual_alias_is_domain(va, "Alias.Test", &error) == 1);
	CHECK(virtual_alias_is_domain(va, "catch.test", &error) == 1);
	CHECK(virtual_alias_is_domain(va, "mbox.test", &error) == 0);
	virtual_alias_free(va);
}

TEST(rewrite_envelope)
{
	struct virtual_alias *va = make("+", 1000, 1000);
	struct queue_envelope in, out;
	queue_envelope_init(&in);
	in.sender = xstrdup("s@x.test");
	queue_envelope_add_rcpt(&in, "list@alias.test", "", "SUCCESS,FAILURE");
	queue_envelope_add_rcpt(&in, "chain1@alias.test", "rfc822;given@orig.test", "");
	queue_envelope_add_rcpt(&in, "a@mbox.test", "", ""); /* already a result */
	queue_envelope_add_rcpt(&in, "loop1@alias.test", "", "");
	queue_envelope_add_rcpt(&in, "plain@remote.test", "", "");
	struct virtual_alias_failure *failed;
	size_t nfailed;
	char *reason = NULL;
	CHECK(virtual_alias_rewrite_envelope(va, &in, &out, &failed, &nfailed, &reason) == 0);
	CHECK_STR(out.sender, "s@x.test");
	/* The loop is queued as it is, for qmgr to defer until it is fixed. */
	CHECK(out.rcpt_count == 6);
	if (out.rcpt_count == 6) {
		CHECK_STR(out.rcpts[0].address, "a@mbox.test");
		CHECK_STR(out.rcpts[0].orcpt, "rfc822;list@alias.test");
		CHECK_STR(out.rcpts[0].notify, "SUCCESS,FAILURE");
		CHECK_STR(out.rcpts[2].address, "c@mbox.test");
		CHECK_STR(out.rcpts[3].address, "end@mbox.test");
		CHECK_STR(out.rcpts[3].orcpt, "rfc822;given@orig.test");
		CHECK_STR(out.rcpts[4].address, "loop1@alias.test");
		CHECK_STR(out.rcpts[4].orcpt, "");
		CHECK(out.rcpts[4].valias_pending);
		CHECK_STR(out.rcpts[5].address, "plain@remote.test");
		CHECK_STR(out.rcpts[5].orcpt, "");
		for (size_t i = 0; i < 6; i++)
			CHECK(out.rcpts[i].valias_pending == (i == 4));
	}
	CHECK(nfailed == 0);
	virtual_alias_failures_free(failed, nfailed);
	queue_envelope_free(&out);
	queue_envelope_free(&in);
	virtual_alias_free(va);
}

TEST(missing_table_is_temporary)
{
	static char *maps[] = {"lmdb:/nonexistent/postern-virtual.lmdb", NULL};
	struct virtual_alias_settings s = {
	    .maps = maps, .recursion_limit = 10, .expansion_limit = 10};
	struct virtual_alias *va = virtual_alias_new(&s);
	CHECK_EXPAND(va, "a@b.test", "FAIL 4.3.0");
	struct queue_envelope in, out;
	queue_envelope_init(&in);
	queue_envelope_add_rcpt(&in, "a@b.test", "", "");
	struct virtual_alias_failure *failed;
	size_t nfailed;
	char *reason = NULL;
	CHECK(virtual_alias_rewrite_envelope(va, &in, &out, &failed, &nfailed, &reason) == -1);
	CHECK(reason != NULL && out.rcpt_count == 0);
	free(reason);
	queue_envelope_free(&in);
	virtual_alias_free(va);
}

/* A chain longer than any nesting allowed: refused, not a stack overflow;
 * within the limit it is followed to its end. */
TEST(long_chain)
{
	enum { LEN = 3000 };
	struct table_entry *chain = xcalloc(LEN, sizeof(*chain));
	for (int i = 0; i < LEN; i++) {
		chain[i].key = xasprintf("c%d@chain.test", i);
		chain[i].value = xasprintf("c%d@chain.test", i + 1);
	}
	char *path = xasprintf("%s/chain.lmdb", tmpdir);
	const char *error;
	CHECK(table_build_lmdb(path, chain, LEN, 0644, (gid_t)-1, &error) == 0);
	char *spec = xasprintf("lmdb:%s", path);
	char *maps[] = {spec, NULL};
	struct virtual_alias_settings s = {
	    .maps = maps, .recursion_limit = 1000000000, .expansion_limit = 10};
	struct virtual_alias *va = virtual_alias_new(&s);
	CHECK_EXPAND(va, "c0@chain.test", "FAIL 4.6.0");
	CHECK_EXPAND(va, "c1500@chain.test", "c3000@chain.test");
	virtual_alias_free(va);
	for (int i = 0; i < LEN; i++) {
		free((char *)chain[i].key);
		free((char *)chain[i].value);
	}
	free(chain);
	unlink(path);
	free(path);
	free(spec);
}

int main(void)
{
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	char *path = xasprintf("%s/virtual.lmdb", tmpdir);
	const char *error;
	if (table_build_lmdb(path, entries, sizeof(entries) / sizeof(entries[0]), 0644, (gid_t)-1,
	                     &error) != 0) {
		fprintf(stderr, "build: %s\n", error);
		return 1;
	}
	table_spec_text = xasprintf("lmdb:%s", path);
	RUN(extension_split);
	RUN(one_to_many_and_chains);
	RUN(self_reference_stops);
	RUN(catch_all_and_bare_user);
	RUN(failures);
	RUN(extensions);
	RUN(domains);
	RUN(rewrite_envelope);
	RUN(missing_table_is_temporary);
	RUN(long_chain);
	unlink(path);
	rmdir(tmpdir);
	free(path);
	free(table_spec_text);
	return TESTING_DONE();
}

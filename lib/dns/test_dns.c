/* Unit tests for DNS record parsing and MX ordering (no network). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "dns/dns.h"
#include "dns/dns_route.h"
#include "util/testing.h"

TEST(rdata)
{
	struct dns_rr rr;
	const unsigned char mx[] = {0,   10,  3,   'm', 'x', '1', 7, 'e',
	                            'x', 'a', 'm', 'p', 'l', 'e', 0};
	CHECK(dns_rr_parse(DNS_TYPE_MX, mx, sizeof(mx), &rr) == 0);
	CHECK(rr.preference == 10);
	CHECK_STR(rr.name, "mx1.example");
	dns_rr_free(&rr);
	const unsigned char nullmx[] = {0, 0, 0};
	CHECK(dns_rr_parse(DNS_TYPE_MX, nullmx, sizeof(nullmx), &rr) == 0);
	CHECK_STR(rr.name, ".");
	dns_rr_free(&rr);
	/* A label running past the end, trailing bytes, a short address. */
	const unsigned char bad1[] = {0, 10, 9, 'm', 'x', 0};
	CHECK(dns_rr_parse(DNS_TYPE_MX, bad1, sizeof(bad1), &rr) == -1);
	const unsigned char bad2[] = {0, 10, 0, 1};
	CHECK(dns_rr_parse(DNS_TYPE_MX, bad2, sizeof(bad2), &rr) == -1);
	const unsigned char a[] = {127, 0, 0, 3};
	CHECK(dns_rr_parse(DNS_TYPE_A, a, sizeof(a), &rr) == 0);
	CHECK_STR(rr.text, "127.0.0.3");
	dns_rr_free(&rr);
	CHECK(dns_rr_parse(DNS_TYPE_A, a, 3, &rr) == -1);
	const unsigned char tlsa[] = {3, 1, 1, 0xab, 0xcd};
	CHECK(dns_rr_parse(DNS_TYPE_TLSA, tlsa, sizeof(tlsa), &rr) == 0);
	CHECK(rr.usage == 3 && rr.selector == 1 && rr.matching == 1 && rr.data_len == 2);
	dns_rr_free(&rr);
	const unsigned char txt[] = {3, 'v', '=', 'x', 2, 'y', 'z'};
	CHECK(dns_rr_parse(DNS_TYPE_TXT, txt, sizeof(txt), &rr) == 0);
	CHECK_STR(rr.text, "v=xyz");
	dns_rr_free(&rr);
	const unsigned char badtxt[] = {5, 'a'};
	CHECK(dns_rr_parse(DNS_TYPE_TXT, badtxt, sizeof(badtxt), &rr) == -1);
}

TEST(reverse)
{
	char *r = dns_reverse_name("192.0.2.1");
	CHECK_STR(r, "1.2.0.192.in-addr.arpa");
	free(r);
	r = dns_reverse_name("2001:db8::1");
	CHECK(r != NULL && strncmp(r, "1.0.0.0.", 8) == 0 && strstr(r, "8.b.d.0.1.0.0.2.ip6.arpa"));
	free(r);
	CHECK(dns_reverse_name("nonsense") == NULL);
	/* Under a DNS blocklist's domain (RFC 5782 section 2.1 and 2.4). */
	r = dns_reverse_name_under("127.0.0.2", "bl.example");
	CHECK_STR(r, "2.0.0.127.bl.example");
	free(r);
	r = dns_reverse_name_under("2001:db8:1:2:3:4:567:89ab", "bl.example");
	CHECK_STR(r, "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.bl.example");
	free(r);
	r = dns_reverse_name_under("::1", "bl.example");
	CHECK(r != NULL && strncmp(r, "1.0.0.0.0.", 10) == 0 && strlen(r) == 64 + 10);
	free(r);
	CHECK(dns_reverse_name_under("127.0.0", "bl.example") == NULL);
	CHECK(dns_reverse_name_under("unknown", "bl.example") == NULL);
}

static unsigned counter_random(void *ctx)
{
	unsigned *n = ctx;
	*n = *n * 1103515245u + 12345u;
	return *n >> 8;
}

TEST(mx_order)
{
	int seen_first_b = 0, seen_first_a = 0;
	unsigned seed = 1;
	for (int round = 0; round < 50; round++) {
		struct dns_rr mx[4] = {
		    {.preference = 20, .name = "c"},
		    {.preference = 10, .name = "a"},
		    {.preference = 30, .name = "d"},
		    {.preference = 10, .name = "b"},
		};
		dns_mx_sort(mx, 4, counter_random, &seed);
		CHECK(mx[0].preference == 10 && mx[1].preference == 10);
		CHECK_STR(mx[2].name, "c");
		CHECK_STR(mx[3].name, "d");
		if (strcmp(mx[0].name, "a") == 0)
			seen_first_a++;
		else
			seen_first_b++;
	}
	/* Equal preferences come in both orders. */
	CHECK(seen_first_a > 5 && seen_first_b > 5);
}

static void on_answer(void *ctx, struct dns_answer *answer)
{
	struct dns_answer *out = ctx;
	*out = *answer;
	free(answer);
}

/* Asynchronous look-ups through an event loop, answered from a hosts
 * file (the forwarder is a closed port: nothing leaves the machine). */
TEST(hosts_file_async)
{
	char dir[] = "/tmp/dns-test-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char path[64];
	snprintf(path, sizeof(path), "%s/hosts", dir);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	fputs("192.0.2.7 mail.hosts.example\n2001:db8::7 mail.hosts.example\n"
	      "192.0.2.8 mx.hosts.example\n",
	      f);
	fclose(f);
	char *forwarders[] = {"127.0.0.1@9", NULL};
	struct dns_settings s = {.forwarders = forwarders, .hosts_file = path};
	const char *error = NULL;
	struct dns_resolver *r = dns_resolver_new(&s, &error);
	CHECK(r != NULL);
	if (r == NULL)
		return;
	CHECK(!dns_resolver_validates(r));
	struct event_loop *loop = event_loop_new();
	dns_resolver_attach(r, loop);
	struct dns_answer a4 = {.status = (enum dns_status) - 1},
	                  a6 = {.status = (enum dns_status) - 1};
	CHECK(dns_lookup_async(r, "mail.hosts.example", DNS_TYPE_A, on_answer, &a4, &error) == 0);
	CHECK(dns_lookup_async(r, "mail.hosts.example", DNS_TYPE_AAAA, on_answer, &a6, &error) ==
	      0);
	int64_t deadline = event_now_ms() + 10000;
	while (((int)a4.status == -1 || (int)a6.status == -1) && event_now_ms() < deadline)
		event_loop_once(loop, 100);
	CHECK(a4.status == DNS_FOUND && a4.count == 1);
	if (a4.count == 1)
		CHECK_STR(a4.rrs[0].text, "192.0.2.7");
	CHECK(a6.status == DNS_FOUND && a6.count == 1);
	if (a6.count == 1)
		CHECK_STR(a6.rrs[0].text, "2001:db8::7");
	dns_answer_free(&a4);
	dns_answer_free(&a6);
	/* The blocking form, too. */
	struct dns_answer b;
	dns_lookup(r, "mail.hosts.example", DNS_TYPE_A, 5000, &b);
	CHECK(b.status == DNS_FOUND && !b.secure);
	dns_answer_free(&b);
	/* Several at once. */
	const char *names[] = {"mail.hosts.example", "mx.hosts.example"};
	struct dns_answer many[2];
	dns_lookup_many(r, names, 2, DNS_TYPE_A, 5000, many);
	CHECK(many[0].status == DNS_FOUND && many[0].count == 1);
	if (many[0].count == 1)
		CHECK_STR(many[0].rrs[0].text, "192.0.2.7");
	CHECK(many[1].status == DNS_FOUND && many[1].count == 1);
	if (many[1].count == 1)
		CHECK_STR(many[1].rrs[0].text, "192.0.2.8");
	dns_answer_free(&many[0]);
	dns_answer_free(&many[1]);
	dns_resolver_free(r);
	event_loop_free(loop);
	unlink(path);
	rmdir(dir);
}

TEST(hosts_name)
{
	char dir[] = "/tmp/postern-test-hosts-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char path[64];
	snprintf(path, sizeof(path), "%s/hosts", dir);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f == NULL)
		return;
	fputs("# comment 192.0.2.1 no\n"
	      "192.0.2.1\tfirst.example first alias # trailing\n"
	      "192.0.2.1 second.example\n"
	      "2001:db8:0:0::7 six.example\n"
	      "192.0.2.9\n"
	      "not-an-address bad.example\n",
	      f);
	fclose(f);
	struct dns_hosts *h = dns_hosts_load(path);
	CHECK_STR(dns_hosts_name(h, "192.0.2.1"), "first.example");
	CHECK_STR(dns_hosts_name(h, "2001:db8::7"), "six.example"); /* another spelling */
	CHECK(dns_hosts_name(h, "192.0.2.9") == NULL);              /* no name on the line */
	CHECK(dns_hosts_name(h, "192.0.2.2") == NULL);
	CHECK(dns_hosts_name(h, "garbage") == NULL);
	dns_hosts_free(h);
	h = dns_hosts_load("");
	CHECK(dns_hosts_name(h, "192.0.2.1") == NULL);
	dns_hosts_free(h);
	h = dns_hosts_load("/nonexistent/hosts");
	CHECK(dns_hosts_name(h, "192.0.2.1") == NULL);
	dns_hosts_free(h);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	RUN(rdata);
	RUN(reverse);
	RUN(mx_order);
	RUN(hosts_file_async);
	RUN(hosts_name);
	return TESTING_DONE();
}

/* Unit tests for tls_protocols_parse (lib/tls/tls_protocols.c). */
#include "tls/tls.h"
#include "util/testing.h"

static int range(const char *text, int *min, int *max)
{
	const char *error = NULL;
	*min = *max = 0;
	return tls_protocols_parse(text, min, max, &error);
}

TEST(forms)
{
	int min, max;
	CHECK(range(">=TLSv1.2", &min, &max) == 0);
	CHECK(min == TLS_VERSION_1_2 && max == TLS_VERSION_1_3);
	CHECK(range(">=TLSv1.3", &min, &max) == 0);
	CHECK(min == TLS_VERSION_1_3 && max == TLS_VERSION_1_3);
	CHECK(range("<=TLSv1.2", &min, &max) == 0);
	CHECK(min == TLS_VERSION_1_0 && max == TLS_VERSION_1_2);
	CHECK(range("!TLSv1 !TLSv1.1", &min, &max) == 0);
	CHECK(min == TLS_VERSION_1_2 && max == TLS_VERSION_1_3);
	CHECK(range("!TLSv1, !TLSv1.1, !TLSv1.3", &min, &max) == 0);
	CHECK(min == TLS_VERSION_1_2 && max == TLS_VERSION_1_2);
	CHECK(range("TLSv1.2:TLSv1.3", &min, &max) == 0);
	CHECK(min == TLS_VERSION_1_2 && max == TLS_VERSION_1_3);
	CHECK(range(">=TLSv1.2 <=TLSv1.2", &min, &max) == 0);
	CHECK(min == TLS_VERSION_1_2 && max == TLS_VERSION_1_2);
	CHECK(range("TLSv1.2", &min, &max) == 0); /* alone: the lowest version */
	CHECK(min == TLS_VERSION_1_2 && max == TLS_VERSION_1_3);
	CHECK(range("TLSv1.1 TLSv1.2", &min, &max) == 0);
	CHECK(min == TLS_VERSION_1_1 && max == TLS_VERSION_1_2);
	CHECK(range("", &min, &max) == 0);
	CHECK(min == TLS_VERSION_1_0 && max == TLS_VERSION_1_3);
	CHECK_STR(tls_protocol_name(TLS_VERSION_1_3), "TLSv1.3");
}

/* SSLv2 and SSLv3, named in Postfix's lists, mean nothing with OpenSSL 3. */
TEST(ssl_names)
{
	int min, max;
	CHECK(range("!SSLv2, !SSLv3, !TLSv1, !TLSv1.1", &min, &max) == 0);
	CHECK(min == TLS_VERSION_1_2 && max == TLS_VERSION_1_3);
	CHECK(range("!SSLv2:!SSLv3", &min, &max) == 0);
	CHECK(min == TLS_VERSION_1_0 && max == TLS_VERSION_1_3);
	CHECK(range("!sslv2 !sslv3 !tlsv1", &min, &max) == 0); /* any case, as Postfix */
	CHECK(min == TLS_VERSION_1_1 && max == TLS_VERSION_1_3);
	CHECK(range("SSLv3", &min, &max) == 0); /* included: ignored */
	CHECK(min == TLS_VERSION_1_0 && max == TLS_VERSION_1_3);
	CHECK(range("SSLv3 TLSv1.2 TLSv1.3", &min, &max) == 0);
	CHECK(min == TLS_VERSION_1_2 && max == TLS_VERSION_1_3);
	CHECK(range("SSLv2 SSLv3 TLSv1.3", &min, &max) == 0);
	CHECK(min == TLS_VERSION_1_3 && max == TLS_VERSION_1_3);
	CHECK(range(">=SSLv3", &min, &max) == 0); /* every TLS version is above */
	CHECK(min == TLS_VERSION_1_0 && max == TLS_VERSION_1_3);
	CHECK(range(">=SSLv3 <=TLSv1.2", &min, &max) == 0);
	CHECK(min == TLS_VERSION_1_0 && max == TLS_VERSION_1_2);
	CHECK(range("!SSLv2 >=TLSv1.2", &min, &max) == 0);
	CHECK(min == TLS_VERSION_1_2 && max == TLS_VERSION_1_3);
	const char *error = NULL;
	CHECK(tls_protocols_parse("<=SSLv3", &min, &max, &error) == -1 && error != NULL &&
	      strstr(error, "no version") != NULL);
}

TEST(errors)
{
	int min, max;
	CHECK(range(">=TLSv1.4", &min, &max) == -1);
	CHECK(range("SSLv4", &min, &max) == -1);
	CHECK(range("!SSLv3x", &min, &max) == -1);
	CHECK(range("!TLSv1.2", &min, &max) == -1); /* 1.0-1.1 and 1.3: a gap */
	CHECK(range(">=TLSv1.3 <=TLSv1.2", &min, &max) == -1);
	CHECK(range("!TLSv1 !TLSv1.1 !TLSv1.2 !TLSv1.3", &min, &max) == -1);
	CHECK(range(">=", &min, &max) == -1);
	const char *error = NULL;
	CHECK(tls_protocols_parse("bogus", &min, &max, &error) == -1 && error != NULL &&
	      strstr(error, "bogus") != NULL);
}

int main(void)
{
	RUN(forms);
	RUN(ssl_names);
	RUN(errors);
	return TESTING_DONE();
}

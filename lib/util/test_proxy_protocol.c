/*
 * Tests of the PROXY protocol parser: version 1 for TCP4, TCP6 and
 * UNKNOWN, version 2 for TCP over IPv4 and IPv6 (with TLVs after the
 * addresses), LOCAL and UNSPEC, headers arriving a byte at a time, the
 * exact byte count a version 2 reader wants, and every malformed form
 * refused. Then the reader on a socket pair: it takes the header and
 * leaves the bytes sent with it, and gives up on silence and on a close.
 */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/proxy_protocol.h"
#include "util/testing.h"

static enum proxy_result parse(const char *data, size_t len, struct proxy_header *h)
{
	const char *error = NULL;
	enum proxy_result r = proxy_protocol_parse((const unsigned char *)data, len, h, &error);
	if (r == PROXY_BAD)
		CHECK(error != NULL);
	return r;
}

TEST(v1)
{
	struct proxy_header h;
	static const char tcp4[] = "PROXY TCP4 203.0.113.7 192.0.2.1 45678 25\r\nEHLO x\r\n";
	CHECK(parse(tcp4, strlen(tcp4), &h) == PROXY_DONE);
	CHECK(h.len == strlen("PROXY TCP4 203.0.113.7 192.0.2.1 45678 25\r\n"));
	CHECK(h.proxied);
	CHECK_STR(h.client_addr, "203.0.113.7");
	CHECK_STR(h.client_port, "45678");
	CHECK_STR(h.server_addr, "192.0.2.1");
	CHECK_STR(h.server_port, "25");
	static const char tcp6[] = "PROXY TCP6 2001:DB8:0::7 2001:db8::1 1 65535\r\n";
	CHECK(parse(tcp6, strlen(tcp6), &h) == PROXY_DONE);
	CHECK_STR(h.client_addr, "2001:db8::7");
	CHECK_STR(h.server_port, "65535");
	CHECK(parse("PROXY UNKNOWN\r\n", 15, &h) == PROXY_DONE);
	CHECK(!h.proxied && h.len == 15);
	static const char unknown[] = "PROXY UNKNOWN ffff:f...f:ffff 1 2\r\n";
	CHECK(parse(unknown, strlen(unknown), &h) == PROXY_DONE);
	CHECK(!h.proxied && h.len == strlen(unknown));
	/* A byte at a time: more is needed until the CRLF. */
	for (size_t n = 0; n < strlen(tcp4) - strlen("EHLO x\r\n") - 1; n++)
		CHECK(parse(tcp4, n, &h) == PROXY_NEED_MORE);
	CHECK(proxy_protocol_v2_wanted((const unsigned char *)tcp4, 20) == 0);
}

TEST(v1_bad)
{
	static const char *const bad[] = {
	    "PROXY TCP4 203.0.113.7 192.0.2.1 45678 25\n",       /* LF alone... then */
	    "PROXY TCP4 203.0.113.7  192.0.2.1 45678 25\r\n",    /* two spaces */
	    "PROXY TCP4 203.0.113.7 192.0.2.1 45678 25 x\r\n",   /* extra field */
	    "PROXY TCP4 203.0.113.7 192.0.2.1 45678\r\n",        /* missing field */
	    "PROXY TCP4 2001:db8::7 192.0.2.1 45678 25\r\n",     /* family mismatch */
	    "PROXY TCP6 203.0.113.7 2001:db8::1 45678 25\r\n",   /* family mismatch */
	    "PROXY TCP4 203.0.113.7 192.0.2.1 65536 25\r\n",     /* port too big */
	    "PROXY TCP4 203.0.113.7 192.0.2.1 045678 25\r\n",    /* leading zero */
	    "PROXY TCP4 203.0.113.256 192.0.2.1 4567 25\r\n",    /* bad address */
	    "PROXY UDP4 203.0.113.7 192.0.2.1 45678 25\r\n",     /* not TCP */
	    "proxy TCP4 203.0.113.7 192.0.2.1 45678 25\r\n",     /* case */
	    "EHLO client.example\r\n",                           /* no header at all */
	    "PROXY TCP4 203.0.113.7 192.0.2.1 45678 25\x01\r\n", /* control */
	};
	struct proxy_header h;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(parse(bad[i], strlen(bad[i]), &h) == PROXY_BAD);
	char longer[200];
	memset(longer, 'x', sizeof(longer));
	memcpy(longer, "PROXY TCP4 ", 11);
	CHECK(parse(longer, sizeof(longer), &h) == PROXY_BAD);
	CHECK(parse(longer, PROXY_V1_MAX - 1, &h) == PROXY_NEED_MORE);
}

static size_t v2(char *out, unsigned ver_cmd, unsigned family, const char *body, size_t len)
{
	memcpy(out, "\r\n\r\n\0\r\nQUIT\n", 12);
	out[12] = (char)ver_cmd;
	out[13] = (char)family;
	out[14] = (char)(len >> 8);
	out[15] = (char)(len & 0xff);
	memcpy(out + 16, body, len);
	return 16 + len;
}

TEST(v2)
{
	char buf[256];
	struct proxy_header h;
	/* TCP4 203.0.113.7:45678 -> 192.0.2.1:25, then a TLV (ignored). */
	static const char body4[] = "\xcb\x00\x71\x07\xc0\x00\x02\x01\xb2\x6e\x00\x19"
	                            "\x04\x00\x03"
	                            "abc";
	size_t n = v2(buf, 0x21, 0x11, body4, sizeof(body4) - 1);
	CHECK(parse(buf, n, &h) == PROXY_DONE);
	CHECK(h.len == n && h.proxied);
	CHECK_STR(h.client_addr, "203.0.113.7");
	CHECK_STR(h.client_port, "45678");
	CHECK_STR(h.server_addr, "192.0.2.1");
	CHECK_STR(h.server_port, "25");
	for (size_t k = 0; k < n; k++) {
		CHECK(parse(buf, k, &h) == PROXY_NEED_MORE);
		if (k >= PROXY_MIN_LEN)
			CHECK(proxy_protocol_v2_wanted((unsigned char *)buf, k) ==
			      (k < PROXY_V2_FIXED ? PROXY_V2_FIXED - k : n - k));
	}
	char body6[36];
	memset(body6, 0, sizeof(body6));
	body6[0] = 0x20, body6[1] = 0x01, body6[2] = 0x0d, body6[3] = (char)0xb8, body6[15] = 7;
	body6[16] = 0x20, body6[17] = 0x01, body6[18] = 0x0d, body6[19] = (char)0xb8, body6[31] = 1;
	body6[32] = 0x12, body6[33] = 0x34, body6[35] = 25;
	n = v2(buf, 0x21, 0x21, body6, sizeof(body6));
	CHECK(parse(buf, n, &h) == PROXY_DONE);
	CHECK_STR(h.client_addr, "2001:db8::7");
	CHECK_STR(h.client_port, "4660");
	CHECK_STR(h.server_addr, "2001:db8::1");
	/* LOCAL (a health check) and UNSPEC keep the connection's addresses. */
	n = v2(buf, 0x20, 0x00, "", 0);
	CHECK(parse(buf, n, &h) == PROXY_DONE && !h.proxied && h.len == 16);
	n = v2(buf, 0x21, 0x00, "xyz", 3);
	CHECK(parse(buf, n, &h) == PROXY_DONE && !h.proxied && h.len == 19);
	/* Refused: version 1 in a v2 header, an unknown command, UDP, UNIX,
	 * too short for its addresses, a damaged signature. */
	CHECK(parse(buf, v2(buf, 0x11, 0x11, body4, 12), &h) == PROXY_BAD);
	CHECK(parse(buf, v2(buf, 0x22, 0x11, body4, 12), &h) == PROXY_BAD);
	CHECK(parse(buf, v2(buf, 0x21, 0x12, body4, 12), &h) == PROXY_BAD);
	CHECK(parse(buf, v2(buf, 0x21, 0x31, body4, 12), &h) == PROXY_BAD);
	CHECK(parse(buf, v2(buf, 0x21, 0x11, body4, 11), &h) == PROXY_BAD);
	CHECK(parse(buf, v2(buf, 0x21, 0x21, body6, 30), &h) == PROXY_BAD);
	n = v2(buf, 0x21, 0x11, body4, 12);
	buf[5] = 'X';
	CHECK(parse(buf, n, &h) == PROXY_BAD);
	CHECK(parse(buf, 3, &h) == PROXY_NEED_MORE); /* a signature so far */
}

/* Send data on one end of a socket pair, read a header from the other
 * with proxy_protocol_read, and leave in rest what stayed in the socket. */
static enum proxy_result read_from(const char *data, size_t len, bool close_after,
                                   struct proxy_header *h, char *rest, size_t rest_size)
{
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK(write(sv[1], data, len) == (ssize_t)len);
	if (close_after)
		shutdown(sv[1], SHUT_WR);
	const char *error = NULL;
	enum proxy_result r = proxy_protocol_read(sv[0], 200, h, &error);
	CHECK(r != PROXY_NEED_MORE);
	if (r == PROXY_BAD)
		CHECK(error != NULL);
	shutdown(sv[1], SHUT_WR);
	ssize_t n = read(sv[0], rest, rest_size - 1);
	rest[n > 0 ? n : 0] = '\0';
	close(sv[0]);
	close(sv[1]);
	return r;
}

TEST(v2_ssl_tlv)
{
	char buf[256];
	struct proxy_header h;
	/* TCP4, then PP2_TYPE_NOOP, then PP2_TYPE_SSL: client SSL|CERT_CONN,
	 * verify 0, sub-TLVs version "TLSv1.3" and cipher (with a control
	 * character, shown as '?'). */
	static const char body[] = "\xcb\x00\x71\x07\xc0\x00\x02\x01\xb2\x6e\x00\x6e"
	                           "\x04\x00\x02xx"
	                           "\x20\x00\x28"
	                           "\x03\x00\x00\x00\x00"
	                           "\x21\x00\x07TLSv1.3"
	                           "\x23\x00\x16TLS_AES_256_GCM_SHA38\x01";
	size_t n = v2(buf, 0x21, 0x11, body, sizeof(body) - 1);
	CHECK(parse(buf, n, &h) == PROXY_DONE && h.proxied && h.len == n);
	CHECK(h.client_tls);
	CHECK_STR(h.tls_version, "TLSv1.3");
	CHECK_STR(h.tls_cipher, "TLS_AES_256_GCM_SHA38?");
	/* The SSL TLV without PP2_CLIENT_SSL: the client spoke plain text. */
	static const char plain[] = "\xcb\x00\x71\x07\xc0\x00\x02\x01\xb2\x6e\x00\x6e"
	                            "\x20\x00\x05\x00\x00\x00\x00\x00";
	n = v2(buf, 0x21, 0x11, plain, sizeof(plain) - 1);
	CHECK(parse(buf, n, &h) == PROXY_DONE && h.proxied && !h.client_tls);
	CHECK_STR(h.tls_version, "");
	/* No TLVs at all. */
	n = v2(buf, 0x21, 0x11, body, 12);
	CHECK(parse(buf, n, &h) == PROXY_DONE && !h.client_tls);
	/* Refused: a TLV running past the header, a stray byte or two after
	 * the last TLV, an SSL TLV shorter than its fixed part, a sub-TLV
	 * running past its TLV. */
	static const char *bad[] = {
	    "\xcb\x00\x71\x07\xc0\x00\x02\x01\xb2\x6e\x00\x6e\x04\x00\x09xx",
	    "\xcb\x00\x71\x07\xc0\x00\x02\x01\xb2\x6e\x00\x6e\x04\x00\x00\x04\x00",
	    "\xcb\x00\x71\x07\xc0\x00\x02\x01\xb2\x6e\x00\x6e\x20\x00\x03\x01\x00\x00",
	    ("\xcb\x00\x71\x07\xc0\x00\x02\x01\xb2\x6e\x00\x6e\x20\x00\x08\x01\x00\x00\x00\x00"
	     "\x21\x00\x05"),
	};
	static const size_t bad_len[] = {17, 17, 18, 23};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = v2(buf, 0x21, 0x11, bad[i], bad_len[i]);
		CHECK(parse(buf, n, &h) == PROXY_BAD);
		CHECK(!h.client_tls);
	}
}

TEST(read)
{
	struct proxy_header h;
	char rest[256];
	static const char v1[] =
	    "PROXY TCP4 203.0.113.7 192.0.2.1 45678 110\r\nUSER a\r\nPASS b\r\n";
	CHECK(read_from(v1, strlen(v1), false, &h, rest, sizeof(rest)) == PROXY_DONE);
	CHECK(h.proxied);
	CHECK_STR(h.client_addr, "203.0.113.7");
	CHECK_STR(rest, "USER a\r\nPASS b\r\n");
	char buf[256];
	static const char body4[] = "\xcb\x00\x71\x07\xc0\x00\x02\x01\xb2\x6e\x00\x6e";
	size_t n = v2(buf, 0x21, 0x11, body4, sizeof(body4) - 1);
	memcpy(buf + n, "CAPA\r\n", 6);
	CHECK(read_from(buf, n + 6, false, &h, rest, sizeof(rest)) == PROXY_DONE);
	CHECK_STR(h.client_addr, "203.0.113.7");
	CHECK_STR(h.server_port, "110");
	CHECK_STR(rest, "CAPA\r\n");
	/* A LOCAL header followed by a byte that looks like a v2 signature. */
	n = v2(buf, 0x20, 0x00, "", 0);
	buf[n] = '\r';
	CHECK(read_from(buf, n + 1, false, &h, rest, sizeof(rest)) == PROXY_DONE);
	CHECK(!h.proxied);
	CHECK_STR(rest, "\r");
	/* Silence, a close in the middle, and no header at all. */
	CHECK(read_from("", 0, false, &h, rest, sizeof(rest)) == PROXY_BAD);
	CHECK(read_from("PROXY TCP4 203.0", 16, true, &h, rest, sizeof(rest)) == PROXY_BAD);
	CHECK(read_from("PROXY TCP4 203.0", 16, false, &h, rest, sizeof(rest)) == PROXY_BAD);
	CHECK(read_from("CAPA\r\nUSER alice\r\n", 18, false, &h, rest, sizeof(rest)) == PROXY_BAD);
}

int main(void)
{
	RUN(v1);
	RUN(v1_bad);
	RUN(v2);
	RUN(v2_ssl_tlv);
	RUN(read);
	return TESTING_DONE();
}

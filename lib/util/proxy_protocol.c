/*
 * HAProxy's PROXY protocol headers, versions 1 (text) and 2 (binary)
 * (see proxy_protocol.h): a parser without I/O, then a reader that takes
 * a header off a socket and no byte more. Only TCP over IPv4 and IPv6
 * carries addresses; version 1's UNKNOWN and version 2's LOCAL command or
 * unspecified family keep the connection's own; UDP and UNIX-socket
 * families are refused, as is anything that is not exactly the format.
 */
#include "util/proxy_protocol.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "util/event.h"

static const unsigned char v2_signature[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                               0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

/* A decimal port without leading zeros (but "0"), at most 65535. */
static bool port_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
		return false;
	long v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	return v <= 65535;
}

/* One printable address of family af, rewritten canonically into out. */
static bool addr_ok(int af, const char *text, char *out, size_t size)
{
	unsigned char bin[16];
	return inet_pton(af, text, bin) == 1 && inet_ntop(af, bin, out, (socklen_t)size) != NULL;
}

static enum proxy_result parse_v1(const unsigned char *data, size_t len, struct proxy_header *h,
                                  const char **error_r)
{
	const unsigned char *crlf = NULL;
	for (size_t i = 0; i + 1 < len && i + 1 < PROXY_V1_MAX; i++)
		if (data[i] == '\r' && data[i + 1] == '\n') {
			crlf = data + i;
			break;
		}
	if (crlf == NULL) {
		for (size_t i = 0; i < len && i < PROXY_V1_MAX; i++)
			if (data[i] < 0x20 && data[i] != '\r') {
				*error_r = "control character in a version 1 header";
				return PROXY_BAD;
			}
		if (len >= PROXY_V1_MAX) {
			*error_r = "version 1 header without CRLF in its 107 bytes";
			return PROXY_BAD;
		}
		return PROXY_NEED_MORE;
	}
	char line[PROXY_V1_MAX + 1];
	size_t n = (size_t)(crlf - data);
	memcpy(line, data, n);
	line[n] = '\0';
	h->len = n + 2;
	if (strncmp(line, "PROXY UNKNOWN", 13) == 0 && (line[13] == '\0' || line[13] == ' ')) {
		h->proxied = false;
		return PROXY_DONE;
	}
	char proto[8], src[64], dst[64], sport[8], dport[8], extra[2];
	if (strlen(line) != n || sscanf(line, "PROXY %7s %63s %63s %7s %7s%1s", proto, src, dst,
	                                sport, dport, extra) != 5) {
		*error_r = "malformed version 1 header";
		return PROXY_BAD;
	}
	/* Exactly one space between the fields, as the protocol writes them. */
	char check[256];
	snprintf(check, sizeof(check), "PROXY %s %s %s %s %s", proto, src, dst, sport, dport);
	int af = strcmp(proto, "TCP4") == 0 ? AF_INET : strcmp(proto, "TCP6") == 0 ? AF_INET6 : 0;
	if (strcmp(check, line) != 0 || af == 0 ||
	    !addr_ok(af, src, h->client_addr, sizeof(h->client_addr)) ||
	    !addr_ok(af, dst, h->server_addr, sizeof(h->server_addr)) || !port_ok(sport) ||
	    !port_ok(dport)) {
		*error_r = "malformed version 1 header";
		return PROXY_BAD;
	}
	memcpy(h->client_port, sport, strlen(sport) + 1); /* port_ok: at most 5 digits */
	memcpy(h->server_port, dport, strlen(dport) + 1);
	h->proxied = true;
	return PROXY_DONE;
}

static void port_text(const unsigned char *p, char *out, size_t size)
{
	snprintf(out, size, "%u", (unsigned)p[0] << 8 | p[1]);
}

/* A TLV's text value as printable ASCII, cut to fit. */
static void tlv_text(const unsigned char *v, size_t len, char *out, size_t size)
{
	size_t n = 0;
	for (size_t i = 0; i < len && n + 1 < size; i++)
		out[n++] = v[i] >= 0x20 && v[i] < 0x7f ? (char)v[i] : '?';
	out[n] = '\0';
}

/* Walk a TLV list (type, 16-bit length, value), calling back for each;
 * -1 when one runs past the end. */
static int walk_tlvs(const unsigned char *p, size_t len,
                     void (*each)(unsigned type, const unsigned char *v, size_t n, void *ctx),
                     void *ctx)
{
	while (len > 0) {
		if (len < 3)
			return -1;
		size_t n = (size_t)p[1] << 8 | p[2];
		if (n > len - 3)
			return -1;
		each(p[0], p + 3, n, ctx);
		p += 3 + n;
		len -= 3 + n;
	}
	return 0;
}

#define PP2_TYPE_SSL 0x20
#define PP2_CLIENT_SSL 0x01
#define PP2_SUBTYPE_SSL_VERSION 0x21
#define PP2_SUBTYPE_SSL_CIPHER 0x23

static void ssl_sub_tlv(unsigned type, const unsigned char *v, size_t n, void *ctx)
{
	struct proxy_header *h = ctx;
	if (type == PP2_SUBTYPE_SSL_VERSION)
		tlv_text(v, n, h->tls_version, sizeof(h->tls_version));
	else if (type == PP2_SUBTYPE_SSL_CIPHER)
		tlv_text(v, n, h->tls_cipher, sizeof(h->tls_cipher));
}

struct tlv_walk {
	struct proxy_header *h;
	bool bad;
};

static void top_tlv(unsigned type, const unsigned char *v, size_t n, void *ctx)
{
	struct tlv_walk *w = ctx;
	if (type != PP2_TYPE_SSL)
		return;
	/* client flags (1 byte), verify result (4), then sub-TLVs */
	if (n < 5 || walk_tlvs(v + 5, n - 5, ssl_sub_tlv, w->h) != 0) {
		w->bad = true;
		return;
	}
	w->h->client_tls = (v[0] & PP2_CLIENT_SSL) != 0;
	if (!w->h->client_tls)
		w->h->tls_version[0] = w->h->tls_cipher[0] = '\0';
}

static int parse_tlvs(const unsigned char *p, size_t len, struct proxy_header *h)
{
	struct tlv_walk w = {.h = h};
	if (walk_tlvs(p, len, top_tlv, &w) != 0 || w.bad) {
		h->client_tls = false;
		return -1;
	}
	return 0;
}

static enum proxy_result parse_v2(const unsigned char *data, size_t len, struct proxy_header *h,
                                  const char **error_r)
{
	if (len < PROXY_V2_FIXED)
		return PROXY_NEED_MORE;
	unsigned version = data[12] >> 4, command = data[12] & 0x0F, family = data[13];
	size_t body = (size_t)data[14] << 8 | data[15];
	if (version != 2 || command > 1) {
		*error_r = "unknown version 2 header version or command";
		return PROXY_BAD;
	}
	if (len < PROXY_V2_FIXED + body)
		return PROXY_NEED_MORE;
	h->len = PROXY_V2_FIXED + body;
	const unsigned char *a = data + PROXY_V2_FIXED;
	if (command == 0 || family == 0x00) { /* LOCAL, or UNSPEC */
		h->proxied = false;
		return PROXY_DONE;
	}
	size_t addr_len = family == 0x11 ? 12 : 36;
	if (family == 0x11 && body >= 12) {
		inet_ntop(AF_INET, a, h->client_addr, sizeof(h->client_addr));
		inet_ntop(AF_INET, a + 4, h->server_addr, sizeof(h->server_addr));
		port_text(a + 8, h->client_port, sizeof(h->client_port));
		port_text(a + 10, h->server_port, sizeof(h->server_port));
	} else if (family == 0x21 && body >= 36) {
		inet_ntop(AF_INET6, a, h->client_addr, sizeof(h->client_addr));
		inet_ntop(AF_INET6, a + 16, h->server_addr, sizeof(h->server_addr));
		port_text(a + 32, h->client_port, sizeof(h->client_port));
		port_text(a + 34, h->server_port, sizeof(h->server_port));
	} else {
		*error_r = family == 0x11 || family == 0x21
		               ? "version 2 header too short for its addresses"
		               : "version 2 header for other than TCP over IPv4 or IPv6";
		return PROXY_BAD;
	}
	if (parse_tlvs(a + addr_len, body - addr_len, h) != 0) {
		*error_r = "malformed version 2 TLV";
		return PROXY_BAD;
	}
	h->proxied = true;
	return PROXY_DONE;
}

enum proxy_result proxy_protocol_parse(const unsigned char *data, size_t len,
                                       struct proxy_header *h, const char **error_r)
{
	memset(h, 0, sizeof(*h));
	size_t sig = len < sizeof(v2_signature) ? len : sizeof(v2_signature);
	if (len > 0 && data[0] == v2_signature[0]) {
		if (memcmp(data, v2_signature, sig) != 0) {
			*error_r = "not a PROXY protocol header";
			return PROXY_BAD;
		}
		return parse_v2(data, len, h, error_r);
	}
	static const char v1_start[] = "PROXY ";
	size_t start = len < 6 ? len : 6;
	if (memcmp(data, v1_start, start) != 0) {
		*error_r = "not a PROXY protocol header";
		return PROXY_BAD;
	}
	return parse_v1(data, len, h, error_r);
}

size_t proxy_protocol_v2_wanted(const unsigned char *data, size_t len)
{
	if (len == 0 || data[0] != v2_signature[0])
		return 0;
	if (len < PROXY_V2_FIXED)
		return PROXY_V2_FIXED - len;
	size_t total = PROXY_V2_FIXED + ((size_t)data[14] << 8 | data[15]);
	return total > len ? total - len : 0;
}

/* Wait until fd is readable by the deadline: 1, 0 on timeout, -1 error. */
static int wait_readable(int fd, long long deadline)
{
	for (;;) {
		long long left = deadline - event_now_ms();
		if (left <= 0)
			return 0;
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int rc = poll(&pfd, 1, (int)(left > 60000 ? 60000 : left));
		if (rc > 0)
			return 1;
		if (rc < 0 && errno != EINTR)
			return -1;
	}
}

/* Take up to want bytes (flags: 0 or MSG_PEEK) into buf: the count read,
 * 0 at end of input, -1 on error or timeout (errno ETIMEDOUT). */
static ssize_t take(int fd, unsigned char *buf, size_t want, int flags, long long deadline)
{
	for (;;) {
		int ready = wait_readable(fd, deadline);
		if (ready <= 0) {
			if (ready == 0)
				errno = ETIMEDOUT;
			return -1;
		}
		ssize_t n = recv(fd, buf, want, flags | MSG_DONTWAIT);
		if (n >= 0 || (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK))
			return n;
	}
}

enum proxy_result proxy_protocol_read(int fd, long long timeout_ms, struct proxy_header *h,
                                      const char **error_r)
{
	unsigned char buf[PROXY_V2_FIXED + 65535];
	size_t have = 0;
	long long deadline = event_now_ms() + timeout_ms;
	for (;;) {
		enum proxy_result r = proxy_protocol_parse(buf, have, h, error_r);
		if (r != PROXY_NEED_MORE)
			return r;
		/* What surely belongs to the header: its shortest form first,
		 * then a version 2 header's announced length, then a version 1
		 * header's bytes up to its CRLF (seen by peeking). */
		size_t want = have < PROXY_MIN_LEN ? PROXY_MIN_LEN - have
		                                   : proxy_protocol_v2_wanted(buf, have);
		ssize_t n;
		if (want > 0) {
			n = take(fd, buf + have, want, 0, deadline);
		} else {
			size_t room = PROXY_V1_MAX - have;
			n = take(fd, buf + have, room, MSG_PEEK, deadline);
			if (n > 0) {
				size_t upto = (size_t)n;
				for (size_t i = 0; i < (size_t)n; i++)
					if (buf[have + i] == '\n') {
						upto = i + 1;
						break;
					}
				n = take(fd, buf + have, upto, 0, deadline);
			}
		}
		if (n <= 0) {
			*error_r = n == 0               ? "connection closed in the PROXY header"
			           : errno == ETIMEDOUT ? "timeout reading the PROXY header"
			                                : strerror(errno);
			return PROXY_BAD;
		}
		have += (size_t)n;
	}
}

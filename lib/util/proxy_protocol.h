/*
 * The PROXY protocol header (HAProxy's, versions 1 and 2) that a load
 * balancer sends before anything else on a connection it passes on, as
 * Postfix's smtpd_upstream_proxy_protocol = haproxy and Dovecot's
 * haproxy = yes read it: the real client's address and port, and the
 * address it connected to. No protocol knowledge: smtpd and pop3d both
 * use it. proxy_protocol_parse() is a pure parser (fuzzed);
 * proxy_protocol_read() takes a header off a socket, its bytes and not
 * one more, so that what the client sends next (a command, a TLS
 * handshake) stays in the socket for the server.
 * Of a version 2 header's TLVs (type-length-value extensions after the
 * addresses) only PP2_TYPE_SSL is read: the balancer's word that the
 * client spoke TLS to it, with the protocol version and cipher; the
 * others are skipped, but a TLV that runs past the header is malformed.
 */
#ifndef POSTERN_UTIL_PROXY_PROTOCOL_H
#define POSTERN_UTIL_PROXY_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>

/* A version 1 header is at most this long, CRLF included. */
#define PROXY_V1_MAX 107
/* Every header, of either version, is at least this long. */
#define PROXY_MIN_LEN 15
/* The fixed part of a version 2 header. */
#define PROXY_V2_FIXED 16

struct proxy_header {
	size_t len;   /* the header's bytes, all of them */
	bool proxied; /* false: "UNKNOWN" or LOCAL, the connection's own addresses stand */
	char client_addr[46], client_port[6];
	char server_addr[46], server_port[6];
	/* A version 2 PP2_TYPE_SSL TLV with PP2_CLIENT_SSL: the client
	 * connected to the balancer over TLS (printable ASCII, cut to fit;
	 * empty when the balancer did not say). */
	bool client_tls;
	char tls_version[32], tls_cipher[64];
};

enum proxy_result {
	PROXY_BAD = -1,      /* not a valid header (*error_r says why) */
	PROXY_NEED_MORE = 0, /* a valid start: more bytes are needed */
	PROXY_DONE = 1,      /* *h is filled in; h->len bytes were the header */
};

/* Parse the start of a connection's data. Bytes after the header (there
 * should be none before the greeting) are ignored. */
enum proxy_result proxy_protocol_parse(const unsigned char *data, size_t len,
                                       struct proxy_header *h, const char **error_r);

/* How many more bytes a version 2 header needs, from what arrived (at
 * least PROXY_MIN_LEN bytes of it): exactly, so that a reader takes no
 * byte past the header; 0 for a version 1 header, which ends at its CRLF. */
size_t proxy_protocol_v2_wanted(const unsigned char *data, size_t len);

/* Read a header from the start of the socket fd (blocking or not) within
 * timeout_ms, taking exactly its bytes (a version 1 header's CRLF is
 * found by peeking). PROXY_DONE with *h filled in, or PROXY_BAD with
 * *error_r saying why: not a header, a malformed one, the connection
 * closed in it, the timeout, a socket error. Never PROXY_NEED_MORE. */
enum proxy_result proxy_protocol_read(int fd, long long timeout_ms, struct proxy_header *h,
                                      const char **error_r);

#endif

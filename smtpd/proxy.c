/*
 * smtpd behind a load balancer: with smtpd_upstream_proxy_protocol =
 * haproxy (Postfix's setting) every connection starts with HAProxy's
 * PROXY header, version 1 or 2 (smtp/proxy_protocol.c parses it), which
 * names the real client. It is read from the socket itself, exactly its
 * bytes and no more, before the stream buffers anything, so that the
 * pre-greeting check still sees a client that talks too early. Its
 * addresses replace the socket's: logs, access checks, mynetworks,
 * rate limits, the Received header, milters and policy servers all see
 * the real client. A connection without a valid header within
 * smtpd_upstream_proxy_timeout is logged and closed without a reply (the
 * proxy, not a mail client, is on the other end), as Postfix does.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "smtp/proxy_protocol.h"
#include "smtpd/smtpd.h"
#include "util/event.h"
#include "util/log.h"
#include "util/sock.h"

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

/* Take up to want bytes (flags: 0 or MSG_PEEK) into buf + *have: the
 * count read, 0 at end of input, -1 on error or timeout. */
static ssize_t take(int fd, unsigned char *buf, size_t want, int flags, long long deadline)
{
	int ready = wait_readable(fd, deadline);
	if (ready <= 0) {
		if (ready == 0)
			errno = ETIMEDOUT;
		return -1;
	}
	ssize_t n;
	do
		n = recv(fd, buf, want, flags);
	while (n < 0 && errno == EINTR);
	return n;
}

/* Read the header's bytes, none past it, into buf: its parse result. */
static enum proxy_result read_header(int fd, long long deadline, struct proxy_header *h,
                                     const char **error_r)
{
	unsigned char buf[PROXY_V2_FIXED + 65535];
	size_t have = 0;
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

bool smtpd_read_proxy_header(struct session *s)
{
	struct proxy_header h;
	const char *error = NULL;
	long long deadline = event_now_ms() + s->cfg->upstream_proxy_timeout_ms;
	if (read_header(s->fd, deadline, &h, &error) != PROXY_DONE) {
		log_warn("haproxy read: %s from %s[%s]", error,
		         s->client_name[0] ? s->client_name : "unknown", s->client_addr);
		return false;
	}
	if (!h.proxied)
		return true;
	snprintf(s->client_addr, sizeof(s->client_addr), "%s", h.client_addr);
	snprintf(s->client_port, sizeof(s->client_port), "%s", h.client_port);
	snprintf(s->server_addr, sizeof(s->server_addr), "%s", h.server_addr);
	snprintf(s->server_port, sizeof(s->server_port), "%s", h.server_port);
	return true;
}

int session_server_address(const struct session *s, char *addr, size_t addr_len, char *port,
                           size_t port_len)
{
	if (s->server_addr[0] != '\0') {
		snprintf(addr, addr_len, "%s", s->server_addr);
		snprintf(port, port_len, "%s", s->server_port);
		return 0;
	}
	return sock_local_name(s->fd, addr, addr_len, port, port_len);
}

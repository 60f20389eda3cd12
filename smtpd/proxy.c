/*
 * smtpd behind a load balancer: with smtpd_upstream_proxy_protocol =
 * haproxy (Postfix's setting) every connection starts with HAProxy's
 * PROXY header, version 1 or 2 (util/proxy_protocol.c reads it), which
 * names the real client. It is read from the socket itself, exactly its
 * bytes and no more, before the stream buffers anything, so that the
 * pre-greeting check still sees a client that talks too early. Its
 * addresses replace the socket's: logs, access checks, mynetworks,
 * rate limits, the Received header, milters and policy servers all see
 * the real client. A connection without a valid header within
 * smtpd_upstream_proxy_timeout is logged and closed without a reply (the
 * proxy, not a mail client, is on the other end), as Postfix does.
 */
#include <stdio.h>

#include "smtpd/smtpd.h"
#include "util/log.h"
#include "util/proxy_protocol.h"
#include "util/sock.h"

bool smtpd_read_proxy_header(struct session *s)
{
	struct proxy_header h;
	const char *error = NULL;
	if (proxy_protocol_read(s->fd, s->cfg->upstream_proxy_timeout_ms, &h, &error) !=
	    PROXY_DONE) {
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

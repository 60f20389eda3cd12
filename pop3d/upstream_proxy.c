/*
 * pop3d behind a load balancer: with pop3d_upstream_proxy_protocol =
 * haproxy (Dovecot's "haproxy = yes" listener setting) every connection
 * starts with HAProxy's PROXY header, version 1 or 2, naming the real
 * client; util/proxy_protocol.c reads it. Its addresses replace the
 * socket's everywhere: the connect, TLS, login, disconnect and session
 * end log lines, pop3d_tls_auth_only_exempt, and the client address the
 * auth service is given (and logs). A version 2 LOCAL header (or version
 * 1 UNKNOWN), a balancer's health check, keeps the socket's addresses.
 * A connection without a valid header within pop3d_upstream_proxy_timeout
 * is logged and closed without a reply: the balancer, not a POP3 client,
 * is on the other end.
 * A balancer that terminates TLS (HAProxy's send-proxy-v2-ssl) says so in
 * a version 2 PP2_TYPE_SSL TLV; as Dovecot, such a client counts as on
 * TLS (plain-text logins allowed under pop3d_tls_auth_only, no STLS),
 * and the login and TLS log lines say "(upstream proxy)".
 *
 * Where it is read. The process that accepts (a multi server, main.c)
 * and the session parent it forks per connection (login.c) both run as
 * root and never read a byte from the client; the first process that
 * does is the login child, right after it became pop3d_login_user. So the
 * header is read there, first thing, before the greeting and, on a pop3s
 * service, before the TLS handshake, taking its bytes and not one more:
 * commands pipelined behind it, or the ClientHello, stay in the socket
 * for preauth.c. The untrusted bytes are parsed without privilege; what
 * the root parent gets is a typed record, "client" (see pop3d.h), whose
 * addresses it re-validates (numeric addresses and ports only) and which
 * it accepts as the first record only on a
 * service with the setting, before it logs "connect from" and before any
 * login record. A subverted login child could claim another address, but
 * only there, where anyone reaching the port can claim any address
 * anyway (the port must be reachable by the balancer alone).
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "pop3d/pop3d.h"
#include "util/ipc.h"
#include "util/log.h"
#include "util/proxy_protocol.h"

#define CTL_TIMEOUT_MS 10000

bool upstream_proxy_read(const struct pop3d_settings *cfg, struct pop3d_client *client, int fd,
                         int ctl)
{
	struct proxy_header h;
	const char *error = "";
	if (proxy_protocol_read(fd, cfg->upstream_proxy_timeout_ms, &h, &error) != PROXY_DONE) {
		log_warn("haproxy read: %s from %s", error, client->addr);
		return false;
	}
	struct ipc_rec *rec = ipc_rec_new("client");
	ipc_rec_add_int(rec, "proxied", h.proxied);
	if (h.proxied) {
		snprintf(client->addr, sizeof(client->addr), "%s", h.client_addr);
		snprintf(client->port, sizeof(client->port), "%s", h.client_port);
		snprintf(client->local_addr, sizeof(client->local_addr), "%s", h.server_addr);
		snprintf(client->local_port, sizeof(client->local_port), "%s", h.server_port);
		ipc_rec_add_str(rec, "addr", client->addr);
		ipc_rec_add_str(rec, "port", client->port);
		ipc_rec_add_str(rec, "local_addr", client->local_addr);
		ipc_rec_add_str(rec, "local_port", client->local_port);
		if (h.client_tls) {
			snprintf(client->proxied_tls, sizeof(client->proxied_tls),
			         "%s%s%s (upstream proxy)", *h.tls_version ? h.tls_version : "TLS",
			         *h.tls_cipher ? " with cipher " : "", h.tls_cipher);
			ipc_rec_add_str(rec, "proxied_tls", client->proxied_tls);
		}
	}
	int rc = ipc_write(ctl, rec, CTL_TIMEOUT_MS);
	ipc_rec_free(rec);
	return rc == 0;
}

/* A numeric IPv4 or IPv6 address that fits in size bytes. */
static bool address_ok(const char *text, size_t size)
{
	unsigned char bin[16];
	return text != NULL && strlen(text) < size &&
	       (inet_pton(AF_INET, text, bin) == 1 || inet_pton(AF_INET6, text, bin) == 1);
}

/* The balancer's TLS summary as upstream_proxy_read() built it: printable
 * ASCII that fits in size bytes. */
static bool summary_ok(const char *text, size_t size)
{
	if (strlen(text) >= size)
		return false;
	for (const char *c = text; *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
			return false;
	return true;
}

/* A decimal port, 0 to 65535. */
static bool port_ok(const char *text)
{
	if (text == NULL || *text == '\0' || strlen(text) > 5)
		return false;
	long v = 0;
	for (const char *c = text; *c; c++) {
		if (*c < '0' || *c > '9')
			return false;
		v = v * 10 + (*c - '0');
	}
	return v <= 65535;
}

bool upstream_proxy_client(const struct pop3d_settings *cfg, int ctl, struct pop3d_client *client)
{
	struct ipc_rec *rec = NULL;
	const char *error = "";
	/* The child keeps the deadline; this one only bounds a stuck child. */
	int rc =
	    ipc_read(ctl, &rec, 4096, (int)cfg->upstream_proxy_timeout_ms + CTL_TIMEOUT_MS, &error);
	if (rc != 1)
		return false; /* the login process logged why, or died */
	int64_t proxied = 0;
	const char *addr = ipc_rec_get_str(rec, "addr");
	const char *port = ipc_rec_get_str(rec, "port");
	const char *local_addr = ipc_rec_get_str(rec, "local_addr");
	const char *local_port = ipc_rec_get_str(rec, "local_port");
	const char *proxied_tls = ipc_rec_get_str(rec, "proxied_tls");
	bool ok = ipc_rec_is(rec, "client") && ipc_rec_get_int(rec, "proxied", &proxied);
	if (ok && proxied)
		ok = address_ok(addr, sizeof(client->addr)) && port_ok(port) &&
		     address_ok(local_addr, sizeof(client->local_addr)) && port_ok(local_port) &&
		     (proxied_tls == NULL || summary_ok(proxied_tls, sizeof(client->proxied_tls)));
	if (ok && proxied) {
		snprintf(client->addr, sizeof(client->addr), "%s", addr);
		snprintf(client->port, sizeof(client->port), "%s", port);
		snprintf(client->local_addr, sizeof(client->local_addr), "%s", local_addr);
		snprintf(client->local_port, sizeof(client->local_port), "%s", local_port);
		snprintf(client->proxied_tls, sizeof(client->proxied_tls), "%s",
		         proxied_tls ? proxied_tls : "");
	} else if (!ok) {
		log_warn("%s: malformed client record from the login process", client->addr);
	}
	ipc_rec_free(rec);
	return ok;
}

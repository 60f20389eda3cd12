/*
 * One policy server's connection (policy_client.h). The socket is
 * non-blocking and every wait is a poll with a deadline, so a server that
 * stops reading or answering costs at most the timeout.
 */
#include "policy/policy_client.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/event.h"
#include "util/sock.h"

#define READ_CHUNK 4096

struct policy_client {
	struct policy_endpoint ep;
	int fd;
	int64_t connected_ms; /* when the connection was made */
	int64_t used_ms;      /* when it last answered */
	long long requests;   /* answered on it */
	struct str in;
	char error[512];
};

static const char *client_error(struct policy_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static const char *client_error(struct policy_client *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->error, sizeof(c->error), fmt, ap);
	va_end(ap);
	return c->error;
}

struct policy_client *policy_client_new(const struct policy_endpoint *ep)
{
	struct policy_client *c = xcalloc(1, sizeof(*c));
	c->ep.is_unix = ep->is_unix;
	c->ep.path = ep->path ? xstrdup(ep->path) : NULL;
	c->ep.host = ep->host ? xstrdup(ep->host) : NULL;
	c->ep.port = ep->port ? xstrdup(ep->port) : NULL;
	c->fd = -1;
	return c;
}

void policy_client_close(struct policy_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->requests = 0;
	str_clear(&c->in);
}

void policy_client_free(struct policy_client *c)
{
	if (c == NULL)
		return;
	policy_client_close(c);
	str_free(&c->in);
	policy_endpoint_free(&c->ep);
	free(c);
}

/* Whether a kept connection is still fit for a request: not too old, not
 * idle too long, and neither closed by the server nor holding bytes it
 * sent unasked (which would be read as the next reply). */
static bool reusable(const struct policy_client *c, const struct policy_limits *limits, int64_t now)
{
	if (limits->max_ttl_ms > 0 && now - c->connected_ms >= limits->max_ttl_ms)
		return false;
	if (limits->max_idle_ms > 0 && now - c->used_ms >= limits->max_idle_ms)
		return false;
	if (limits->request_limit > 0 && c->requests >= limits->request_limit)
		return false;
	struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
	return poll(&pfd, 1, 0) == 0;
}

static int connect_server(struct policy_client *c, const struct policy_limits *limits,
                          const char **error_r)
{
	const char *error;
	int timeout = limits->timeout_ms > INT_MAX ? INT_MAX : (int)limits->timeout_ms;
	int fd = c->ep.is_unix ? sock_connect_unix_nonblock(c->ep.path, timeout, &error)
	                       : sock_connect_tcp(c->ep.host, c->ep.port, timeout, &error);
	if (fd < 0) {
		*error_r = client_error(c, "%s", error);
		return -1;
	}
	if (!c->ep.is_unix && sock_set_nonblock(fd, true) != 0) {
		*error_r =
		    client_error(c, "cannot make the socket non-blocking: %s", strerror(errno));
		close(fd);
		return -1;
	}
	c->fd = fd;
	c->connected_ms = event_now_ms();
	c->requests = 0;
	str_clear(&c->in);
	return 0;
}

/* Wait until fd is ready for events, or the deadline: 0, or -1. */
static int wait_for(struct policy_client *c, short events, int64_t deadline, const char **error_r)
{
	for (;;) {
		int64_t left = deadline - event_now_ms();
		if (left <= 0) {
			*error_r = client_error(c, "timeout %s the server",
			                        events == POLLOUT ? "sending to" : "waiting for");
			return -1;
		}
		struct pollfd pfd = {.fd = c->fd, .events = events};
		int rc = poll(&pfd, 1, left > 1000000 ? 1000000 : (int)left);
		if (rc > 0)
			return 0;
		if (rc < 0 && errno != EINTR) {
			*error_r = client_error(c, "poll: %s", strerror(errno));
			return -1;
		}
	}
}

static int send_request(struct policy_client *c, const struct str *request, long long timeout_ms,
                        const char **error_r)
{
	int64_t deadline = event_now_ms() + timeout_ms;
	size_t at = 0;
	while (at < request->len) {
		ssize_t n = send(c->fd, request->data + at, request->len - at, MSG_NOSIGNAL);
		if (n > 0) {
			at += (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_for(c, POLLOUT, deadline, error_r) != 0)
				return -1;
		} else {
			*error_r = client_error(c, "write: %s",
			                        n == 0 ? "nothing written" : strerror(errno));
			return -1;
		}
	}
	return 0;
}

static int read_reply(struct policy_client *c, long long timeout_ms, struct str *action,
                      const char **error_r)
{
	int64_t deadline = event_now_ms() + timeout_ms;
	for (;;) {
		size_t used;
		const char *error;
		int rc = policy_reply_parse(c->in.data, c->in.len, action, &used, &error);
		if (rc < 0) {
			*error_r = client_error(c, "malformed reply: %s", error);
			return -1;
		}
		if (rc == 1) {
			str_consume(&c->in, used);
			return 0;
		}
		char buf[READ_CHUNK];
		ssize_t n = read(c->fd, buf, sizeof(buf));
		if (n > 0) {
			str_append(&c->in, buf, (size_t)n);
		} else if (n == 0) {
			*error_r =
			    client_error(c, "%s",
			                 c->in.len ? "connection closed in the middle of a reply"
			                           : "connection closed by the server");
			return -1;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (wait_for(c, POLLIN, deadline, error_r) != 0)
				return -1;
		} else if (errno != EINTR) {
			*error_r = client_error(c, "read: %s", strerror(errno));
			return -1;
		}
	}
}

int policy_client_ask(struct policy_client *c, const struct str *request,
                      const struct policy_limits *limits, struct str *action, const char **error_r)
{
	if (c->fd >= 0 && !reusable(c, limits, event_now_ms()))
		policy_client_close(c);
	if (c->fd < 0 && connect_server(c, limits, error_r) != 0)
		return -1;
	if (send_request(c, request, limits->timeout_ms, error_r) != 0 ||
	    read_reply(c, limits->timeout_ms, action, error_r) != 0) {
		policy_client_close(c);
		return -1;
	}
	c->requests++;
	c->used_ms = event_now_ms();
	/* More than was asked for: the connection is out of step. */
	if (c->in.len > 0)
		policy_client_close(c);
	return 0;
}

/*
 * A filter's socket: connect with a timeout, write and read with
 * deadlines (milter_conn.h). The socket is non-blocking so that a filter
 * that stops reading cannot block the MTA forever.
 */
#include "milter/milter_conn.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/sock.h"

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int milter_conn_open(struct milter_conn *c, const char *address, long long timeout_ms,
                     const char **error_r)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	int fd;
	if (strncmp(address, "unix:", 5) == 0 || strncmp(address, "local:", 6) == 0) {
		fd = sock_connect_unix(strchr(address, ':') + 1, (int)timeout_ms, error_r);
	} else if (strncmp(address, "inet:", 5) == 0) {
		const char *hp = address + 5;
		const char *colon = strrchr(hp, ':');
		if (colon == NULL) {
			*error_r = "bad inet: address";
			return -1;
		}
		char *host = xstrndup(hp, (size_t)(colon - hp));
		/* [v6addr]:port */
		size_t hl = strlen(host);
		if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
			memmove(host, host + 1, hl - 2);
			host[hl - 2] = '\0';
		}
		fd = sock_connect_tcp(host, colon + 1, (int)timeout_ms, error_r);
		free(host);
	} else {
		*error_r = "unsupported milter address type";
		return -1;
	}
	if (fd < 0)
		return -1;
	if (sock_set_nonblock(fd, true) != 0) {
		close(fd);
		*error_r = "cannot make the socket non-blocking";
		return -1;
	}
	c->fd = fd;
	return 0;
}

void milter_conn_close(struct milter_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	str_free(&c->in);
	c->consumed = 0;
}

static int wait_for(int fd, short events, long long deadline, const char **error_r)
{
	for (;;) {
		long long left = deadline - now_ms();
		if (left <= 0) {
			*error_r = "timeout";
			return -1;
		}
		struct pollfd pfd = {.fd = fd, .events = events};
		int rc = poll(&pfd, 1, left > 1000000 ? 1000000 : (int)left);
		if (rc > 0)
			return 0;
		if (rc < 0 && errno != EINTR) {
			*error_r = "poll failed";
			return -1;
		}
	}
}

int milter_conn_send(struct milter_conn *c, const struct str *packets, long long timeout_ms,
                     const char **error_r)
{
	long long deadline = now_ms() + timeout_ms;
	size_t at = 0;
	while (at < packets->len) {
		ssize_t n = send(c->fd, packets->data + at, packets->len - at, MSG_NOSIGNAL);
		if (n > 0) {
			at += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_for(c->fd, POLLOUT, deadline, error_r) != 0)
				return -1;
			continue;
		}
		*error_r = errno == EPIPE || errno == ECONNRESET ? "connection closed by the filter"
		                                                 : "write error";
		return -1;
	}
	return 0;
}

int milter_conn_read(struct milter_conn *c, struct milter_packet *p, long long timeout_ms,
                     const char **error_r)
{
	str_consume(&c->in, c->consumed);
	c->consumed = 0;
	long long deadline = now_ms() + timeout_ms;
	for (;;) {
		size_t used;
		int rc = milter_packet_split(c->in.data, c->in.len, MILTER_MAX_PACKET, p, &used,
		                             error_r);
		if (rc < 0)
			return -1;
		if (rc == 1) {
			c->consumed = used;
			return 0;
		}
		char buf[65536];
		ssize_t n = read(c->fd, buf, sizeof(buf));
		if (n > 0) {
			str_append(&c->in, buf, (size_t)n);
			continue;
		}
		if (n == 0) {
			*error_r = c->in.len ? "connection closed by the filter in a reply"
			                     : "connection closed by the filter";
			return -1;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			*error_r = "read error";
			return -1;
		}
		if (wait_for(c->fd, POLLIN, deadline, error_r) != 0)
			return -1;
	}
}

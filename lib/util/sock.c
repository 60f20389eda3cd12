/*
 * Socket helpers: TCP and UNIX listeners and connections, flags, peer
 * names and descriptor passing.
 */
#include "util/sock.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/alloc.h"

static char sock_error[2048];

static const char *errorf(const char *fmt, const char *a, const char *b)
{
	snprintf(sock_error, sizeof(sock_error), fmt, a, b);
	return sock_error;
}

int sock_split_hostport(const char *spec, char **host_r, char **port_r, const char **error_r)
{
	*host_r = NULL;
	*port_r = NULL;
	const char *port;
	char *host = NULL;
	if (spec[0] == '[') {
		const char *close = strchr(spec, ']');
		if (close == NULL || close[1] != ':' || close == spec + 1) {
			*error_r =
			    errorf("bad address \"%s\"%s: expected [address]:port", spec, "");
			return -1;
		}
		host = xstrndup(spec + 1, (size_t)(close - spec - 1));
		port = close + 2;
	} else {
		const char *colon = strrchr(spec, ':');
		if (colon && strchr(spec, ':') != colon) {
			*error_r = errorf("bad address \"%s\"%s: put IPv6 addresses in brackets",
			                  spec, "");
			return -1;
		}
		if (colon) {
			if (colon == spec) {
				*error_r = errorf("bad address \"%s\"%s: empty host", spec, "");
				return -1;
			}
			host = xstrndup(spec, (size_t)(colon - spec));
			port = colon + 1;
		} else {
			port = spec;
		}
	}
	if (*port == '\0' || strpbrk(port, " \t/[]:") != NULL) {
		free(host);
		*error_r = errorf("bad address \"%s\"%s: missing or bad port", spec, "");
		return -1;
	}
	if (host && strcmp(host, "*") == 0) {
		free(host);
		host = NULL;
	}
	*host_r = host;
	*port_r = xstrdup(port);
	return 0;
}

int sock_set_nonblock(int fd, bool on)
{
	int flags = fcntl(fd, F_GETFL);
	if (flags < 0)
		return -1;
	flags = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
	return fcntl(fd, F_SETFL, flags);
}

int sock_set_cloexec(int fd, bool on)
{
	int flags = fcntl(fd, F_GETFD);
	if (flags < 0)
		return -1;
	flags = on ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC;
	return fcntl(fd, F_SETFD, flags);
}

int sock_listen_tcp(const char *host, const char *port, int backlog, int *fds_r, int max_fds,
                    const char **error_r)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
	struct addrinfo *res = NULL;
	if (host && strcmp(host, "*") == 0)
		host = NULL;
	int gai = getaddrinfo(host, port, &hints, &res);
	if (gai != 0) {
		*error_r = errorf("%s: %s", port, gai_strerror(gai));
		return -1;
	}
	int count = 0;
	const char *last_error = "no usable address";
	char last_buf[1400];
	for (struct addrinfo *ai = res; ai && count < max_fds; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			if (errno == EAFNOSUPPORT)
				continue;
			snprintf(last_buf, sizeof(last_buf), "socket: %s", strerror(errno));
			last_error = last_buf;
			continue;
		}
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, backlog) != 0) {
			char name[NI_MAXHOST] = "?";
			getnameinfo(ai->ai_addr, ai->ai_addrlen, name, sizeof(name), NULL, 0,
			            NI_NUMERICHOST);
			snprintf(last_buf, sizeof(last_buf), "bind %s port %s: %s", name, port,
			         strerror(errno));
			last_error = last_buf;
			close(fd);
			if (errno == EADDRNOTAVAIL && host == NULL)
				continue; /* e.g. no IPv6 on this host */
			for (int i = 0; i < count; i++)
				close(fds_r[i]);
			freeaddrinfo(res);
			*error_r = errorf("%s%s", last_error, "");
			return -1;
		}
		fds_r[count++] = fd;
	}
	freeaddrinfo(res);
	if (count == 0) {
		*error_r = errorf("%s%s", last_error, "");
		return -1;
	}
	return count;
}

static int unix_address(const char *path, struct sockaddr_un *sun, const char **error_r)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path)) {
		*error_r = errorf("socket path too long: %s%s", path, "");
		return -1;
	}
	memcpy(sun->sun_path, path, strlen(path));
	return 0;
}

int sock_listen_unix(const char *path, int mode, int backlog, const char **error_r)
{
	struct sockaddr_un sun;
	if (unix_address(path, &sun, error_r) != 0)
		return -1;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*error_r = errorf("socket %s: %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	mode_t old = umask(0777 & ~(mode_t)mode);
	int rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc != 0 || chmod(path, (mode_t)mode) != 0 || listen(fd, backlog) != 0) {
		*error_r = errorf("listen on %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Finish a non-blocking connect within timeout_ms; 0 or -1 with errno. */
static int connect_wait(int fd, const struct sockaddr *addr, socklen_t len, int timeout_ms)
{
	if (sock_set_nonblock(fd, true) != 0)
		return -1;
	if (connect(fd, addr, len) != 0) {
		if (errno != EINPROGRESS && errno != EAGAIN)
			return -1;
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		int n;
		do
			n = poll(&pfd, 1, timeout_ms);
		while (n < 0 && errno == EINTR);
		if (n == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (n < 0)
			return -1;
		int err = 0;
		socklen_t elen = sizeof(err);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0)
			return -1;
		if (err != 0) {
			errno = err;
			return -1;
		}
	}
	return sock_set_nonblock(fd, false);
}

int sock_connect_tcp(const char *host, const char *port, int timeout_ms, const char **error_r)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL;
	int gai = getaddrinfo(host, port, &hints, &res);
	if (gai != 0) {
		*error_r = errorf("%s: %s", host, gai_strerror(gai));
		return -1;
	}
	int fd = -1;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect_wait(fd, ai->ai_addr, ai->ai_addrlen, timeout_ms) == 0)
			break;
		*error_r = errorf("connect to %s: %s", host, strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

int sock_connect_unix(const char *path, int timeout_ms, const char **error_r)
{
	struct sockaddr_un sun;
	if (unix_address(path, &sun, error_r) != 0)
		return -1;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*error_r = errorf("socket %s: %s", path, strerror(errno));
		return -1;
	}
	if (connect_wait(fd, (struct sockaddr *)&sun, sizeof(sun), timeout_ms) != 0) {
		*error_r = errorf("connect to %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int sock_accept(int listen_fd)
{
	return accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
}

static int name_of(int fd, bool peer, char *addr, size_t addr_len, char *port, size_t port_len)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int rc = peer ? getpeername(fd, (struct sockaddr *)&ss, &len)
	              : getsockname(fd, (struct sockaddr *)&ss, &len);
	if (rc != 0)
		return -1;
	if (ss.ss_family == AF_UNIX) {
		const struct sockaddr_un *sun = (const struct sockaddr_un *)&ss;
		snprintf(addr, addr_len, "%s",
		         len > offsetof(struct sockaddr_un, sun_path) && sun->sun_path[0]
		             ? sun->sun_path
		             : "unix");
		if (port_len)
			port[0] = '\0';
		return 0;
	}
	char a[NI_MAXHOST], p[NI_MAXSERV];
	if (getnameinfo((struct sockaddr *)&ss, len, a, sizeof(a), p, sizeof(p),
	                NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		return -1;
	/* An IPv4 client on an IPv6 socket: show the IPv4 address. */
	const char *shown = strncmp(a, "::ffff:", 7) == 0 && strchr(a + 7, '.') ? a + 7 : a;
	snprintf(addr, addr_len, "%s", shown);
	snprintf(port, port_len, "%s", p);
	return 0;
}

int sock_peer_name(int fd, char *addr, size_t addr_len, char *port, size_t port_len)
{
	return name_of(fd, true, addr, addr_len, port, port_len);
}

int sock_local_name(int fd, char *addr, size_t addr_len, char *port, size_t port_len)
{
	return name_of(fd, false, addr, addr_len, port, port_len);
}

ssize_t sock_send_fd(int sock, int fd, const void *data, size_t len)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	memset(&control, 0, sizeof(control));
	struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
	struct msghdr msg = {.msg_iov = &iov,
	                     .msg_iovlen = 1,
	                     .msg_control = control.buf,
	                     .msg_controllen = sizeof(control.buf)};
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	ssize_t n;
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n;
}

ssize_t sock_recv_fd(int sock, int *fd_r, void *data, size_t len)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct iovec iov = {.iov_base = data, .iov_len = len};
	struct msghdr msg = {.msg_iov = &iov,
	                     .msg_iovlen = 1,
	                     .msg_control = control.buf,
	                     .msg_controllen = sizeof(control.buf)};
	*fd_r = -1;
	ssize_t n;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(fd_r, CMSG_DATA(c), sizeof(int));
	}
	return n;
}

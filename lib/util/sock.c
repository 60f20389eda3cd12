/*
 * Socket helpers: TCP and UNIX listeners and connections, flags, peer
 * names and descriptor passing.
 */
#include "util/sock.h"
#include "util/event.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "util/alloc.h"

static _Thread_local char sock_error[1024]; /* per thread, as errno */

static const char *errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Format an error message into the module's static buffer. */
static const char *errorf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(sock_error, sizeof(sock_error), fmt, ap);
	va_end(ap);
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
			*error_r = errorf("bad address \"%s\": expected [address]:port", spec);
			return -1;
		}
		host = xstrndup(spec + 1, (size_t)(close - spec - 1));
		port = close + 2;
	} else {
		const char *colon = strrchr(spec, ':');
		if (colon && strchr(spec, ':') != colon) {
			*error_r =
			    errorf("bad address \"%s\": put IPv6 addresses in brackets", spec);
			return -1;
		}
		if (colon) {
			if (colon == spec) {
				*error_r = errorf("bad address \"%s\": empty host", spec);
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
		*error_r = errorf("bad address \"%s\": missing or bad port", spec);
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

/* A printable form of a socket address, for error messages. */
static const char *addr_text(const struct addrinfo *ai, char *buf, size_t len)
{
	if (getnameinfo(ai->ai_addr, ai->ai_addrlen, buf, (socklen_t)len, NULL, 0,
	                NI_NUMERICHOST) != 0)
		snprintf(buf, len, "?");
	return buf;
}

/* One listening socket for ai; -1 with errno. */
static int listen_one(const struct addrinfo *ai, int backlog)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		return -1;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, backlog) != 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* Whether a failure to listen only means that the host lacks this address
 * family (or, for EADDRNOTAVAIL, that family's wildcard address). */
static bool family_missing(int err)
{
	return err == EAFNOSUPPORT || err == EPROTONOSUPPORT || err == EADDRNOTAVAIL;
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
		*error_r = errorf("%s port %s: %s", host ? host : "*", port, gai_strerror(gai));
		return -1;
	}
	int count = 0;
	*error_r = errorf("%s port %s: no usable address", host ? host : "*", port);
	for (struct addrinfo *ai = res; ai && count < max_fds; ai = ai->ai_next) {
		int fd = listen_one(ai, backlog);
		if (fd >= 0) {
			fds_r[count++] = fd;
			continue;
		}
		int err = errno;
		char name[NI_MAXHOST];
		*error_r = errorf("listen on %s port %s: %s", addr_text(ai, name, sizeof(name)),
		                  port, strerror(err));
		if (family_missing(err) && (host == NULL || err != EADDRNOTAVAIL))
			continue; /* e.g. no IPv6 on this host */
		for (int i = 0; i < count; i++)
			close(fds_r[i]);
		freeaddrinfo(res);
		return -1;
	}
	freeaddrinfo(res);
	return count > 0 ? count : -1;
}

static int unix_address(const char *path, struct sockaddr_un *sun, const char **error_r)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path)) {
		*error_r = errorf("socket path too long: %s", path);
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
	/* Only an old socket is removed, never another kind of file. */
	struct stat st;
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	/* The socket never exists with wider permissions than mode. */
	mode_t old = umask(0777 & ~(mode_t)mode);
	int rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc != 0) {
		*error_r = errorf("bind %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (chmod(path, (mode_t)mode) != 0 || listen(fd, backlog) != 0) {
		*error_r = errorf("listen on %s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	return fd;
}

/* Wait until fd is writable, at most timeout_ms (-1: no limit); 0 or -1
 * with errno (ETIMEDOUT). */
static int wait_writable(int fd, int timeout_ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLOUT};
	int n;
	do
		n = poll(&pfd, 1, timeout_ms);
	while (n < 0 && errno == EINTR);
	if (n == 0)
		errno = ETIMEDOUT;
	return n > 0 ? 0 : -1;
}

/* Connect a non-blocking fd, retrying while a UNIX listener's backlog is
 * full (EAGAIN), until deadline; 0, 1 (in progress) or -1 with errno. */
static int start_connect(int fd, const struct sockaddr *addr, socklen_t len, int64_t deadline)
{
	for (;;) {
		if (connect(fd, addr, len) == 0)
			return 0;
		if (errno == EINPROGRESS)
			return 1;
		if (errno != EAGAIN && errno != EINTR)
			return -1;
		if (deadline >= 0 && event_now_ms() >= deadline) {
			errno = ETIMEDOUT;
			return -1;
		}
		poll(NULL, 0, 10);
	}
}

/* Connect fd (made with SOCK_NONBLOCK) within timeout_ms; with blocking,
 * make it blocking again. 0 or -1 with errno. */
static int connect_wait(int fd, const struct sockaddr *addr, socklen_t len, int timeout_ms,
                        bool blocking)
{
	int64_t deadline = timeout_ms >= 0 ? event_now_ms() + timeout_ms : -1;
	int rc = start_connect(fd, addr, len, deadline);
	if (rc < 0)
		return -1;
	if (rc > 0) {
		int64_t left = deadline < 0 ? -1 : deadline - event_now_ms();
		if (wait_writable(fd, deadline >= 0 && left < 0 ? 0 : (int)left) != 0)
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
	/* A fresh socket has no other status flag to keep: no F_GETFL. */
	return blocking ? fcntl(fd, F_SETFL, 0) : 0;
}

int sock_connect_tcp(const char *host, const char *port, int timeout_ms, const char **error_r)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL;
	const char *shown = host ? host : "localhost";
	int gai = getaddrinfo(host, port, &hints, &res);
	if (gai != 0) {
		*error_r = errorf("%s port %s: %s", shown, port, gai_strerror(gai));
		return -1;
	}
	/* Each address gets the whole timeout: one dead address must not use
	 * up the time of the ones after it. */
	int fd = -1;
	*error_r = errorf("connect to %s port %s: no usable address", shown, port);
	for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		            ai->ai_protocol);
		if (fd >= 0 && connect_wait(fd, ai->ai_addr, ai->ai_addrlen, timeout_ms, true) == 0)
			break;
		int err = errno;
		char name[NI_MAXHOST];
		*error_r = errorf("connect to %s[%s] port %s: %s", shown,
		                  addr_text(ai, name, sizeof(name)), port, strerror(err));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

static int connect_unix(const char *path, int timeout_ms, bool blocking, const char **error_r)
{
	struct sockaddr_un sun;
	if (unix_address(path, &sun, error_r) != 0)
		return -1;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*error_r = errorf("socket %s: %s", path, strerror(errno));
		return -1;
	}
	if (connect_wait(fd, (struct sockaddr *)&sun, sizeof(sun), timeout_ms, blocking) != 0) {
		int err = errno;
		*error_r = errorf("connect to %s: %s", path, strerror(err));
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

int sock_connect_unix(const char *path, int timeout_ms, const char **error_r)
{
	return connect_unix(path, timeout_ms, true, error_r);
}

int sock_connect_unix_nonblock(const char *path, int timeout_ms, const char **error_r)
{
	return connect_unix(path, timeout_ms, false, error_r);
}

int sock_accept(int listen_fd)
{
	int fd;
	do
		fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	return fd;
}

/* The path of a UNIX socket address of len bytes, or "unix" when unnamed
 * or abstract. sun_path need not be NUL-terminated. */
static void unix_name(const struct sockaddr_un *sun, socklen_t len, char *addr, size_t addr_len)
{
	size_t off = offsetof(struct sockaddr_un, sun_path);
	size_t max = len > off ? len - off : 0;
	if (max > sizeof(sun->sun_path))
		max = sizeof(sun->sun_path);
	size_t n = strnlen(sun->sun_path, max);
	if (n == 0)
		snprintf(addr, addr_len, "unix");
	else
		snprintf(addr, addr_len, "%.*s", (int)n, sun->sun_path);
}

static int name_of(int fd, bool peer, char *addr, size_t addr_len, char *port, size_t port_len)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	memset(&ss, 0, sizeof(ss));
	int rc = peer ? getpeername(fd, (struct sockaddr *)&ss, &len)
	              : getsockname(fd, (struct sockaddr *)&ss, &len);
	if (rc != 0)
		return -1;
	if (ss.ss_family == AF_UNIX) {
		unix_name((const struct sockaddr_un *)&ss, len, addr, addr_len);
		snprintf(port, port_len, "%s", "");
		return 0;
	}
	if (ss.ss_family != AF_INET && ss.ss_family != AF_INET6) {
		errno = EAFNOSUPPORT;
		return -1;
	}
	char a[NI_MAXHOST], p[NI_MAXSERV];
	int gai = getnameinfo((struct sockaddr *)&ss, len, a, sizeof(a), p, sizeof(p),
	                      NI_NUMERICHOST | NI_NUMERICSERV);
	if (gai != 0) {
		errno = EINVAL;
		return -1;
	}
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
	if (len == 0) {
		errno = EINVAL; /* a stream peer could not tell it from end of file */
		return -1;
	}
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

/* Take the first descriptor of an SCM_RIGHTS message into *fd_r (unless one
 * was taken already) and close any others, so none leaks. */
static void take_fds(const struct cmsghdr *c, int *fd_r)
{
	size_t bytes = c->cmsg_len - CMSG_LEN(0);
	const unsigned char *p = CMSG_DATA(c);
	for (size_t i = 0; i + sizeof(int) <= bytes; i += sizeof(int)) {
		int fd;
		memcpy(&fd, p + i, sizeof(int));
		if (*fd_r < 0)
			*fd_r = fd;
		else
			close(fd);
	}
}

ssize_t sock_recv_fd(int sock, int *fd_r, void *data, size_t len)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(4 * sizeof(int))];
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
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			take_fds(c, fd_r);
	}
	return n;
}

/* Unit tests for util/sock: TCP and UNIX listeners and connections, names,
 * timeouts and refusals, descriptor passing, and host:port parsing. */
#include "util/sock.h"
#include "util/testing.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

static int64_t now_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static bool is_cloexec(int fd)
{
	return (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0;
}

static bool is_nonblock(int fd)
{
	return (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0;
}

/* Listen on host port 0, connect to it and check both ends; false if
 * listening failed (the family may be missing). */
static bool tcp_round_trip(const char *host, const char *expect_addr)
{
	const char *error = NULL;
	int lfd;
	int n = sock_listen_tcp(host, "0", 5, &lfd, 1, &error);
	if (n != 1)
		return false;
	CHECK(is_cloexec(lfd));
	char addr[64], port[16];
	CHECK(sock_local_name(lfd, addr, sizeof(addr), port, sizeof(port)) == 0);
	CHECK_STR(addr, expect_addr);
	CHECK(atoi(port) > 0);

	int cfd = sock_connect_tcp(host, port, 1000, &error);
	CHECK(cfd >= 0);
	if (cfd < 0) {
		fprintf(stderr, "connect: %s\n", error);
		close(lfd);
		return true;
	}
	CHECK(!is_nonblock(cfd));
	CHECK(is_cloexec(cfd));
	int afd = sock_accept(lfd);
	CHECK(afd >= 0);
	CHECK(is_cloexec(afd));

	char caddr[64], cport[16];
	CHECK(sock_local_name(cfd, caddr, sizeof(caddr), cport, sizeof(cport)) == 0);
	CHECK(sock_peer_name(afd, addr, sizeof(addr), port, sizeof(port)) == 0);
	CHECK_STR(addr, expect_addr);
	CHECK_STR(port, cport);

	CHECK(write(cfd, "ping", 4) == 4);
	char buf[8] = "";
	CHECK(read(afd, buf, sizeof(buf)) == 4 && memcmp(buf, "ping", 4) == 0);

	/* No connection waiting: a non-blocking accept says EAGAIN. */
	CHECK(sock_set_nonblock(lfd, true) == 0);
	CHECK(is_nonblock(lfd));
	errno = 0;
	CHECK(sock_accept(lfd) == -1 && errno == EAGAIN);
	CHECK(sock_set_nonblock(lfd, false) == 0);
	CHECK(!is_nonblock(lfd));
	CHECK(sock_set_cloexec(lfd, false) == 0 && !is_cloexec(lfd));
	CHECK(sock_set_cloexec(lfd, true) == 0 && is_cloexec(lfd));

	close(afd);
	close(cfd);
	close(lfd);
	return true;
}

TEST(tcp_ipv4)
{
	CHECK(tcp_round_trip("127.0.0.1", "127.0.0.1"));
}

TEST(tcp_ipv6)
{
	if (!tcp_round_trip("::1", "::1"))
		printf("skip IPv6: ::1 not available\n");
}

TEST(tcp_wildcard)
{
	const char *error = NULL;
	int fds[4];
	const char *hosts[] = {NULL, "*"};
	for (int h = 0; h < 2; h++) {
		int n = sock_listen_tcp(hosts[h], "0", 5, fds, 4, &error);
		CHECK(n >= 1 && n <= 2);
		for (int i = 0; i < n; i++) {
			struct sockaddr_storage ss;
			socklen_t len = sizeof(ss);
			CHECK(getsockname(fds[i], (struct sockaddr *)&ss, &len) == 0);
			if (ss.ss_family == AF_INET6) {
				int v6only = 0;
				socklen_t olen = sizeof(v6only);
				CHECK(getsockopt(fds[i], IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
				                 &olen) == 0);
				CHECK(v6only == 1);
			}
			char addr[64], port[16];
			CHECK(sock_local_name(fds[i], addr, sizeof(addr), port, sizeof(port)) == 0);
			CHECK(strcmp(addr, "0.0.0.0") == 0 || strcmp(addr, "::") == 0);
			close(fds[i]);
		}
	}
	/* max_fds limits how many are made. */
	CHECK(sock_listen_tcp(NULL, "0", 5, fds, 1, &error) == 1);
	close(fds[0]);
}

TEST(tcp_listen_errors)
{
	const char *error = NULL;
	int fds[2];
	CHECK(sock_listen_tcp("127.0.0.1", "no-such-service-x", 5, fds, 2, &error) == -1);
	CHECK(error != NULL && strstr(error, "no-such-service-x") != NULL);

	/* A port already taken. */
	CHECK(sock_listen_tcp("127.0.0.1", "0", 5, fds, 1, &error) == 1);
	char addr[64], port[16];
	CHECK(sock_local_name(fds[0], addr, sizeof(addr), port, sizeof(port)) == 0);
	error = NULL;
	CHECK(sock_listen_tcp("127.0.0.1", port, 5, fds + 1, 1, &error) == -1);
	CHECK(error != NULL && strstr(error, "in use") != NULL);
	close(fds[0]);

	/* An address this host does not have. */
	error = NULL;
	CHECK(sock_listen_tcp("192.0.2.1", "0", 5, fds, 1, &error) == -1);
	CHECK(error != NULL && strstr(error, "192.0.2.1") != NULL);
}

TEST(tcp_connect_refused)
{
	const char *error = NULL;
	int lfd;
	CHECK(sock_listen_tcp("127.0.0.1", "0", 5, &lfd, 1, &error) == 1);
	char addr[64], port[16];
	CHECK(sock_local_name(lfd, addr, sizeof(addr), port, sizeof(port)) == 0);
	close(lfd); /* now nobody listens on that port */
	error = NULL;
	CHECK(sock_connect_tcp("127.0.0.1", port, 1000, &error) == -1);
	CHECK(error != NULL && strstr(error, "refused") != NULL);

	error = NULL;
	CHECK(sock_connect_tcp("127.0.0.1", "no-such-service-x", 1000, &error) == -1);
	CHECK(error != NULL);
}

/* A listener that never accepts and has a full queue drops new SYNs, so a
 * connect to it can only time out. */
TEST(tcp_connect_timeout)
{
	const char *error = NULL;
	int lfd;
	CHECK(sock_listen_tcp("127.0.0.1", "0", 0, &lfd, 1, &error) == 1);
	char addr[64], port[16];
	CHECK(sock_local_name(lfd, addr, sizeof(addr), port, sizeof(port)) == 0);
	int conns[8];
	int nconns = 0;
	bool timed_out = false;
	for (int i = 0; i < 8 && !timed_out; i++) {
		error = NULL;
		int64_t start = now_ms();
		int fd = sock_connect_tcp("127.0.0.1", port, 150, &error);
		int64_t took = now_ms() - start;
		if (fd >= 0) {
			conns[nconns++] = fd;
			continue;
		}
		CHECK(error != NULL && strstr(error, "timed out") != NULL);
		CHECK(took >= 140 && took < 1000);
		timed_out = true;
	}
	CHECK(timed_out);
	for (int i = 0; i < nconns; i++)
		close(conns[i]);
	close(lfd);
}

static char tmpdir[64];

static void make_tmpdir(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_sock.XXXXXX");
	CHECK(mkdtemp(tmpdir) != NULL);
}

TEST(unix_sockets)
{
	make_tmpdir();
	char path[128];
	snprintf(path, sizeof(path), "%s/s", tmpdir);
	const char *error = NULL;
	int lfd = sock_listen_unix(path, 0620, 5, &error);
	CHECK(lfd >= 0);
	CHECK(is_cloexec(lfd));
	struct stat st;
	CHECK(lstat(path, &st) == 0 && S_ISSOCK(st.st_mode));
	CHECK((st.st_mode & 07777) == 0620);

	int cfd = sock_connect_unix(path, 1000, &error);
	CHECK(cfd >= 0);
	CHECK(!is_nonblock(cfd) && is_cloexec(cfd));
	int afd = sock_accept(lfd);
	CHECK(afd >= 0 && is_cloexec(afd));

	/* The client is unnamed; the listener has the path. */
	char addr[128], port[16] = "x";
	CHECK(sock_peer_name(afd, addr, sizeof(addr), port, sizeof(port)) == 0);
	CHECK_STR(addr, "unix");
	CHECK_STR(port, "");
	CHECK(sock_local_name(lfd, addr, sizeof(addr), port, sizeof(port)) == 0);
	CHECK_STR(addr, path);
	CHECK(sock_peer_name(cfd, addr, sizeof(addr), port, sizeof(port)) == 0);
	CHECK_STR(addr, path);
	/* A short buffer is truncated, never overrun. */
	char tiny[4];
	CHECK(sock_local_name(lfd, tiny, sizeof(tiny), port, sizeof(port)) == 0);
	CHECK(strlen(tiny) == 3);
	close(afd);
	close(cfd);

	/* The non-blocking variant: connected, and left non-blocking. */
	cfd = sock_connect_unix_nonblock(path, 1000, &error);
	CHECK(cfd >= 0);
	CHECK(is_nonblock(cfd) && is_cloexec(cfd));
	afd = sock_accept(lfd);
	CHECK(afd >= 0);
	CHECK(write(cfd, "x", 1) == 1);
	char c = 0;
	CHECK(read(afd, &c, 1) == 1 && c == 'x');
	close(afd);
	close(cfd);
	close(lfd);

	/* The stale socket file left behind is replaced. */
	lfd = sock_listen_unix(path, 0600, 5, &error);
	CHECK(lfd >= 0);
	CHECK(lstat(path, &st) == 0 && (st.st_mode & 07777) == 0600);
	close(lfd);
	unlink(path);

	/* Nobody listening. */
	error = NULL;
	CHECK(sock_connect_unix(path, 1000, &error) == -1);
	CHECK(error != NULL && strstr(error, path) != NULL);
	error = NULL;
	CHECK(sock_connect_unix_nonblock(path, 1000, &error) == -1);
	CHECK(error != NULL && strstr(error, path) != NULL);

	/* A regular file is never removed to make room. */
	char file[128];
	snprintf(file, sizeof(file), "%s/f", tmpdir);
	int ffd = open(file, O_CREAT | O_WRONLY, 0600);
	CHECK(ffd >= 0);
	close(ffd);
	error = NULL;
	CHECK(sock_listen_unix(file, 0600, 5, &error) == -1);
	CHECK(error != NULL);
	CHECK(lstat(file, &st) == 0 && S_ISREG(st.st_mode));
	unlink(file);

	/* A path longer than sun_path. */
	char longpath[300];
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	error = NULL;
	CHECK(sock_listen_unix(longpath, 0600, 5, &error) == -1);
	CHECK(error != NULL && strstr(error, "too long") != NULL);
	error = NULL;
	CHECK(sock_connect_unix(longpath, 100, &error) == -1);
	CHECK(error != NULL);
	rmdir(tmpdir);
}

/* A UNIX listener with a full queue: the connect waits, then times out. */
TEST(unix_connect_timeout)
{
	make_tmpdir();
	char path[128];
	snprintf(path, sizeof(path), "%s/s", tmpdir);
	const char *error = NULL;
	int lfd = sock_listen_unix(path, 0600, 0, &error);
	CHECK(lfd >= 0);
	int conns[8];
	int nconns = 0;
	bool timed_out = false;
	for (int i = 0; i < 8 && !timed_out; i++) {
		int64_t start = now_ms();
		int fd = sock_connect_unix(path, 150, &error);
		int64_t took = now_ms() - start;
		if (fd >= 0) {
			conns[nconns++] = fd;
			continue;
		}
		CHECK(strstr(error, "timed out") != NULL);
		CHECK(took >= 140 && took < 1000);
		timed_out = true;
	}
	CHECK(timed_out);
	for (int i = 0; i < nconns; i++)
		close(conns[i]);
	close(lfd);
	unlink(path);
	rmdir(tmpdir);
}

static int count_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (d == NULL)
		return -1;
	int n = 0;
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

TEST(fd_passing)
{
	int sv[2], p[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK(pipe(p) == 0);
	CHECK(sock_send_fd(sv[0], p[0], "r", 1) == 1);
	close(p[0]);

	int fd = -2;
	char buf[8];
	CHECK(sock_recv_fd(sv[1], &fd, buf, sizeof(buf)) == 1);
	CHECK(buf[0] == 'r');
	CHECK(fd >= 0);
	CHECK(is_cloexec(fd));
	CHECK(write(p[1], "hello", 5) == 5);
	char data[8] = "";
	CHECK(read(fd, data, sizeof(data)) == 5 && memcmp(data, "hello", 5) == 0);
	close(fd);
	close(p[1]);

	/* A message without a descriptor. */
	CHECK(write(sv[0], "plain", 5) == 5);
	fd = -2;
	CHECK(sock_recv_fd(sv[1], &fd, buf, sizeof(buf)) == 5);
	CHECK(fd == -1);

	/* An empty payload is refused; a bad descriptor fails. */
	errno = 0;
	CHECK(sock_send_fd(sv[0], 0, "", 0) == -1 && errno == EINVAL);
	CHECK(sock_send_fd(sv[0], -1, "x", 1) == -1);

	/* Extra descriptors in one message are closed, not leaked. */
	int before = count_open_fds();
	int fds[2] = {p[0], p[1]};
	CHECK(pipe(fds) == 0);
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(2 * sizeof(int))];
	} control;
	memset(&control, 0, sizeof(control));
	struct iovec iov = {.iov_base = "2", .iov_len = 1};
	struct msghdr msg = {.msg_iov = &iov,
	                     .msg_iovlen = 1,
	                     .msg_control = control.buf,
	                     .msg_controllen = sizeof(control.buf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(2 * sizeof(int));
	memcpy(CMSG_DATA(c), fds, sizeof(fds));
	CHECK(sendmsg(sv[0], &msg, 0) == 1);
	close(fds[0]);
	close(fds[1]);
	CHECK(count_open_fds() == before);
	CHECK(sock_recv_fd(sv[1], &fd, buf, sizeof(buf)) == 1);
	CHECK(fd >= 0);
	CHECK(count_open_fds() == before + 1);
	close(fd);

	/* End of file. */
	close(sv[0]);
	CHECK(sock_recv_fd(sv[1], &fd, buf, sizeof(buf)) == 0 && fd == -1);
	close(sv[1]);
	CHECK(sock_recv_fd(sv[1], &fd, buf, sizeof(buf)) == -1);
}

static void check_split(const char *spec, const char *host, const char *port)
{
	char *h = (char *)"unset", *p = (char *)"unset";
	const char *error = NULL;
	CHECK(sock_split_hostport(spec, &h, &p, &error) == 0);
	if (host == NULL)
		CHECK(h == NULL);
	else
		CHECK_STR(h, host);
	CHECK_STR(p, port);
	free(h);
	free(p);
}

static void check_split_bad(const char *spec)
{
	char *h = (char *)"unset", *p = (char *)"unset";
	const char *error = NULL;
	CHECK(sock_split_hostport(spec, &h, &p, &error) == -1);
	CHECK(h == NULL && p == NULL);
	CHECK(error != NULL && strstr(error, "bad address") != NULL);
	if (error == NULL || strstr(error, "bad address") == NULL)
		fprintf(stderr, "  for \"%s\"\n", spec);
}

TEST(split_hostport)
{
	check_split("25", NULL, "25");
	check_split("smtp", NULL, "smtp");
	check_split("127.0.0.1:2525", "127.0.0.1", "2525");
	check_split("[::1]:25", "::1", "25");
	check_split("[2001:db8::1]:submission", "2001:db8::1", "submission");
	check_split("*:25", NULL, "25");
	check_split("localhost:smtp", "localhost", "smtp");

	check_split_bad("");
	check_split_bad("[::1");
	check_split_bad("[::1]");
	check_split_bad("[::1]25");
	check_split_bad("[]:25");
	check_split_bad("[::1]:");
	check_split_bad("host:");
	check_split_bad(":");
	check_split_bad(":25");
	check_split_bad("::1:25");
	check_split_bad("host:25:26");
	check_split_bad("host:2 5");
	check_split_bad("*:");
}

int main(void)
{
	alarm(20); /* a hang fails the test instead of blocking ctest */
	RUN(tcp_ipv4);
	RUN(tcp_ipv6);
	RUN(tcp_wildcard);
	RUN(tcp_listen_errors);
	RUN(tcp_connect_refused);
	RUN(tcp_connect_timeout);
	RUN(unix_sockets);
	RUN(unix_connect_timeout);
	RUN(fd_passing);
	RUN(split_hostport);
	return TESTING_DONE();
}

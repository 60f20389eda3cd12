/*
 * Tests of socketmap: tables (socketmap_table(5)): netstrings and reply
 * parsing, then look-ups against a small server thread on a UNIX socket
 * and on TCP: found, not found, TEMP/PERM replies as errors, a malformed
 * reply, a server that closes the kept connection between look-ups (the
 * next look-up reconnects), a server that is not there, and malformed
 * table names.
 */
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "table/socketmap_reply.h"
#include "table/table.h"
#include "util/alloc.h"
#include "util/str.h"
#include "util/testing.h"

TEST(netstrings)
{
	struct str s = STR_INIT;
	socketmap_netstring(&s, "map key", 7);
	CHECK_STR(str_cstr(&s), "7:map key,");
	str_clear(&s);
	socketmap_netstring(&s, "", 0);
	CHECK_STR(str_cstr(&s), "0:,");
	str_free(&s);
	CHECK(socketmap_netstring_length("0", 1) == 0);
	CHECK(socketmap_netstring_length("12", 2) == 12);
	CHECK(socketmap_netstring_length("100000", 6) == 100000);
	CHECK(socketmap_netstring_length("100001", 6) == -1);
	CHECK(socketmap_netstring_length("", 0) == -1);
	CHECK(socketmap_netstring_length("012", 3) == -1);
	CHECK(socketmap_netstring_length("1a", 2) == -1);
	CHECK(socketmap_netstring_length("1234567", 7) == -1);
}

static enum socketmap_status parse(const char *reply, char *text, size_t size)
{
	const char *t;
	size_t len;
	enum socketmap_status st = socketmap_reply_parse(reply, strlen(reply), &t, &len);
	snprintf(text, size, "%.*s", (int)len, t);
	return st;
}

TEST(replies)
{
	char text[128];
	CHECK(parse("OK secure match=example.com", text, sizeof(text)) == SOCKETMAP_FOUND);
	CHECK_STR(text, "secure match=example.com");
	CHECK(parse("OK ", text, sizeof(text)) == SOCKETMAP_FOUND);
	CHECK_STR(text, "");
	CHECK(parse("NOTFOUND ", text, sizeof(text)) == SOCKETMAP_NOTFOUND);
	CHECK(parse("NOTFOUND", text, sizeof(text)) == SOCKETMAP_NOTFOUND);
	CHECK(parse("TEMP database down", text, sizeof(text)) == SOCKETMAP_TEMP);
	CHECK_STR(text, "database down");
	CHECK(parse("TIMEOUT slow", text, sizeof(text)) == SOCKETMAP_TEMP);
	CHECK(parse("PERM no such map", text, sizeof(text)) == SOCKETMAP_PERM);
	CHECK(parse("OKAY x", text, sizeof(text)) == SOCKETMAP_INVALID);
	CHECK(parse("ok x", text, sizeof(text)) == SOCKETMAP_INVALID);
	CHECK(parse("", text, sizeof(text)) == SOCKETMAP_INVALID);
}

/* A server thread: answers each request from a fixed script of replies
 * (raw bytes, netstring included), closing the connection where the
 * script says "CLOSE". Records the requests it read. */
struct server {
	int listen_fd;
	const char *const *script;
	struct str requests; /* each request's data, one per line */
	int connections;
};

static void *serve(void *arg)
{
	struct server *srv = arg;
	size_t step = 0;
	while (srv->script[step] != NULL) {
		int fd = accept(srv->listen_fd, NULL, NULL);
		if (fd < 0)
			break;
		srv->connections++;
		char buf[4096];
		while (srv->script[step] != NULL) {
			if (strcmp(srv->script[step], "CLOSE") == 0) {
				step++;
				break;
			}
			ssize_t n = read(fd, buf, sizeof(buf) - 1);
			if (n <= 0)
				break;
			buf[n] = '\0';
			str_append_cstr(&srv->requests, buf);
			str_append_char(&srv->requests, '\n');
			const char *reply = srv->script[step++];
			if (write(fd, reply, strlen(reply)) < 0)
				break;
		}
		close(fd);
	}
	return NULL;
}

static char tmpdir[] = "/tmp/postern-test-socketmap-XXXXXX";

static int listen_unix(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	CHECK(bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0);
	CHECK(listen(fd, 4) == 0);
	return fd;
}

static int lookup(struct table *t, const char *key, struct str *value, const char **error)
{
	str_clear(value);
	*error = NULL;
	return table_lookup(t, key, value, error);
}

TEST(unix_server)
{
	char *path = xasprintf("%s/map.sock", tmpdir);
	static const char *const script[] = {
	    "22:OK secure match=a.test,",
	    "9:NOTFOUND ,",
	    "18:TEMP database down,",
	    "CLOSE",
	    "12:OK dane-only,",
	    "14:PERM no access,",
	    "6:hello!,",
	    NULL,
	};
	struct server srv = {.listen_fd = listen_unix(path), .script = script};
	pthread_t th;
	pthread_create(&th, NULL, serve, &srv);
	char *spec = xasprintf("socketmap:unix:%s:policy", path);
	const char *error;
	struct table *t = table_open(spec, &error);
	CHECK(t != NULL);
	struct str value = STR_INIT;
	CHECK(lookup(t, "a.test", &value, &error) == 1);
	CHECK_STR(str_cstr(&value), "secure match=a.test");
	CHECK(lookup(t, "b.test", &value, &error) == 0);
	CHECK(lookup(t, "c.test", &value, &error) == -1);
	CHECK(error != NULL && strstr(error, "TEMP database down") != NULL);
	/* The server closed the kept connection: the look-up reconnects. */
	CHECK(lookup(t, "d.test", &value, &error) == 1);
	CHECK_STR(str_cstr(&value), "dane-only");
	CHECK(lookup(t, "e.test", &value, &error) == -1);
	CHECK(error != NULL && strstr(error, "PERM no access") != NULL);
	CHECK(lookup(t, "f.test", &value, &error) == -1);
	CHECK(error != NULL && strstr(error, "malformed reply") != NULL);
	table_close(t);
	pthread_join(th, NULL);
	CHECK(srv.connections == 2);
	CHECK_STR(str_cstr(&srv.requests), "13:policy a.test,\n13:policy b.test,\n"
	                                   "13:policy c.test,\n13:policy d.test,\n"
	                                   "13:policy e.test,\n13:policy f.test,\n");
	/* Nothing listens any more. */
	close(srv.listen_fd);
	unlink(path);
	t = table_open(spec, &error);
	CHECK(t != NULL);
	CHECK(lookup(t, "a.test", &value, &error) == -1);
	CHECK(error != NULL && strstr(error, "cannot connect") != NULL);
	table_close(t);
	str_free(&value);
	str_free(&srv.requests);
	free(spec);
	free(path);
}

TEST(tcp_server)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
	CHECK(bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	socklen_t len = sizeof(sin);
	getsockname(fd, (struct sockaddr *)&sin, &len);
	CHECK(listen(fd, 4) == 0);
	static const char *const script[] = {"5:OK 42,", NULL};
	struct server srv = {.listen_fd = fd, .script = script};
	pthread_t th;
	pthread_create(&th, NULL, serve, &srv);
	char *spec = xasprintf("socketmap:inet:127.0.0.1:%d:numbers", ntohs(sin.sin_port));
	const char *error;
	struct table *t = table_open(spec, &error);
	CHECK(t != NULL);
	struct str value = STR_INIT;
	CHECK(lookup(t, "answer with space", &value, &error) == 1);
	CHECK_STR(str_cstr(&value), "42");
	table_close(t);
	pthread_join(th, NULL);
	CHECK_STR(str_cstr(&srv.requests), "25:numbers answer with space,\n");
	close(fd);
	str_free(&value);
	str_free(&srv.requests);
	free(spec);
}

TEST(bad_names)
{
	static const char *const bad[] = {
	    "socketmap:",
	    "socketmap:unix:/path/only",
	    "socketmap:inet:127.0.0.1:25",
	    "socketmap:inet:127.0.0.1:",
	    "socketmap:tcp:127.0.0.1:25:name",
	    "socketmap:unix::name",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *error = NULL;
		struct table *t = table_open(bad[i], &error);
		CHECK(t == NULL);
		CHECK(error != NULL);
		if (t != NULL)
			table_close(t);
	}
}

int main(void)
{
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	RUN(netstrings);
	RUN(replies);
	RUN(unix_server);
	RUN(tcp_server);
	RUN(bad_names);
	rmdir(tmpdir);
	return TESTING_DONE();
}

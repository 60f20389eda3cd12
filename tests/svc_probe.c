/*
 * svc_probe: a test service for master's tests, run on the service
 * skeleton. Each connection first gets one line describing the process:
 *   hello pid=N uid=N gid=N groups=a,b root=entry,entry,...
 * then line commands: "echo TEXT", "sleep SECONDS", "crash" (abort),
 * "quit". A connection that starts with an IPC record (master's wake-up
 * request) is logged as "wakeup received". Argument "multi" runs it in
 * SERVER_MULTI mode with at most 2 connections per process.
 */
#include <dirent.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server/server.h"
#include "util/alloc.h"
#include "util/ipc.h"
#include "util/log.h"
#include "util/str.h"
#include "util/stream.h"

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void describe(struct str *out)
{
	gid_t groups[64];
	int n = getgroups(64, groups);
	str_printf(out, "hello pid=%ld uid=%ld gid=%ld groups=", (long)getpid(), (long)getuid(),
	           (long)getgid());
	for (int i = 0; i < n; i++)
		str_printf(out, "%s%ld", i ? "," : "", (long)groups[i]);
	str_append_cstr(out, " root=");
	DIR *dir = opendir("/");
	char *names[256];
	size_t count = 0;
	struct dirent *de;
	while (dir && count < 256 && (de = readdir(dir)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			names[count++] = xstrdup(de->d_name);
	if (dir)
		closedir(dir);
	qsort(names, count, sizeof(char *), compare_names);
	for (size_t i = 0; i < count; i++) {
		str_printf(out, "%s%s", i ? "," : "", names[i]);
		free(names[i]);
	}
	str_append_cstr(out, "\r\n");
}

static bool is_wakeup(int fd)
{
	/* master writes its wake-up record at once; a real client waits for hello. */
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	char first;
	if (poll(&pfd, 1, 100) != 1 || recv(fd, &first, 1, MSG_PEEK) != 1 || first != '\0')
		return false;
	struct ipc_rec *rec;
	const char *error;
	if (ipc_read(fd, &rec, 4096, 2000, &error) == 1) {
		if (ipc_rec_is(rec, "wakeup"))
			log_info("wakeup received");
		ipc_rec_free(rec);
	}
	return true;
}

static void serve(struct server *srv, int fd)
{
	(void)srv;
	if (is_wakeup(fd))
		return;
	struct stream *s = stream_new(fd, 30000);
	struct str line = STR_INIT;
	describe(&line);
	stream_write(s, line.data, line.len);
	stream_flush(s);
	while (stream_read_line(s, &line, 1000, NULL) == STREAM_OK) {
		if (strncmp(str_cstr(&line), "echo ", 5) == 0) {
			stream_printf(s, "%s\r\n", str_cstr(&line) + 5);
		} else if (strncmp(str_cstr(&line), "sleep ", 6) == 0) {
			sleep((unsigned)atoi(str_cstr(&line) + 6));
			stream_puts(s, "ok\r\n");
		} else if (str_equal_cstr(&line, "crash")) {
			abort();
		} else if (str_equal_cstr(&line, "quit")) {
			break;
		} else {
			stream_puts(s, "error unknown command\r\n");
		}
		if (stream_flush(s) != STREAM_OK)
			break;
	}
	str_free(&line);
	stream_free(s);
}

/* MULTI mode: answer the description, then close when the client closes. */
struct multi_conn {
	struct server *srv;
	int fd;
};

static void on_multi_readable(struct event_loop *loop, int fd, int events, void *ctx)
{
	struct multi_conn *mc = ctx;
	char buf[512];
	ssize_t n = read(fd, buf, sizeof(buf));
	(void)events;
	if (n > 0) {
		(void)!write(fd, buf, (size_t)n);
		return;
	}
	event_del_fd(loop, fd);
	close(fd);
	server_conn_done(mc->srv);
	free(mc);
}

static void accept_multi(struct server *srv, int fd)
{
	if (is_wakeup(fd)) {
		close(fd);
		server_conn_done(srv);
		return;
	}
	struct str line = STR_INIT;
	describe(&line);
	(void)!write(fd, line.data, line.len);
	str_free(&line);
	struct multi_conn *mc = xcalloc(1, sizeof(*mc));
	mc->srv = srv;
	mc->fd = fd;
	event_add_fd(server_loop(srv), fd, EVENT_READ, on_multi_readable, mc);
}

int main(int argc, char **argv)
{
	bool multi = argc > 1 && strcmp(argv[argc - 1], "multi") == 0;
	static struct server_ops ops;
	ops.mode = multi ? SERVER_MULTI : SERVER_SINGLE;
	ops.max_connections = multi ? 2 : 0;
	ops.serve = serve;
	ops.accept = accept_multi;
	return server_main(argc, argv, &ops, NULL);
}

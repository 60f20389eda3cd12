/* Unit tests for util/stream: line reading (CRLF, LF, partial, overlong),
 * timeouts, exact reads, buffered writes, a closed peer, and a replaced
 * transport. The peer is the other end of a socketpair, or a child
 * process when the data must arrive in pieces. */
#include "util/stream.h"
#include "util/testing.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static int64_t now_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void make_pair(int sv[2])
{
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
}

static void send_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n <= 0)
			_exit(3);
		p += n;
		len -= (size_t)n;
	}
}

/* Fork a child that writes the pieces to sv[1] with a pause between them,
 * then exits (closing its end). */
static pid_t send_in_pieces(const int sv[2], const char *const *pieces, int pause_ms)
{
	int fd = sv[1];
	pid_t pid = fork();
	if (pid == 0) {
		close(sv[0]);
		for (size_t i = 0; pieces[i] != NULL; i++) {
			if (i > 0)
				usleep((useconds_t)pause_ms * 1000);
			send_all(fd, pieces[i], strlen(pieces[i]));
		}
		_exit(0);
	}
	CHECK(pid > 0);
	return pid;
}

static bool child_ok(pid_t pid)
{
	int status = 0;
	return waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

TEST(lines_crlf_lf_and_partial)
{
	int sv[2];
	make_pair(sv);
	static const char input[] = "HELO a\r\nbare\n\r\n\nx\ry\r\n\0z\nlast";
	send_all(sv[1], input, sizeof(input) - 1);
	close(sv[1]);
	struct stream *s = stream_new(sv[0], 1000);
	CHECK(stream_fd(s) == sv[0]);
	struct str line = STR_INIT;
	bool cr = false;
	CHECK(stream_read_line(s, &line, 100, &cr) == STREAM_OK);
	CHECK(str_equal_cstr(&line, "HELO a") && cr);
	CHECK(stream_read_line(s, &line, 100, &cr) == STREAM_OK);
	CHECK(str_equal_cstr(&line, "bare") && !cr);
	CHECK(stream_read_line(s, &line, 100, &cr) == STREAM_OK);
	CHECK(line.len == 0 && cr);
	CHECK(stream_read_line(s, &line, 100, &cr) == STREAM_OK);
	CHECK(line.len == 0 && !cr);
	/* A lone CR inside a line is data. */
	CHECK(stream_read_line(s, &line, 100, &cr) == STREAM_OK);
	CHECK(str_equal_cstr(&line, "x\ry") && cr);
	/* So is a NUL. */
	CHECK(stream_read_line(s, &line, 100, NULL) == STREAM_OK);
	CHECK(line.len == 2 && line.data[0] == '\0' && line.data[1] == 'z');
	/* The last line has no LF: EOF with the partial data. */
	CHECK(stream_read_line(s, &line, 100, &cr) == STREAM_EOF);
	CHECK(str_equal_cstr(&line, "last"));
	CHECK(stream_read_line(s, &line, 100, &cr) == STREAM_EOF);
	CHECK(line.len == 0);
	str_free(&line);
	stream_close(s);
}

TEST(overlong_lines)
{
	int sv[2];
	make_pair(sv);
	/* A child sends a line far larger than any buffer, in pieces. */
	size_t big = 1 << 20;
	char *huge = malloc(big + 1);
	memset(huge, 'A', big);
	huge[big] = '\0';
	const char *pieces[] = {"0123456789\r\n",
	                        "0123456789A\r\n",
	                        "0123456789\r\r\n",
	                        huge,
	                        "\nnext\r\n",
	                        "abcd\r",
	                        "\n",
	                        "long line at the end",
	                        NULL};
	pid_t pid = send_in_pieces(sv, pieces, 20);
	close(sv[1]);
	free(huge);

	struct stream *s = stream_new(sv[0], 2000);
	struct str line = STR_INIT;
	bool cr = false;
	/* Exactly max bytes, with CRLF: fits (the CR is not counted). */
	CHECK(stream_read_line(s, &line, 10, &cr) == STREAM_OK);
	CHECK(str_equal_cstr(&line, "0123456789") && cr);
	CHECK(stream_read_line(s, &line, 10, &cr) == STREAM_TOO_LONG);
	/* One CR too many: the first is data, so the line is too long. */
	CHECK(stream_read_line(s, &line, 10, &cr) == STREAM_TOO_LONG);
	CHECK(stream_read_line(s, &line, 10, &cr) == STREAM_TOO_LONG);
	CHECK(line.len == 0 && line.cap <= 64);
	CHECK(stream_buffered(s) <= 64 * 1024);
	CHECK(stream_read_line(s, &line, 10, &cr) == STREAM_OK);
	CHECK(str_equal_cstr(&line, "next") && cr);
	/* The CR arrives alone at max + 1, the LF after a pause. */
	CHECK(stream_read_line(s, &line, 4, &cr) == STREAM_OK);
	CHECK(str_equal_cstr(&line, "abcd") && cr);
	/* An overlong line cut off by EOF. */
	CHECK(stream_read_line(s, &line, 4, &cr) == STREAM_TOO_LONG);
	CHECK(stream_read_line(s, &line, 4, &cr) == STREAM_EOF);
	CHECK(child_ok(pid));
	str_free(&line);
	stream_close(s);
}

TEST(timeouts)
{
	int sv[2];
	make_pair(sv);
	struct stream *s = stream_new(sv[0], 150);
	struct str line = STR_INIT;
	int64_t start = now_ms();
	CHECK(stream_read_line(s, &line, 100, NULL) == STREAM_TIMEOUT);
	int64_t took = now_ms() - start;
	CHECK(took >= 140 && took < 1000);

	/* A partial line survives a timeout. */
	send_all(sv[1], "par", 3);
	CHECK(stream_read_line(s, &line, 100, NULL) == STREAM_TIMEOUT);
	send_all(sv[1], "tial\r\n", 6);
	CHECK(stream_read_line(s, &line, 100, NULL) == STREAM_OK);
	CHECK(str_equal_cstr(&line, "partial"));

	stream_set_timeout(s, 100);
	struct str out = STR_INIT;
	start = now_ms();
	CHECK(stream_read_some(s, &out, 10) == STREAM_TIMEOUT);
	CHECK(stream_read_exact(s, &out, 1) == STREAM_TIMEOUT);
	const char *data;
	size_t len;
	CHECK(stream_peek(s, &data, &len) == STREAM_TIMEOUT);
	took = now_ms() - start;
	CHECK(took >= 280 && took < 2000);
	CHECK(out.len == 0);

	/* A peer that does not read: the flush times out. */
	char block[4096];
	memset(block, 'w', sizeof(block));
	enum stream_status st = STREAM_OK;
	start = now_ms();
	for (int i = 0; i < 4096 && st == STREAM_OK; i++)
		st = stream_write(s, block, sizeof(block));
	CHECK(st == STREAM_TIMEOUT);
	CHECK(now_ms() - start < 2000);
	str_free(&out);
	str_free(&line);
	stream_free(s);
	close(sv[0]);
	close(sv[1]);
}

/* A socket read by recv() with SO_RCVTIMEO that someone makes
 * non-blocking later is not taken to have timed out: it is polled from
 * then on, with the whole timeout. A pipe is polled from the start. */
TEST(wait_kinds)
{
	int sv[2];
	make_pair(sv);
	struct stream *s = stream_new(sv[0], 300);
	struct str line = STR_INIT;
	send_all(sv[1], "one\r\n", 5);
	CHECK(stream_read_line(s, &line, 100, NULL) == STREAM_OK);
	CHECK(str_equal_cstr(&line, "one"));
	CHECK(fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK) == 0);
	const char *const pieces[] = {"", "two\r\n", NULL};
	pid_t pid = send_in_pieces(sv, pieces, 100);
	CHECK(stream_read_line(s, &line, 100, NULL) == STREAM_OK);
	CHECK(str_equal_cstr(&line, "two"));
	CHECK(child_ok(pid));
	int64_t start = now_ms();
	CHECK(stream_read_line(s, &line, 100, NULL) == STREAM_TIMEOUT);
	CHECK(now_ms() - start >= 280);
	stream_free(s);
	close(sv[0]);
	close(sv[1]);

	int p[2];
	CHECK(pipe(p) == 0);
	s = stream_new(p[0], -1);
	CHECK(write(p[1], "zero\n", 5) == 5);
	CHECK(stream_read_line(s, &line, 100, NULL) == STREAM_OK);
	CHECK(str_equal_cstr(&line, "zero"));
	stream_set_timeout(s, 200);
	start = now_ms();
	CHECK(stream_read_line(s, &line, 100, NULL) == STREAM_TIMEOUT);
	CHECK(now_ms() - start >= 190);
	CHECK(write(p[1], "three\n", 6) == 6);
	CHECK(stream_read_line(s, &line, 100, NULL) == STREAM_OK);
	CHECK(str_equal_cstr(&line, "three"));
	str_free(&line);
	stream_free(s);
	close(p[0]);
	close(p[1]);
}

TEST(read_exact_some_and_peek)
{
	int sv[2];
	make_pair(sv);
	const char *pieces[] = {"ab", "cde", "fgh", "ijkl", NULL};
	pid_t pid = send_in_pieces(sv, pieces, 20);
	close(sv[1]);
	struct stream *s = stream_new(sv[0], 2000);
	struct str out = STR_INIT;
	str_append_cstr(&out, ">");
	CHECK(stream_read_exact(s, &out, 8) == STREAM_OK);
	CHECK(str_equal_cstr(&out, ">abcdefgh"));
	CHECK(stream_buffered(s) == 0);

	const char *data;
	size_t len;
	CHECK(stream_peek(s, &data, &len) == STREAM_OK);
	CHECK(len >= 1 && len <= 4 && memcmp(data, "ijkl", len) == 0);
	stream_consume(s, 1);
	CHECK(stream_buffered(s) == len - 1);
	stream_consume(s, 100); /* more than buffered: clamps */
	CHECK(stream_buffered(s) == 0);

	/* The stream ends before the exact count. */
	str_clear(&out);
	CHECK(stream_read_exact(s, &out, 100) == STREAM_EOF);
	CHECK(out.len <= 3);
	CHECK(stream_read_some(s, &out, 10) == STREAM_EOF);
	CHECK(child_ok(pid));
	str_free(&out);
	stream_close(s);

	/* read_some takes at most max. */
	make_pair(sv);
	send_all(sv[1], "0123456789", 10);
	s = stream_new(sv[0], 1000);
	CHECK(stream_read_some(s, &out, 4) == STREAM_OK);
	CHECK(str_equal_cstr(&out, "0123"));
	CHECK(stream_buffered(s) == 6);
	stream_discard_input(s);
	CHECK(stream_buffered(s) == 0);
	str_free(&out);
	stream_close(s);
	close(sv[1]);
}

/* A byte pattern that shows lost, repeated or reordered data. */
static unsigned char pattern_byte(size_t i)
{
	return (unsigned char)(i * 7 + i / 251);
}

/* Fork a child that reads sv[1] to EOF and checks that it got len bytes of
 * the pattern. */
static pid_t check_pattern_reader(const int sv[2], size_t len)
{
	int fd = sv[1];
	pid_t pid = fork();
	if (pid == 0) {
		close(sv[0]); /* or the parent's close would not end the input */
		unsigned char buf[8192];
		size_t got = 0;
		for (;;) {
			ssize_t n = read(fd, buf, sizeof(buf));
			if (n < 0)
				_exit(2);
			if (n == 0)
				break;
			for (ssize_t i = 0; i < n; i++)
				if (buf[i] != pattern_byte(got + (size_t)i))
					_exit(4);
			got += (size_t)n;
		}
		_exit(got == len ? 0 : 5);
	}
	CHECK(pid > 0);
	return pid;
}

TEST(large_writes)
{
	int sv[2];
	make_pair(sv);
	size_t total = 3 * 1024 * 1024 + 17;
	pid_t pid = check_pattern_reader(sv, total);
	close(sv[1]);
	struct stream *s = stream_new(sv[0], 5000);
	unsigned char *data = malloc(total);
	for (size_t i = 0; i < total; i++)
		data[i] = pattern_byte(i);
	/* One write far larger than the buffer, then many small ones. */
	size_t first = 2 * 1024 * 1024;
	CHECK(stream_write(s, data, first) == STREAM_OK);
	size_t off = first;
	while (off < total) {
		size_t n = total - off < 1000 ? total - off : 1000;
		CHECK(stream_write(s, data + off, n) == STREAM_OK);
		off += n;
	}
	CHECK(stream_flush(s) == STREAM_OK);
	free(data);
	stream_close(s);
	CHECK(child_ok(pid));
}

static size_t bytes_waiting(int fd)
{
	char buf[65536];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_PEEK);
	return n > 0 ? (size_t)n : 0;
}

TEST(write_buffering)
{
	int sv[2];
	make_pair(sv);
	struct stream *s = stream_new(sv[0], 1000);
	CHECK(stream_puts(s, "250-hello\r\n") == STREAM_OK);
	CHECK(stream_printf(s, "250 %s %d\r\n", "ok", 42) == STREAM_OK);
	CHECK(bytes_waiting(sv[1]) == 0); /* still queued */
	CHECK(stream_flush(s) == STREAM_OK);
	CHECK(stream_flush(s) == STREAM_OK); /* nothing to do */
	char buf[64] = "";
	CHECK(read(sv[1], buf, sizeof(buf)) == 22);
	CHECK(memcmp(buf, "250-hello\r\n250 ok 42\r\n", 22) == 0);

	/* Past the threshold, writing flushes by itself. */
	char block[1000];
	memset(block, 'b', sizeof(block));
	for (int i = 0; i < 10; i++)
		CHECK(stream_write(s, block, sizeof(block)) == STREAM_OK);
	CHECK(bytes_waiting(sv[1]) >= 8192);
	CHECK(stream_printf(s, "%0*d", 9000, 0) == STREAM_OK);
	CHECK(bytes_waiting(sv[1]) >= 17000);
	stream_free(s);
	close(sv[0]);
	close(sv[1]);

	/* A pipe is not a socket: plain write() is used. */
	int p[2];
	CHECK(pipe(p) == 0);
	s = stream_new(p[1], 1000);
	CHECK(stream_puts(s, "through a pipe") == STREAM_OK);
	CHECK(stream_flush(s) == STREAM_OK);
	CHECK(stream_puts(s, "!") == STREAM_OK);
	CHECK(stream_flush(s) == STREAM_OK);
	memset(buf, 0, sizeof(buf));
	CHECK(read(p[0], buf, sizeof(buf)) == 15);
	CHECK_STR(buf, "through a pipe!");
	stream_close(s);
	close(p[0]);
}

TEST(closed_peer)
{
	/* The default SIGPIPE action would kill this test if a write raised it. */
	signal(SIGPIPE, SIG_DFL);
	int sv[2];
	make_pair(sv);
	close(sv[1]);
	struct stream *s = stream_new(sv[0], 1000);
	CHECK(stream_puts(s, "221 bye\r\n") == STREAM_OK);
	errno = 0;
	CHECK(stream_flush(s) == STREAM_ERROR);
	CHECK(errno == EPIPE);
	/* A large write fails the same way. */
	char block[20000];
	memset(block, 'x', sizeof(block));
	CHECK(stream_write(s, block, sizeof(block)) == STREAM_ERROR);
	struct str line = STR_INIT;
	CHECK(stream_read_line(s, &line, 100, NULL) == STREAM_EOF);
	str_free(&line);
	stream_close(s);

	/* A read error on a descriptor that is not readable. */
	int fd = open("/dev/null", O_WRONLY);
	s = stream_new(fd, 100);
	struct str out = STR_INIT;
	CHECK(stream_read_some(s, &out, 10) == STREAM_ERROR);
	str_free(&out);
	stream_close(s);

	CHECK(strcmp(stream_status_text(STREAM_OK), "ok") == 0);
	CHECK(strcmp(stream_status_text(STREAM_TOO_LONG), "line too long") == 0);
	CHECK(strcmp(stream_status_text(STREAM_TIMEOUT), "timeout") == 0);
	CHECK(strcmp(stream_status_text(STREAM_EOF), "end of file") == 0);
	CHECK(strcmp(stream_status_text(STREAM_ERROR), "I/O error") == 0);
}

/* A transport over memory, handing out a few bytes per read, with the rest
 * reported as pending (as TLS reports decrypted bytes). */
struct mem_transport {
	const char *data;
	size_t len;
	size_t pos;
	size_t step;
	struct str written;
};

static ssize_t mem_read(void *ctx, void *buf, size_t len, int timeout_ms)
{
	struct mem_transport *m = ctx;
	(void)timeout_ms;
	size_t n = m->len - m->pos;
	if (n > m->step)
		n = m->step;
	if (n > len)
		n = len;
	memcpy(buf, m->data + m->pos, n);
	m->pos += n;
	return (ssize_t)n;
}

static ssize_t mem_write(void *ctx, const void *buf, size_t len, int timeout_ms)
{
	struct mem_transport *m = ctx;
	(void)timeout_ms;
	str_append(&m->written, buf, len);
	return (ssize_t)len;
}

static size_t mem_pending(void *ctx)
{
	struct mem_transport *m = ctx;
	return m->len - m->pos;
}

static const struct stream_transport mem_vtable = {mem_read, mem_write, mem_pending};

TEST(replaced_transport)
{
	int sv[2];
	make_pair(sv);
	send_all(sv[1], "PLAIN\r\nINJECTED\r\n", 17);
	struct stream *s = stream_new(sv[0], 1000);
	struct str line = STR_INIT;
	CHECK(stream_read_line(s, &line, 100, NULL) == STREAM_OK);
	CHECK(str_equal_cstr(&line, "PLAIN"));
	CHECK(stream_buffered(s) == 10);

	/* After the switch, old input is dropped and reads never wait on the
	 * descriptor: the peer end sends nothing more. */
	struct mem_transport m = {"one\r\ntwo\n", 9, 0, 2, STR_INIT};
	stream_set_transport(s, &mem_vtable, &m);
	stream_discard_input(s);
	CHECK(stream_buffered(s) == 9); /* all pending in the transport */
	bool cr = false;
	CHECK(stream_read_line(s, &line, 100, &cr) == STREAM_OK);
	CHECK(str_equal_cstr(&line, "one") && cr);
	CHECK(stream_read_line(s, &line, 100, &cr) == STREAM_OK);
	CHECK(str_equal_cstr(&line, "two") && !cr);
	CHECK(stream_buffered(s) == 0);
	CHECK(stream_read_line(s, &line, 100, &cr) == STREAM_EOF);
	CHECK(stream_puts(s, "via transport") == STREAM_OK);
	CHECK(stream_flush(s) == STREAM_OK);
	CHECK(str_equal_cstr(&m.written, "via transport"));
	CHECK(bytes_waiting(sv[1]) == 0);
	str_free(&m.written);
	str_free(&line);
	stream_close(s);
	close(sv[1]);
}

TEST(pushed_input)
{
	int sv[2];
	make_pair(sv);
	struct stream *s = stream_new(sv[0], 2000);
	struct str line = STR_INIT;
	send_all(sv[1], "C\r\nD\r\n", 6);
	stream_push_input(s, "A\r\nB", 4);
	CHECK(stream_read_line(s, &line, 100, NULL) == STREAM_OK);
	CHECK(str_equal_cstr(&line, "A"));
	/* Pushed in front of what is already buffered. */
	stream_push_input(s, "x", 1);
	CHECK(stream_read_line(s, &line, 100, NULL) == STREAM_OK);
	CHECK(str_equal_cstr(&line, "xBC"));
	CHECK(stream_read_line(s, &line, 100, NULL) == STREAM_OK);
	CHECK(str_equal_cstr(&line, "D"));
	stream_push_input(s, "", 0);
	CHECK(stream_buffered(s) == 0);
	str_free(&line);
	stream_free(s);
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	alarm(20); /* a hang fails the test instead of blocking ctest */
	RUN(lines_crlf_lf_and_partial);
	RUN(overlong_lines);
	RUN(timeouts);
	RUN(wait_kinds);
	RUN(read_exact_some_and_peek);
	RUN(large_writes);
	RUN(write_buffering);
	RUN(closed_peer);
	RUN(replaced_transport);
	RUN(pushed_input);
	return TESTING_DONE();
}

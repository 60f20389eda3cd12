/*
 * Buffered, bounded, timed I/O on one connection (see stream.h). The
 * plain transport waits for input in recv() itself on a blocking socket
 * (SO_RCVTIMEO set to the timeout: one system call a read), and polls
 * the descriptor before each read otherwise, and before each write;
 * TLS plugs in its own transport.
 */
#include "util/stream.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "util/alloc.h"

/* A read takes up to this much: a 50 KiB message in one or two reads. */
#define READ_CHUNK 65536
#define WRITE_FLUSH_AT 8192

/* How the plain transport waits for input: in recv() with SO_RCVTIMEO
 * until that turns out not to work (not a socket: setsockopt fails; a
 * non-blocking one: recv answers EAGAIN at once), then with poll(). */
enum read_wait {
	READ_WAIT_RECV,
	READ_WAIT_POLL,
};

struct stream {
	int fd;
	bool not_socket; /* plain writes use write(), not send() */
	enum read_wait read_wait;
	int rcvtimeo_ms; /* SO_RCVTIMEO as set on fd (-1: none set, waits forever) */
	int timeout_ms;
	const struct stream_transport *transport;
	void *transport_ctx;
	struct str in;      /* received, not yet consumed */
	size_t in_pos;      /* consumed prefix of in */
	bool skipping_line; /* discarding the rest of an overlong line */
	struct str out;     /* queued output */
};

/* Wait for events on fd; 0, or -1 with errno (ETIMEDOUT on timeout). */
static int wait_fd(int fd, short events, int timeout_ms)
{
	struct pollfd pfd = {.fd = fd, .events = events};
	for (;;) {
		int n = poll(&pfd, 1, timeout_ms);
		if (n > 0)
			return 0;
		if (n == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (errno != EINTR)
			return -1;
	}
}

static int64_t monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* recv() waiting at most timeout_ms (< 0: no limit): bytes, or -1 with
 * errno (ETIMEDOUT on timeout); -2 when fd is not a socket, or is a
 * non-blocking one (EAGAIN at once): it is to be polled. */
static ssize_t recv_timed(struct stream *s, void *buf, size_t len, int timeout_ms)
{
	if (s->rcvtimeo_ms != timeout_ms) {
		struct timeval tv = {0, 0};
		if (timeout_ms > 0) {
			tv.tv_sec = timeout_ms / 1000;
			tv.tv_usec = (timeout_ms % 1000) * 1000;
		}
		if (setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0)
			return -2;
		s->rcvtimeo_ms = timeout_ms;
	}
	for (;;) {
		int64_t start = monotonic_ms();
		ssize_t n = recv(s->fd, buf, len, 0);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno == ENOTSOCK)
			return -2;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		/* The kernel rounds the timeout to its clock ticks. */
		if (timeout_ms < 0 || monotonic_ms() - start < timeout_ms - 100)
			return -2;
		errno = ETIMEDOUT;
		return -1;
	}
}

static ssize_t plain_read(void *ctx, void *buf, size_t len, int timeout_ms)
{
	struct stream *s = ctx;
	if (s->read_wait == READ_WAIT_RECV && timeout_ms != 0) {
		ssize_t n = recv_timed(s, buf, len, timeout_ms);
		if (n != -2)
			return n;
		s->read_wait = READ_WAIT_POLL;
	}
	for (;;) {
		if (wait_fd(s->fd, POLLIN, timeout_ms) != 0)
			return -1;
		ssize_t n = read(s->fd, buf, len);
		if (n >= 0)
			return n;
		if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
	}
}

/* One write attempt; send() with MSG_NOSIGNAL so that a closed peer gives
 * EPIPE instead of killing the process. Pipes and files get write(). */
static ssize_t plain_write_once(struct stream *s, const void *buf, size_t len)
{
	if (!s->not_socket) {
		ssize_t n = send(s->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n >= 0 || errno != ENOTSOCK)
			return n;
		s->not_socket = true;
	}
	return write(s->fd, buf, len);
}

static ssize_t plain_write(void *ctx, const void *buf, size_t len, int timeout_ms)
{
	struct stream *s = ctx;
	for (;;) {
		/* A blocking pipe would wait in write() past the timeout. */
		if (s->not_socket && wait_fd(s->fd, POLLOUT, timeout_ms) != 0)
			return -1;
		ssize_t n = plain_write_once(s, buf, len);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if (wait_fd(s->fd, POLLOUT, timeout_ms) != 0)
			return -1;
	}
}

/* The plain transport waits with poll() inside read and write. Others (TLS)
 * do their own waiting, and read without waiting when they have pending()
 * bytes; the stream itself never polls. */
static const struct stream_transport plain_transport = {
    .read = plain_read,
    .write = plain_write,
    .pending = NULL,
};

struct stream *stream_new(int fd, int timeout_ms)
{
	struct stream *s = xcalloc(1, sizeof(*s));
	s->fd = fd;
	s->timeout_ms = timeout_ms;
	s->rcvtimeo_ms = -1;
	s->transport = &plain_transport;
	s->transport_ctx = s;
	return s;
}

void stream_free(struct stream *s)
{
	if (s == NULL)
		return;
	str_free(&s->in);
	str_free(&s->out);
	free(s);
}

void stream_close(struct stream *s)
{
	if (s == NULL)
		return;
	close(s->fd);
	stream_free(s);
}

int stream_fd(const struct stream *s)
{
	return s->fd;
}

void stream_set_timeout(struct stream *s, int timeout_ms)
{
	s->timeout_ms = timeout_ms;
}

void stream_set_transport(struct stream *s, const struct stream_transport *t, void *ctx)
{
	s->transport = t;
	s->transport_ctx = ctx;
}

size_t stream_buffered(const struct stream *s)
{
	size_t pending = s->transport->pending ? s->transport->pending(s->transport_ctx) : 0;
	return s->in.len - s->in_pos + pending;
}

void stream_push_input(struct stream *s, const void *data, size_t len)
{
	struct str in = STR_INIT;
	if (len > 0)
		str_append(&in, data, len);
	if (s->in.len > s->in_pos)
		str_append(&in, s->in.data + s->in_pos, s->in.len - s->in_pos);
	str_free(&s->in);
	s->in = in;
	s->in_pos = 0;
}

void stream_discard_input(struct stream *s)
{
	str_clear(&s->in);
	s->in_pos = 0;
	s->skipping_line = false;
}

/* Read more input into the buffer, first dropping what was consumed (at
 * most a partial line is left then, so the move is short). */
static enum stream_status fill(struct stream *s)
{
	str_consume(&s->in, s->in_pos);
	s->in_pos = 0;
	str_reserve(&s->in, READ_CHUNK);
	ssize_t n =
	    s->transport->read(s->transport_ctx, s->in.data + s->in.len, READ_CHUNK, s->timeout_ms);
	if (n < 0)
		return errno == ETIMEDOUT ? STREAM_TIMEOUT : STREAM_ERROR;
	if (n == 0)
		return STREAM_EOF;
	s->in.len += (size_t)n;
	s->in.data[s->in.len] = '\0';
	return STREAM_OK;
}

static const char *unread(const struct stream *s)
{
	return s->in.data ? s->in.data + s->in_pos : "";
}

/* Whether a line start of len bytes without an LF yet is already longer
 * than max (a CR in the last place may still be the start of a CRLF). */
static bool line_overlong(const char *start, size_t len, size_t max)
{
	return len > max && (len - 1 > max || start[len - 1] != '\r');
}

/* Take the complete line of len bytes (LF excluded) at the buffer head. */
static enum stream_status take_line(struct stream *s, struct str *line, size_t len, size_t max,
                                    bool *had_cr)
{
	const char *start = unread(s);
	bool cr = len > 0 && start[len - 1] == '\r';
	size_t content = len - (cr ? 1 : 0);
	s->in_pos += len + 1;
	if (content > max)
		return STREAM_TOO_LONG;
	str_append(line, start, content);
	if (had_cr)
		*had_cr = cr;
	return STREAM_OK;
}

/* The start of a line stays in the input buffer until its LF arrives, so a
 * timeout loses nothing; once it is longer than max it is dropped and the
 * rest of the line skipped (also across calls), so the buffer holds at most
 * max + 1 bytes of a line plus one read. */
enum stream_status stream_read_line(struct stream *s, struct str *line, size_t max, bool *had_cr)
{
	str_clear(line);
	size_t scanned = 0; /* bytes at the buffer head known to hold no LF */
	for (;;) {
		const char *start = unread(s);
		size_t avail = s->in.len - s->in_pos;
		const char *nl = memchr(start + scanned, '\n', avail - scanned);
		if (s->skipping_line) {
			s->in_pos += nl ? (size_t)(nl - start) + 1 : avail;
			if (nl) {
				s->skipping_line = false;
				return STREAM_TOO_LONG;
			}
			scanned = 0;
		} else if (nl) {
			return take_line(s, line, (size_t)(nl - start), max, had_cr);
		} else if (line_overlong(start, avail, max)) {
			s->in_pos += avail;
			s->skipping_line = true;
			scanned = 0;
		} else {
			scanned = avail;
		}
		enum stream_status st = fill(s);
		if (st == STREAM_EOF && s->skipping_line) {
			s->skipping_line = false;
			return STREAM_TOO_LONG;
		}
		if (st == STREAM_EOF) {
			/* A final line without LF (a CR there is data). */
			size_t len = s->in.len - s->in_pos;
			str_append(line, unread(s), len < max ? len : max);
			s->in_pos = s->in.len;
		}
		if (st != STREAM_OK)
			return st;
	}
}

enum stream_status stream_read_some(struct stream *s, struct str *out, size_t max)
{
	if (s->in.len == s->in_pos) {
		enum stream_status st = fill(s);
		if (st != STREAM_OK)
			return st;
	}
	size_t avail = s->in.len - s->in_pos;
	size_t take = avail < max ? avail : max;
	str_append(out, s->in.data + s->in_pos, take);
	s->in_pos += take;
	return STREAM_OK;
}

enum stream_status stream_read_exact(struct stream *s, struct str *out, size_t len)
{
	while (len > 0) {
		size_t before = out->len;
		enum stream_status st = stream_read_some(s, out, len);
		if (st != STREAM_OK)
			return st;
		len -= out->len - before;
	}
	return STREAM_OK;
}

enum stream_status stream_peek(struct stream *s, const char **data_r, size_t *len_r)
{
	if (s->in.len == s->in_pos) {
		enum stream_status st = fill(s);
		if (st != STREAM_OK)
			return st;
	}
	*data_r = s->in.data + s->in_pos;
	*len_r = s->in.len - s->in_pos;
	return STREAM_OK;
}

void stream_consume(struct stream *s, size_t n)
{
	size_t avail = s->in.len - s->in_pos;
	s->in_pos += n < avail ? n : avail;
}

enum stream_status stream_flush(struct stream *s)
{
	size_t off = 0;
	while (off < s->out.len) {
		ssize_t n = s->transport->write(s->transport_ctx, s->out.data + off,
		                                s->out.len - off, s->timeout_ms);
		if (n <= 0) {
			if (n == 0)
				errno = EIO; /* no progress: do not spin */
			enum stream_status st = errno == ETIMEDOUT ? STREAM_TIMEOUT : STREAM_ERROR;
			str_consume(&s->out, off);
			return st;
		}
		off += (size_t)n;
	}
	str_clear(&s->out);
	return STREAM_OK;
}

enum stream_status stream_write(struct stream *s, const void *data, size_t len)
{
	str_append(&s->out, data, len);
	if (s->out.len >= WRITE_FLUSH_AT)
		return stream_flush(s);
	return STREAM_OK;
}

enum stream_status stream_puts(struct stream *s, const char *text)
{
	return stream_write(s, text, strlen(text));
}

enum stream_status stream_printf(struct stream *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	str_vprintf(&s->out, fmt, ap);
	va_end(ap);
	if (s->out.len >= WRITE_FLUSH_AT)
		return stream_flush(s);
	return STREAM_OK;
}

const char *stream_status_text(enum stream_status status)
{
	switch (status) {
	case STREAM_OK:
		return "ok";
	case STREAM_EOF:
		return "end of file";
	case STREAM_TIMEOUT:
		return "timeout";
	case STREAM_TOO_LONG:
		return "line too long";
	case STREAM_ERROR:
		return "I/O error";
	}
	return "unknown";
}

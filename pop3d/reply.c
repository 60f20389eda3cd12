/*
 * What the login child and the mailbox process both say: status lines,
 * the CAPA list, reading a bounded command line, and client text made
 * safe for the log.
 */
#include <poll.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pop3/pop3_command.h"
#include "pop3d/pop3d.h"

void pop3d_reply(struct stream *s, bool ok, const char *fmt, ...)
{
	struct str line = STR_INIT;
	str_append_cstr(&line, ok ? "+OK " : "-ERR ");
	va_list ap;
	va_start(ap, fmt);
	str_vprintf(&line, fmt, ap);
	va_end(ap);
	str_append(&line, "\r\n", 2);
	stream_write(s, line.data, line.len);
	str_free(&line);
}

void pop3d_capa(struct stream *s, bool authorization, bool stls, bool user_login)
{
	stream_puts(s, "+OK Capability list follows\r\n"
	               "TOP\r\n"
	               "UIDL\r\n"
	               "RESP-CODES\r\n"
	               "AUTH-RESP-CODE\r\n"
	               "PIPELINING\r\n");
	if (authorization && user_login)
		stream_puts(s, "USER\r\nSASL PLAIN\r\n");
	if (authorization && stls)
		stream_puts(s, "STLS\r\n");
	stream_puts(s, "IMPLEMENTATION Postern\r\n.\r\n");
}

const char *pop3d_log_safe(const char *text, size_t len)
{
	static char buf[140];
	size_t out = 0, i = 0;
	for (; i < len && out < 100; i++) {
		unsigned char c = (unsigned char)text[i];
		buf[out++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	if (i < len) {
		buf[out++] = '.';
		buf[out++] = '.';
		buf[out++] = '.';
	}
	buf[out] = '\0';
	return buf;
}

enum stream_status pop3d_read_command(struct stream *s, struct str *line)
{
	/* Answers to pipelined commands go out together, but never wait
	 * while the client waits for them. */
	bool whole_line = false;
	if (stream_buffered(s) > 0) {
		const char *data;
		size_t len;
		whole_line = stream_peek(s, &data, &len) == STREAM_OK && memchr(data, '\n', len);
	}
	if (!whole_line && stream_flush(s) != STREAM_OK)
		return STREAM_ERROR;
	enum stream_status st = stream_read_line(s, line, POP3_LINE_MAX, NULL);
	if (st == STREAM_TOO_LONG)
		pop3d_reply(s, false, "Line too long (at most %d octets)", POP3_LINE_MAX);
	return st;
}

/* Bytes and time a closing session spends reading what the client still sends. */
#define LINGER_BYTES (64 * 1024)
#define LINGER_MS 1000

void pop3d_lingering_close(int fd)
{
	if (shutdown(fd, SHUT_WR) != 0)
		return;
	char buf[4096];
	size_t total = 0;
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (total < LINGER_BYTES) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		long spent =
		    (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (spent >= LINGER_MS || poll(&pfd, 1, (int)(LINGER_MS - spent)) <= 0)
			break;
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		total += (size_t)n;
	}
}

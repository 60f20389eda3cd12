/*
 * The login child's TLS proxy: after a good login over TLS, the mailbox
 * process talks plain POP3 on one end of a socket pair and this process
 * moves the bytes between the other end and the TLS connection, so the
 * process that holds the TLS key and state never touches a mailbox.
 */
#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include "pop3d/pop3d.h"

#define PROXY_CHUNK 65536

/* Write all of data to a blocking descriptor; false on failure. */
static bool write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		data += n;
		len -= (size_t)n;
	}
	return true;
}

void proxy_run(struct stream *client, int inner, long long timeout_ms)
{
	struct str buf = STR_INIT;
	for (;;) {
		if (stream_buffered(client) == 0) {
			struct pollfd pfd[2] = {{.fd = stream_fd(client), .events = POLLIN},
			                        {.fd = inner, .events = POLLIN}};
			int n = poll(pfd, 2, (int)timeout_ms);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			if (pfd[1].revents) {
				char data[PROXY_CHUNK];
				ssize_t got = read(inner, data, sizeof(data));
				if (got < 0 && errno == EINTR)
					continue;
				if (got <= 0)
					break;
				if (stream_write(client, data, (size_t)got) != STREAM_OK ||
				    stream_flush(client) != STREAM_OK)
					break;
			}
			if (!pfd[0].revents)
				continue;
		}
		str_clear(&buf);
		enum stream_status st = stream_read_some(client, &buf, PROXY_CHUNK);
		if (st != STREAM_OK || !write_all(inner, buf.data, buf.len))
			break;
	}
	str_free(&buf);
}

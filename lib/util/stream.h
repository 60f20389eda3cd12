/*
 * Buffered, bounded I/O on a connected descriptor with per-operation
 * timeouts, for programs that serve one peer at a time (a protocol session
 * in its own process). Reads never take more than the caller's limit into
 * memory. The transport is a small vtable, so TLS can replace plain reads
 * and writes later without changing protocol code.
 */
#ifndef POSTERN_UTIL_STREAM_H
#define POSTERN_UTIL_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/str.h"

enum stream_status {
	STREAM_OK = 0,
	STREAM_EOF = -1,      /* the peer closed (at a line boundary or mid-line) */
	STREAM_TIMEOUT = -2,  /* nothing arrived or left within the timeout */
	STREAM_TOO_LONG = -3, /* a line exceeded the limit (rest of it is skipped) */
	STREAM_ERROR = -4,    /* an I/O error; errno is set */
};

/* A transport: read/write at most len bytes without waiting longer than
 * timeout_ms; return bytes moved, 0 on EOF (read), or -1 with errno
 * (ETIMEDOUT on timeout). */
struct stream_transport {
	ssize_t (*read)(void *ctx, void *buf, size_t len, int timeout_ms);
	ssize_t (*write)(void *ctx, const void *buf, size_t len, int timeout_ms);
	/* Bytes already decrypted/buffered inside the transport (may be NULL). */
	size_t (*pending)(void *ctx);
};

struct stream;

/* A stream over fd with plain read/write; the stream does not own fd unless
 * stream_close() is used. timeout_ms applies to each read and each flush. */
struct stream *stream_new(int fd, int timeout_ms);
void stream_free(struct stream *s);
/* Free and close the descriptor. */
void stream_close(struct stream *s);
int stream_fd(const struct stream *s);
void stream_set_timeout(struct stream *s, int timeout_ms);
/* Switch the transport (e.g. after STARTTLS). Buffered input stays. */
void stream_set_transport(struct stream *s, const struct stream_transport *t, void *ctx);
/* Bytes received but not yet consumed by the caller. */
size_t stream_buffered(const struct stream *s);
/* Put data in front of the buffered input, as if it had been received
 * first (input another process read ahead and handed over). */
void stream_push_input(struct stream *s, const void *data, size_t len);
/* Discard buffered input (e.g. after STARTTLS, against injection). */
void stream_discard_input(struct stream *s);

/* Read one line ending in LF into line (cleared first), without the line end.
 * *had_cr (may be NULL) tells whether it ended in CRLF. A line longer than
 * max bytes is consumed and discarded up to its LF, and STREAM_TOO_LONG is
 * returned. A final line without LF at EOF is returned as STREAM_EOF with
 * the partial data in line. */
enum stream_status stream_read_line(struct stream *s, struct str *line, size_t max, bool *had_cr);
/* Read up to max bytes of what is available (waiting for at least one). */
enum stream_status stream_read_some(struct stream *s, struct str *out, size_t max);
/* Read exactly len bytes (appended to out). */
enum stream_status stream_read_exact(struct stream *s, struct str *out, size_t len);

/* Zero-copy access for protocol decoders: make sure at least one byte is
 * buffered (reading and waiting up to the timeout if the buffer is empty)
 * and return a view of everything buffered; then consume what was used.
 * The view stays valid until the next call on the stream. */
enum stream_status stream_peek(struct stream *s, const char **data_r, size_t *len_r);
void stream_consume(struct stream *s, size_t n);

/* Queue output; stream_flush() sends it. Writes also flush when the queue
 * grows past a few KiB. */
enum stream_status stream_write(struct stream *s, const void *data, size_t len);
enum stream_status stream_puts(struct stream *s, const char *text);
enum stream_status stream_printf(struct stream *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
enum stream_status stream_flush(struct stream *s);

const char *stream_status_text(enum stream_status status);

#endif

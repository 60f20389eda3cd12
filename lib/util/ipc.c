/*
 * Typed name/value records between Postern programs (wire format in ipc.h):
 * building and looking up records, encoding, a strict decoder that is a pure
 * function over untrusted bytes, blocking I/O with a timeout, and an
 * incremental reader for event loops.
 *
 * Names passed to ipc_rec_new() and ipc_rec_add_*() are the program's own
 * constants; an invalid one is a bug and aborts rather than put a record on
 * the wire that no peer would accept.
 */
#include "util/ipc.h"
#include "util/event.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util/alloc.h"

#define IPC_HEADER_SIZE 4
#define IPC_INT_SIZE 8
#define IPC_READ_CHUNK (64 * 1024)

/* ---- Building records and looking up attributes ---- */

static bool name_char_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '-';
}

static bool name_ok(const void *name, size_t len)
{
	const unsigned char *p = name;
	if (len == 0 || len > IPC_MAX_NAME)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!name_char_ok(p[i]))
			return false;
	return true;
}

static void check_name(const char *name)
{
	if (!name_ok(name, strlen(name)))
		abort(); /* a caller's bug: names are constants */
}

struct ipc_rec *ipc_rec_new(const char *name)
{
	check_name(name);
	struct ipc_rec *rec = xcalloc(1, sizeof(*rec));
	rec->name = xstrdup(name);
	return rec;
}

void ipc_rec_free(struct ipc_rec *rec)
{
	if (rec == NULL)
		return;
	for (size_t i = 0; i < rec->count; i++) {
		free(rec->attrs[i].name);
		free(rec->attrs[i].value);
	}
	free(rec->attrs);
	free(rec->name);
	free(rec);
}

/* Append an attribute; name need not be NUL-terminated (the decoder's case). */
static struct ipc_attr *add_attr(struct ipc_rec *rec, enum ipc_attr_type type, const char *name,
                                 size_t name_len)
{
	if (rec->count == rec->cap) {
		rec->cap = rec->cap ? rec->cap * 2 : 8;
		rec->attrs = xreallocarray(rec->attrs, rec->cap, sizeof(*rec->attrs));
	}
	struct ipc_attr *a = &rec->attrs[rec->count++];
	memset(a, 0, sizeof(*a));
	a->type = type;
	a->name = xstrndup(name, name_len);
	return a;
}

static void set_value(struct ipc_attr *a, const void *data, size_t len)
{
	if (len > UINT32_MAX)
		abort(); /* cannot be encoded; records are far smaller */
	a->value = xmalloc(len + 1);
	if (len)
		memcpy(a->value, data, len);
	a->value[len] = '\0';
	a->value_len = len;
}

void ipc_rec_add_int(struct ipc_rec *rec, const char *name, int64_t value)
{
	check_name(name);
	add_attr(rec, IPC_INT, name, strlen(name))->num = value;
}

void ipc_rec_add_str(struct ipc_rec *rec, const char *name, const char *value)
{
	check_name(name);
	set_value(add_attr(rec, IPC_STR, name, strlen(name)), value, strlen(value));
}

void ipc_rec_add_data(struct ipc_rec *rec, const char *name, const void *data, size_t len)
{
	check_name(name);
	set_value(add_attr(rec, IPC_DATA, name, strlen(name)), data, len);
}

const struct ipc_attr *ipc_rec_find(const struct ipc_rec *rec, const char *name)
{
	return ipc_rec_get_nth(rec, name, 0);
}

static const struct ipc_attr *find_typed(const struct ipc_rec *rec, const char *name,
                                         enum ipc_attr_type type)
{
	for (size_t i = 0; i < rec->count; i++)
		if (rec->attrs[i].type == type && strcmp(rec->attrs[i].name, name) == 0)
			return &rec->attrs[i];
	return NULL;
}

const char *ipc_rec_get_str(const struct ipc_rec *rec, const char *name)
{
	const struct ipc_attr *a = find_typed(rec, name, IPC_STR);
	return a ? a->value : NULL;
}

bool ipc_rec_get_int(const struct ipc_rec *rec, const char *name, int64_t *value_r)
{
	const struct ipc_attr *a = find_typed(rec, name, IPC_INT);
	if (a == NULL)
		return false;
	*value_r = a->num;
	return true;
}

const char *ipc_rec_get_data(const struct ipc_rec *rec, const char *name, size_t *len_r)
{
	const struct ipc_attr *a = find_typed(rec, name, IPC_DATA);
	if (a == NULL)
		return NULL;
	if (len_r)
		*len_r = a->value_len;
	return a->value;
}

const struct ipc_attr *ipc_rec_get_nth(const struct ipc_rec *rec, const char *name, size_t n)
{
	for (size_t i = 0; i < rec->count; i++) {
		if (strcmp(rec->attrs[i].name, name) != 0)
			continue;
		if (n == 0)
			return &rec->attrs[i];
		n--;
	}
	return NULL;
}

bool ipc_rec_is(const struct ipc_rec *rec, const char *name)
{
	return strcmp(rec->name, name) == 0;
}

/* ---- Encoding ---- */

static void put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void append_u32(struct str *out, uint32_t v)
{
	unsigned char b[4];
	put_u32(b, v);
	str_append(out, b, sizeof(b));
}

static void append_name(struct str *out, const char *name)
{
	size_t len = strlen(name);
	str_append_char(out, (char)len);
	str_append(out, name, len);
}

static void append_attr(struct str *out, const struct ipc_attr *a)
{
	str_append_char(out, (char)a->type);
	append_name(out, a->name);
	if (a->type == IPC_INT) {
		uint64_t v = (uint64_t)a->num;
		append_u32(out, IPC_INT_SIZE);
		append_u32(out, (uint32_t)(v >> 32));
		append_u32(out, (uint32_t)v);
	} else {
		append_u32(out, (uint32_t)a->value_len);
		str_append(out, a->value, a->value_len);
	}
}

void ipc_rec_encode(const struct ipc_rec *rec, struct str *out)
{
	size_t start = out->len;
	append_u32(out, 0); /* the body length, filled in below */
	append_name(out, rec->name);
	for (size_t i = 0; i < rec->count; i++)
		append_attr(out, &rec->attrs[i]);
	size_t body = out->len - start - IPC_HEADER_SIZE;
	if (body > UINT32_MAX)
		abort(); /* cannot be represented; ipc_write refuses long before */
	put_u32((unsigned char *)out->data + start, (uint32_t)body);
}

/* ---- Decoding: every length is checked before the bytes are read ---- */

struct cursor {
	const unsigned char *p;
	size_t left;
};

static const unsigned char *take(struct cursor *c, size_t n)
{
	if (c->left < n)
		return NULL;
	const unsigned char *p = c->p;
	c->p += n;
	c->left -= n;
	return p;
}

/* A length byte and that many name characters, of a record or an attribute. */
static int take_name(struct cursor *c, bool is_record, const char **name_r, size_t *len_r,
                     const char **error_r)
{
	const unsigned char *lenp = take(c, 1);
	if (lenp == NULL) {
		*error_r = is_record ? "record has no name" : "truncated attribute";
		return -1;
	}
	if (*lenp == 0 || *lenp > IPC_MAX_NAME) {
		*error_r = is_record ? "bad record name length" : "bad attribute name length";
		return -1;
	}
	const unsigned char *name = take(c, *lenp);
	if (name == NULL) {
		*error_r = is_record ? "record name overruns the record"
		                     : "attribute name overruns the record";
		return -1;
	}
	if (!name_ok(name, *lenp)) {
		*error_r =
		    is_record ? "bad character in record name" : "bad character in attribute name";
		return -1;
	}
	*name_r = (const char *)name;
	*len_r = *lenp;
	return 0;
}

static int decode_attr(struct cursor *c, struct ipc_rec *rec, const char **error_r)
{
	const unsigned char *type = take(c, 1);
	if (type == NULL) {
		*error_r = "truncated attribute";
		return -1;
	}
	if (*type != IPC_INT && *type != IPC_STR && *type != IPC_DATA) {
		*error_r = "bad attribute type";
		return -1;
	}
	const char *name;
	size_t name_len;
	if (take_name(c, false, &name, &name_len, error_r) != 0)
		return -1;
	const unsigned char *lenp = take(c, 4);
	if (lenp == NULL) {
		*error_r = "truncated attribute";
		return -1;
	}
	uint32_t value_len = get_u32(lenp);
	const unsigned char *value = take(c, value_len);
	if (value == NULL) {
		*error_r = "attribute value overruns the record";
		return -1;
	}
	if (*type == IPC_INT && value_len != IPC_INT_SIZE) {
		*error_r = "integer attribute is not 8 bytes";
		return -1;
	}
	if (*type == IPC_STR && memchr(value, '\0', value_len) != NULL) {
		*error_r = "NUL byte in a string attribute";
		return -1;
	}
	struct ipc_attr *a = add_attr(rec, (enum ipc_attr_type) * type, name, name_len);
	if (*type == IPC_INT)
		a->num = (int64_t)((uint64_t)get_u32(value) << 32 | get_u32(value + 4));
	else
		set_value(a, value, value_len);
	return 0;
}

int ipc_rec_decode(const void *buf, size_t len, size_t max_len, struct ipc_rec **rec_r,
                   size_t *used_r, const char **error_r)
{
	if (max_len == 0 || max_len > IPC_MAX_RECORD)
		max_len = IPC_MAX_RECORD;
	if (len < IPC_HEADER_SIZE)
		return 0;
	uint32_t body = get_u32(buf);
	if (body > max_len) {
		*error_r = "record too large";
		return -1;
	}
	if (len - IPC_HEADER_SIZE < body)
		return 0;

	struct cursor c = {(const unsigned char *)buf + IPC_HEADER_SIZE, body};
	const char *name;
	size_t name_len;
	if (take_name(&c, true, &name, &name_len, error_r) != 0)
		return -1;
	struct ipc_rec *rec = xcalloc(1, sizeof(*rec));
	rec->name = xstrndup(name, name_len);
	while (c.left > 0) {
		if (decode_attr(&c, rec, error_r) != 0) {
			ipc_rec_free(rec);
			return -1;
		}
	}
	*rec_r = rec;
	*used_r = IPC_HEADER_SIZE + (size_t)body;
	return 1;
}

/* ---- Blocking I/O with a deadline ---- */

static int64_t deadline_after(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : event_now_ms() + timeout_ms;
}

/* Wait until fd is ready for events or the deadline (-1: none) passes.
 * 0 ready (or in error/hang-up state: the next call reports it),
 * -1 with errno (ETIMEDOUT). */
static int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = {.fd = fd, .events = events};
	for (;;) {
		int timeout = -1;
		if (deadline >= 0) {
			int64_t left = deadline - event_now_ms();
			timeout = left <= 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
		}
		int n = poll(&pfd, 1, timeout);
		if (n > 0)
			return 0;
		if (n == 0 && timeout >= 0 && (deadline - event_now_ms()) <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

/* One write attempt. Sockets are written with send() so that a closed peer
 * gives EPIPE instead of SIGPIPE, and without blocking. Other descriptors
 * (pipes) may be in blocking mode: wait until there is room, then write at
 * most PIPE_BUF bytes, which a pipe with room takes without blocking. */
static ssize_t write_some(int fd, bool *is_socket, const char *p, size_t len, int64_t deadline)
{
	if (*is_socket) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n >= 0 || errno != ENOTSOCK)
			return n;
		*is_socket = false;
	}
	if (wait_fd(fd, POLLOUT, deadline) != 0)
		return -1;
	return write(fd, p, len < PIPE_BUF ? len : PIPE_BUF);
}

static int write_all(int fd, const char *p, size_t len, int64_t deadline)
{
	bool is_socket = true;
	size_t off = 0;
	while (off < len) {
		ssize_t n = write_some(fd, &is_socket, p + off, len - off, deadline);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == ETIMEDOUT)
			return -1;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if (wait_fd(fd, POLLOUT, deadline) != 0)
			return -1;
	}
	return 0;
}

int ipc_write(int fd, const struct ipc_rec *rec, int timeout_ms)
{
	int64_t deadline = deadline_after(timeout_ms);
	struct str buf = STR_INIT;
	ipc_rec_encode(rec, &buf);
	int rc;
	if (buf.len - IPC_HEADER_SIZE > IPC_MAX_RECORD) {
		errno = EMSGSIZE;
		rc = -1;
	} else {
		rc = write_all(fd, buf.data, buf.len, deadline);
	}
	int saved = errno;
	str_free(&buf);
	errno = saved;
	return rc;
}

/* One read of at most want bytes into buf. With data_expected (the rest of
 * a record whose header has come: a writer sends a record at once), a
 * socket is read without waiting first, and waited for only if it has
 * nothing yet; otherwise, and for other descriptors, poll comes first. */
static ssize_t read_some(int fd, struct str *buf, size_t want, bool data_expected, int64_t deadline,
                         const char **error_r)
{
	if (data_expected) {
		ssize_t n = recv(fd, buf->data + buf->len, want, MSG_DONTWAIT);
		if (n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOTSOCK))
			return n;
	}
	if (wait_fd(fd, POLLIN, deadline) != 0) {
		*error_r = errno == ETIMEDOUT ? "timed out" : strerror(errno);
		return -2;
	}
	return read(fd, buf->data + buf->len, want);
}

/* Read until buf holds total bytes: 1 done, 0 end of file, -1 error. Reads
 * never go past total, so the bytes of a following record stay in fd. */
static int read_until(int fd, struct str *buf, size_t total, bool data_expected, int64_t deadline,
                      const char **error_r)
{
	while (buf->len < total) {
		size_t want = total - buf->len;
		if (want > IPC_READ_CHUNK)
			want = IPC_READ_CHUNK;
		str_reserve(buf, want);
		ssize_t n = read_some(fd, buf, want, data_expected, deadline, error_r);
		if (n == -2)
			return -1;
		if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
			continue;
		if (n < 0) {
			*error_r = strerror(errno);
			return -1;
		}
		if (n == 0)
			return 0;
		buf->len += (size_t)n;
	}
	return 1;
}

static int decode_buffer(const struct str *buf, size_t max_len, struct ipc_rec **rec_r,
                         const char **error_r)
{
	size_t used;
	int rc = ipc_rec_decode(buf->data, buf->len, max_len, rec_r, &used, error_r);
	if (rc < 0)
		errno = EPROTO;
	return rc;
}

/* End of file after buf->len bytes of a record. */
static int end_of_file(const struct str *buf, const char **error_r)
{
	if (buf->len == 0)
		return 0;
	*error_r = "truncated record";
	errno = EPROTO;
	return -1;
}

/* Header, then body; the deadline covers the whole record. */
static int read_record(int fd, struct str *buf, struct ipc_rec **rec_r, size_t max_len,
                       int64_t deadline, const char **error_r)
{
	int rc = read_until(fd, buf, IPC_HEADER_SIZE, false, deadline, error_r);
	if (rc != 1)
		return rc == 0 ? end_of_file(buf, error_r) : -1;
	/* With the header alone: 0 (the body is to come) or -1 (too large). */
	rc = decode_buffer(buf, max_len, rec_r, error_r);
	if (rc != 0)
		return rc;
	size_t total = IPC_HEADER_SIZE + (size_t)get_u32((const unsigned char *)buf->data);
	rc = read_until(fd, buf, total, true, deadline, error_r);
	if (rc != 1)
		return rc == 0 ? end_of_file(buf, error_r) : -1;
	return decode_buffer(buf, max_len, rec_r, error_r);
}

int ipc_read(int fd, struct ipc_rec **rec_r, size_t max_len, int timeout_ms, const char **error_r)
{
	struct str buf = STR_INIT;
	int rc = read_record(fd, &buf, rec_r, max_len, deadline_after(timeout_ms), error_r);
	int saved = errno;
	str_free(&buf);
	errno = saved;
	return rc;
}

/* ---- Incremental reading for event loops ---- */

void ipc_reader_init(struct ipc_reader *r, size_t max_len)
{
	str_init(&r->buf);
	r->max_len = max_len;
}

void ipc_reader_free(struct ipc_reader *r)
{
	str_free(&r->buf);
}

int ipc_reader_fill(struct ipc_reader *r, int fd)
{
	str_reserve(&r->buf, IPC_READ_CHUNK);
	for (;;) {
		ssize_t n = read(fd, r->buf.data + r->buf.len, IPC_READ_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		r->buf.len += (size_t)n;
		r->buf.data[r->buf.len] = '\0';
		return 1;
	}
}

int ipc_reader_next(struct ipc_reader *r, struct ipc_rec **rec_r, const char **error_r)
{
	size_t used;
	int rc = ipc_rec_decode(r->buf.data, r->buf.len, r->max_len, rec_r, &used, error_r);
	if (rc == 1)
		str_consume(&r->buf, used);
	return rc;
}

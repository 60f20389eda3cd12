/*
 * Typed name/value records between Postern programs (format in ipc.h):
 * building, encoding, a strict decoder, and blocking and incremental I/O.
 */
#include "util/ipc.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util/alloc.h"

struct ipc_rec *ipc_rec_new(const char *name)
{
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

static struct ipc_attr *add_attr(struct ipc_rec *rec, enum ipc_attr_type type, const char *name)
{
	if (rec->count == rec->cap) {
		rec->cap = rec->cap ? rec->cap * 2 : 8;
		rec->attrs = xreallocarray(rec->attrs, rec->cap, sizeof(*rec->attrs));
	}
	struct ipc_attr *a = &rec->attrs[rec->count++];
	memset(a, 0, sizeof(*a));
	a->type = type;
	a->name = xstrdup(name);
	return a;
}

void ipc_rec_add_int(struct ipc_rec *rec, const char *name, int64_t value)
{
	add_attr(rec, IPC_INT, name)->num = value;
}

static void set_bytes(struct ipc_attr *a, const void *data, size_t len)
{
	a->value = xmalloc(len + 1);
	if (len)
		memcpy(a->value, data, len);
	a->value[len] = '\0';
	a->value_len = len;
}

void ipc_rec_add_str(struct ipc_rec *rec, const char *name, const char *value)
{
	set_bytes(add_attr(rec, IPC_STR, name), value, strlen(value));
}

void ipc_rec_add_data(struct ipc_rec *rec, const char *name, const void *data, size_t len)
{
	set_bytes(add_attr(rec, IPC_DATA, name), data, len);
}

const struct ipc_attr *ipc_rec_find(const struct ipc_rec *rec, const char *name)
{
	for (size_t i = 0; i < rec->count; i++)
		if (strcmp(rec->attrs[i].name, name) == 0)
			return &rec->attrs[i];
	return NULL;
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
	for (size_t i = 0; i < rec->count; i++)
		if (strcmp(rec->attrs[i].name, name) == 0 && n-- == 0)
			return &rec->attrs[i];
	return NULL;
}

bool ipc_rec_is(const struct ipc_rec *rec, const char *name)
{
	return strcmp(rec->name, name) == 0;
}

static void put_u32(struct str *out, uint32_t v)
{
	unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
	                      (unsigned char)(v >> 8), (unsigned char)v};
	str_append(out, b, 4);
}

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void ipc_rec_encode(const struct ipc_rec *rec, struct str *out)
{
	size_t start = out->len;
	put_u32(out, 0); /* body length, filled in below */
	size_t name_len = strlen(rec->name);
	str_append_char(out, (char)name_len);
	str_append(out, rec->name, name_len);
	for (size_t i = 0; i < rec->count; i++) {
		const struct ipc_attr *a = &rec->attrs[i];
		size_t n = strlen(a->name);
		str_append_char(out, (char)a->type);
		str_append_char(out, (char)n);
		str_append(out, a->name, n);
		if (a->type == IPC_INT) {
			put_u32(out, 8);
			uint64_t v = (uint64_t)a->num;
			put_u32(out, (uint32_t)(v >> 32));
			put_u32(out, (uint32_t)v);
		} else {
			put_u32(out, (uint32_t)a->value_len);
			str_append(out, a->value, a->value_len);
		}
	}
	uint32_t body = (uint32_t)(out->len - start - 4);
	unsigned char *p = (unsigned char *)out->data + start;
	p[0] = (unsigned char)(body >> 24);
	p[1] = (unsigned char)(body >> 16);
	p[2] = (unsigned char)(body >> 8);
	p[3] = (unsigned char)body;
}

static bool name_ok(const unsigned char *p, size_t len)
{
	if (len == 0 || len > IPC_MAX_NAME)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = p[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

int ipc_rec_decode(const void *buf, size_t len, size_t max_len, struct ipc_rec **rec_r,
                   size_t *used_r, const char **error_r)
{
	const unsigned char *p = buf;
	if (max_len == 0 || max_len > IPC_MAX_RECORD)
		max_len = IPC_MAX_RECORD;
	if (len < 4)
		return 0;
	uint32_t body = get_u32(p);
	if (body > max_len) {
		*error_r = "record too large";
		return -1;
	}
	if (len - 4 < body)
		return 0;
	const unsigned char *q = p + 4, *end = p + 4 + body;
	if (q >= end || (size_t)(end - q - 1) < *q || !name_ok(q + 1, *q)) {
		*error_r = "bad record name";
		return -1;
	}
	struct ipc_rec *rec = xcalloc(1, sizeof(*rec));
	rec->name = xstrndup((const char *)q + 1, *q);
	q += 1 + *q;
	while (q < end) {
		if (end - q < 2) {
			*error_r = "truncated attribute";
			goto fail;
		}
		unsigned char type = q[0], name_len = q[1];
		if (type != IPC_INT && type != IPC_STR && type != IPC_DATA) {
			*error_r = "bad attribute type";
			goto fail;
		}
		if ((size_t)(end - q - 2) < (size_t)name_len + 4 || !name_ok(q + 2, name_len)) {
			*error_r = "bad attribute name";
			goto fail;
		}
		char *name = xstrndup((const char *)q + 2, name_len);
		q += 2 + name_len;
		uint32_t vlen = get_u32(q);
		q += 4;
		if ((size_t)(end - q) < vlen || (type == IPC_INT && vlen != 8) ||
		    (type == IPC_STR && memchr(q, '\0', vlen) != NULL)) {
			free(name);
			*error_r = type == IPC_STR && (size_t)(end - q) >= vlen
			               ? "NUL byte in a string attribute"
			               : "bad attribute value length";
			goto fail;
		}
		struct ipc_attr *a = add_attr(rec, (enum ipc_attr_type)type, name);
		free(name);
		if (type == IPC_INT) {
			uint64_t v = (uint64_t)get_u32(q) << 32 | get_u32(q + 4);
			a->num = (int64_t)v;
		} else {
			set_bytes(a, q, vlen);
		}
		q += vlen;
	}
	*rec_r = rec;
	*used_r = 4 + body;
	return 1;
fail:
	ipc_rec_free(rec);
	return -1;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for events on fd until deadline (-1: forever); 0 ready, -1 errno. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = {.fd = fd, .events = events};
	for (;;) {
		int timeout = -1;
		if (deadline >= 0) {
			int64_t left = deadline - now_ms();
			if (left <= 0) {
				errno = ETIMEDOUT;
				return -1;
			}
			timeout = (int)left;
		}
		int n = poll(&pfd, 1, timeout);
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

static ssize_t write_some(int fd, const char *p, size_t len)
{
	ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0 && errno == ENOTSOCK)
		n = write(fd, p, len);
	return n;
}

int ipc_write(int fd, const struct ipc_rec *rec, int timeout_ms)
{
	struct str buf = STR_INIT;
	ipc_rec_encode(rec, &buf);
	int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	size_t off = 0;
	int rc = 0;
	while (off < buf.len) {
		ssize_t n = write_some(fd, buf.data + off, buf.len - off);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_fd(fd, POLLOUT, deadline) == 0)
				continue;
		}
		rc = -1;
		break;
	}
	int saved = errno;
	str_free(&buf);
	errno = saved;
	return rc;
}

int ipc_read(int fd, struct ipc_rec **rec_r, size_t max_len, int timeout_ms, const char **error_r)
{
	int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	struct str buf = STR_INIT;
	size_t need = 4;
	int rc = -1;
	for (;;) {
		size_t used;
		int d = ipc_rec_decode(buf.data ? buf.data : "", buf.len, max_len, rec_r, &used,
		                       error_r);
		if (d == 1) {
			rc = 1;
			break;
		}
		if (d < 0)
			break;
		if (buf.len >= 4)
			need = 4 + get_u32((const unsigned char *)buf.data);
		if (wait_fd(fd, POLLIN, deadline) != 0) {
			*error_r = errno == ETIMEDOUT ? "timed out" : "poll failed";
			break;
		}
		str_reserve(&buf, need - buf.len);
		ssize_t n = read(fd, buf.data + buf.len, need - buf.len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
			continue;
		if (n < 0) {
			*error_r = "read failed";
			break;
		}
		if (n == 0) {
			if (buf.len == 0)
				rc = 0;
			else
				*error_r = "truncated record";
			break;
		}
		buf.len += (size_t)n;
	}
	int saved = errno;
	str_free(&buf);
	errno = saved;
	return rc;
}

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
	str_reserve(&r->buf, 65536);
	for (;;) {
		ssize_t n = read(fd, r->buf.data + r->buf.len, 65536);
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
	int rc = ipc_rec_decode(r->buf.data ? r->buf.data : "", r->buf.len, r->max_len, rec_r,
	                        &used, error_r);
	if (rc == 1)
		str_consume(&r->buf, used);
	return rc;
}

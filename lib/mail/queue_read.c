/*
 * Reading a queue file (format in queue.h): parsing the envelope, a pure
 * function over the bytes (what the fuzz target drives), and reading a
 * file whole: the envelope, then the content's size, crc and end record,
 * so that a damaged or truncated file is always rejected.
 */
#include "mail/queue.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "mail/queue_internal.h"
#include "util/alloc.h"
#include "util/ipc.h"

static char *dup_attr(const struct ipc_rec *rec, const char *name)
{
	const char *v = ipc_rec_get_str(rec, name);
	return xstrdup(v ? v : "");
}

static int load_envelope_record(const struct ipc_rec *rec, struct queue_envelope *env,
                                const char **error_r)
{
	const char *id = ipc_rec_get_str(rec, "id");
	int64_t arrival = 0, smtputf8 = 0;
	if (id == NULL || !queue_id_valid(id) || ipc_rec_get_str(rec, "sender") == NULL ||
	    !ipc_rec_get_int(rec, "arrival", &arrival)) {
		*error_r = "envelope record lacks id, sender or arrival";
		return -1;
	}
	memcpy(env->id, id, QUEUE_ID_LEN + 1);
	env->arrival = arrival;
	ipc_rec_get_int(rec, "smtputf8", &smtputf8);
	env->smtputf8 = smtputf8 != 0;
	env->sender = dup_attr(rec, "sender");
	env->envid = dup_attr(rec, "envid");
	env->ret = dup_attr(rec, "ret");
	env->body = dup_attr(rec, "body");
	env->client_name = dup_attr(rec, "client_name");
	env->client_addr = dup_attr(rec, "client_addr");
	env->client_port = dup_attr(rec, "client_port");
	env->helo = dup_attr(rec, "helo");
	env->protocol = dup_attr(rec, "protocol");
	env->tls = dup_attr(rec, "tls");
	env->auth_user = dup_attr(rec, "auth_user");
	env->origin = dup_attr(rec, "origin");
	env->hold_reason = dup_attr(rec, "hold_reason");
	env->filter = dup_attr(rec, "filter");
	env->verify = dup_attr(rec, "verify");
	int64_t trace = 0;
	ipc_rec_get_int(rec, "trace", &trace);
	env->trace = trace == 1;
	if (*env->verify && !queue_verify_mode_valid(env->verify)) {
		*error_r = "envelope record has an unknown verify mode";
		return -1;
	}
	return 0;
}

/* queue_file_parse_envelope keeping the recipients [first, first + max). */
static int parse_envelope(const void *data, size_t len, size_t first, size_t max,
                          struct queue_envelope *env, size_t *content_offset_r,
                          const char **error_r)
{
	const char *p = data;
	size_t magic_len = strlen(QUEUE_MAGIC);
	queue_envelope_init(env);
	env->rcpt_first = first;
	if (len == 0)
		return 0;
	if (len < magic_len) {
		if (memcmp(p, QUEUE_MAGIC, len) == 0)
			return 0;
		*error_r = "not a queue file";
		return -1;
	}
	if (memcmp(p, QUEUE_MAGIC, magic_len) != 0) {
		*error_r = "not a queue file (bad magic or version)";
		return -1;
	}
	size_t pos = magic_len;
	bool have_envelope = false;
	for (;;) {
		struct ipc_rec *rec;
		size_t used;
		int rc = ipc_rec_decode(p + pos, len - pos, 1024 * 1024, &rec, &used, error_r);
		if (rc <= 0) {
			queue_envelope_free(env);
			return rc;
		}
		pos += used;
		int result = 0;
		if (ipc_rec_is(rec, "envelope") && !have_envelope) {
			result = load_envelope_record(rec, env, error_r);
			have_envelope = true;
		} else if (ipc_rec_is(rec, "rcpt") && have_envelope) {
			const char *addr = ipc_rec_get_str(rec, "address");
			if (addr == NULL || *addr == '\0') {
				*error_r = "recipient record without address";
				result = -1;
			} else {
				size_t index = env->rcpt_total++;
				int64_t pending = 0;
				ipc_rec_get_int(rec, "valias_pending", &pending);
				if (index >= first && index - first < max) {
					queue_envelope_add_rcpt(env, addr,
					                        ipc_rec_get_str(rec, "orcpt"),
					                        ipc_rec_get_str(rec, "notify"));
					env->rcpts[env->rcpt_count - 1].valias_pending =
					    pending != 0;
				}
			}
		} else if (ipc_rec_is(rec, "content") && have_envelope) {
			int64_t size = -1;
			if (!ipc_rec_get_int(rec, "size", &size) || size < 0) {
				*error_r = "content record without a valid size";
				result = -1;
			} else if (env->rcpt_total == 0) {
				*error_r = "queue file has no recipients";
				result = -1;
			} else {
				env->size = size;
				*content_offset_r = pos;
				ipc_rec_free(rec);
				return 1;
			}
		} else {
			*error_r = "unexpected record in queue file";
			result = -1;
		}
		ipc_rec_free(rec);
		if (result < 0) {
			queue_envelope_free(env);
			return -1;
		}
	}
}

int queue_file_parse_envelope(const void *data, size_t len, struct queue_envelope *env,
                              size_t *content_offset_r, const char **error_r)
{
	return parse_envelope(data, len, 0, SIZE_MAX, env, content_offset_r, error_r);
}

/* pread exactly len bytes at off: 0, or -1 on error or end of file. */
int queue_read_exactly(int fd, void *buf, size_t len, off_t off)
{
	char *p = buf;
	while (len > 0) {
		ssize_t n = pread(fd, p, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/* The first bytes of a queue file, as read for the envelope. */
struct file_head {
	const char *data;
	uint64_t len;
};

/* len bytes at off: from head when they are in it (a small file is read
 * whole at once), else read from fd into buf. NULL on error. */
static const char *bytes_at(int fd, const struct file_head *head, char *buf, size_t len,
                            uint64_t off)
{
	if (off <= head->len && len <= head->len - off)
		return head->data + off;
	return queue_read_exactly(fd, buf, len, (off_t)off) == 0 ? buf : NULL;
}

/* Checksum the content bytes [start, end) and check that exactly one valid
 * "end" record with that crc follows up to file_size. */
static int check_content(int fd, const struct file_head *head, uint64_t start, uint64_t end,
                         uint64_t file_size, const char **error_r)
{
	uLong crc = crc32(0L, Z_NULL, 0);
	char buf[65536];
	for (uint64_t off = start; off < end;) {
		size_t chunk = end - off < sizeof(buf) ? (size_t)(end - off) : sizeof(buf);
		const char *bytes = bytes_at(fd, head, buf, chunk, off);
		if (bytes == NULL) {
			*error_r = "read error in the content";
			return -1;
		}
		crc = crc32_z(crc, (const Bytef *)bytes, chunk);
		off += chunk;
	}
	uint64_t tail_len = file_size - end;
	if (tail_len > 4096) {
		*error_r = "data after the end record";
		return -1;
	}
	struct ipc_rec *rec = NULL;
	size_t used = 0;
	int64_t stored = -1;
	const char *ignored;
	const char *tail = bytes_at(fd, head, buf, (size_t)tail_len, end);
	bool ok = tail != NULL &&
	          ipc_rec_decode(tail, (size_t)tail_len, 4096, &rec, &used, &ignored) == 1 &&
	          used == tail_len && ipc_rec_is(rec, "end") &&
	          ipc_rec_get_int(rec, "crc32", &stored) && stored >= 0 && (uint64_t)stored == crc;
	ipc_rec_free(rec);
	if (!ok) {
		*error_r = "missing or wrong end record (incomplete or damaged file)";
		return -1;
	}
	return 0;
}

int queue_file_read(const char *path, struct queue_envelope *env, size_t *content_offset_r,
                    const char **error_r)
{
	return queue_file_read_window(path, 0, SIZE_MAX, env, content_offset_r, error_r);
}

/* queue_file_read_window on an open descriptor. */
static int read_window_fd(int fd, size_t first, size_t max, struct queue_envelope *env,
                          size_t *content_offset_r, const char **error_r)
{
	queue_envelope_init(env);
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		*error_r = "not a regular file";
		return -1;
	}
	uint64_t file_size = (uint64_t)st.st_size;
	size_t want = file_size < QUEUE_MAX_ENVELOPE ? (size_t)file_size : QUEUE_MAX_ENVELOPE;
	char *head = xmalloc(want + 1);
	size_t offset = 0;
	int rc = -1;
	if (queue_read_exactly(fd, head, want, 0) != 0) {
		*error_r = "short read";
		goto out;
	}
	rc = parse_envelope(head, want, first, max, env, &offset, error_r);
	if (rc == 0)
		*error_r = "queue file truncated in the envelope";
	if (rc != 1) {
		rc = -1;
		goto out;
	}
	rc = -1;
	uint64_t end = (uint64_t)offset + (uint64_t)env->size;
	if (end > file_size) {
		*error_r = "queue file truncated in the content";
		queue_envelope_free(env);
		goto out;
	}
	struct file_head in_memory = {head, want};
	if (check_content(fd, &in_memory, offset, end, file_size, error_r) != 0) {
		queue_envelope_free(env);
		goto out;
	}
	*content_offset_r = offset;
	rc = 0;
out:
	free(head);
	return rc;
}

int queue_file_read_fd(int fd, struct queue_envelope *env, size_t *content_offset_r,
                       const char **error_r)
{
	return read_window_fd(fd, 0, SIZE_MAX, env, content_offset_r, error_r);
}

int queue_file_read_window(const char *path, size_t first, size_t max, struct queue_envelope *env,
                           size_t *content_offset_r, const char **error_r)
{
	/* Queue files are never symlinks, and a FIFO must not block us. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		queue_envelope_init(env);
		*error_r = queue_set_error("open %s: %s", path, strerror(errno));
		return -1;
	}
	int rc = read_window_fd(fd, first, max, env, content_offset_r, error_r);
	close(fd);
	return rc;
}

/*
 * Writing a queue file (queue.h): the envelope and content are written
 * under tmp/ (into a free file when there is one, queue_tmp.c), then the
 * file is renamed into place, and it and its directory are fsync'd before
 * anyone is told it exists. An envelope the reader would reject is never
 * written.
 */
#include "mail/queue.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "mail/queue_internal.h"
#include "util/alloc.h"
#include "util/dir_sync.h"
#include "util/ipc.h"
#include "util/no_replace.h"

static const char *or_empty(const char *s)
{
	return s ? s : "";
}

static void encode_envelope(const struct queue_envelope *env, struct str *out)
{
	struct ipc_rec *rec = ipc_rec_new("envelope");
	ipc_rec_add_str(rec, "id", env->id);
	ipc_rec_add_int(rec, "arrival", env->arrival);
	ipc_rec_add_str(rec, "sender", or_empty(env->sender));
	ipc_rec_add_str(rec, "envid", or_empty(env->envid));
	ipc_rec_add_str(rec, "ret", or_empty(env->ret));
	ipc_rec_add_str(rec, "body", or_empty(env->body));
	ipc_rec_add_int(rec, "smtputf8", env->smtputf8);
	ipc_rec_add_str(rec, "client_name", or_empty(env->client_name));
	ipc_rec_add_str(rec, "client_addr", or_empty(env->client_addr));
	ipc_rec_add_str(rec, "client_port", or_empty(env->client_port));
	ipc_rec_add_str(rec, "helo", or_empty(env->helo));
	ipc_rec_add_str(rec, "protocol", or_empty(env->protocol));
	ipc_rec_add_str(rec, "tls", or_empty(env->tls));
	ipc_rec_add_str(rec, "auth_user", or_empty(env->auth_user));
	ipc_rec_add_str(rec, "origin", or_empty(env->origin));
	if (env->hold_reason && *env->hold_reason)
		ipc_rec_add_str(rec, "hold_reason", env->hold_reason);
	if (env->filter && *env->filter)
		ipc_rec_add_str(rec, "filter", env->filter);
	if (env->verify && *env->verify)
		ipc_rec_add_str(rec, "verify", env->verify);
	if (env->trace)
		ipc_rec_add_int(rec, "trace", 1);
	ipc_rec_encode(rec, out);
	ipc_rec_free(rec);
	for (size_t i = 0; i < env->rcpt_count; i++) {
		rec = ipc_rec_new("rcpt");
		ipc_rec_add_str(rec, "address", env->rcpts[i].address);
		ipc_rec_add_str(rec, "orcpt", env->rcpts[i].orcpt);
		ipc_rec_add_str(rec, "notify", env->rcpts[i].notify);
		if (env->rcpts[i].valias_pending)
			ipc_rec_add_int(rec, "valias_pending", 1);
		ipc_rec_encode(rec, out);
		ipc_rec_free(rec);
	}
}

struct queue_writer {
	char *queue_dir;
	char *tmp_path;
	char id[QUEUE_ID_LEN + 1];
	int fd;
	int64_t size;
	uLong crc;
	struct str buf;
	off_t size_offset; /* where the content record's size value sits */
	size_t rcpt_count; /* recipients in the envelope written */
	bool failed;
};

static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int writer_flush(struct queue_writer *w, const char **error_r)
{
	if (w->buf.len == 0)
		return 0;
	if (write_all(w->fd, w->buf.data, w->buf.len) != 0) {
		*error_r = queue_set_error("write %s: %s", w->tmp_path, strerror(errno));
		w->failed = true;
		return -1;
	}
	str_clear(&w->buf);
	return 0;
}

/* Never write a file that the reader would reject (no recipients, a record
 * or the envelope too large to read back): parse what was encoded. */
static int check_readable(const struct str *encoded, const char **why_r)
{
	if (encoded->len > QUEUE_MAX_ENVELOPE) {
		*why_r = "envelope larger than 1 MiB";
		return -1;
	}
	struct queue_envelope check;
	size_t offset;
	int rc = queue_file_parse_envelope(encoded->data, encoded->len, &check, &offset, why_r);
	if (rc == 0)
		*why_r = "incomplete envelope";
	if (rc != 1)
		return -1;
	queue_envelope_free(&check);
	return 0;
}

/* An empty file under tmp/ with a fresh unique name: a free one if there
 * is one, else a new one. */
static int create_tmp_file(const char *queue_dir, char **path_r, const char **error_r)
{
	char *path = NULL;
	int fd = -1;
	for (int attempt = 0; attempt < 10 && fd < 0; attempt++) {
		char name[QUEUE_ID_LEN + 1];
		queue_id_new(name);
		free(path);
		path = xasprintf("%s/tmp/%s", queue_dir, name);
		if (attempt == 0 &&
		    (fd = queue_take_free_file(queue_dir, path, O_WRONLY | O_TRUNC)) >= 0)
			break;
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0) {
		*error_r = queue_set_error("create %s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	*path_r = path;
	return fd;
}

/* One empty file made ahead of need by queue_writer_prepare, so that a
 * message's commit does not wait for the file system to allocate an inode.
 * Given back to the free files at exit; one left by a killed process is
 * swept from tmp/. */
static struct {
	char *queue_dir;
	char *path;
	int fd;
} spare = {NULL, NULL, -1};

static void discard_spare(void)
{
	if (spare.fd < 0)
		return;
	close(spare.fd);
	queue_file_recycle(spare.queue_dir, spare.path);
	free(spare.path);
	free(spare.queue_dir);
	spare.path = spare.queue_dir = NULL;
	spare.fd = -1;
}

void queue_writer_prepare(const char *queue_dir)
{
	static bool registered;
	if (spare.fd >= 0 && strcmp(spare.queue_dir, queue_dir) == 0)
		return;
	discard_spare();
	const char *error;
	spare.fd = create_tmp_file(queue_dir, &spare.path, &error);
	if (spare.fd < 0)
		return; /* queue_writer_open tries again and reports the error */
	spare.queue_dir = xstrdup(queue_dir);
	if (!registered) {
		atexit(discard_spare);
		registered = true;
	}
}

struct queue_writer *queue_writer_open(const char *queue_dir, struct queue_envelope *env,
                                       const char **error_r)
{
	return queue_writer_open_id(queue_dir, env, NULL, error_r);
}

struct queue_writer *queue_writer_open_id(const char *queue_dir, struct queue_envelope *env,
                                          const char *id, const char **error_r)
{
	struct queue_writer *w = xcalloc(1, sizeof(*w));
	w->queue_dir = xstrdup(queue_dir);
	if (spare.fd >= 0 && strcmp(spare.queue_dir, queue_dir) == 0) {
		w->fd = spare.fd;
		w->tmp_path = spare.path;
		free(spare.queue_dir);
		spare.path = spare.queue_dir = NULL;
		spare.fd = -1;
	} else {
		w->fd = create_tmp_file(queue_dir, &w->tmp_path, error_r);
		if (w->fd < 0) {
			queue_writer_abort(w);
			return NULL;
		}
	}
	/* The id is the arrival time of this message, not of its file (or the
	 * id the caller chose earlier, e.g. at MAIL FROM). */
	if (queue_id_valid(id))
		memcpy(w->id, id, sizeof(w->id));
	else
		queue_id_new(w->id);
	memcpy(env->id, w->id, sizeof(w->id));
	w->crc = crc32(0L, Z_NULL, 0);
	str_append_cstr(&w->buf, QUEUE_MAGIC);
	encode_envelope(env, &w->buf);
	/* The content size is known only at the end: its 8-byte value is the
	 * last thing in the record and is filled in by queue_writer_commit. */
	struct ipc_rec *rec = ipc_rec_new("content");
	ipc_rec_add_int(rec, "size", 0);
	ipc_rec_encode(rec, &w->buf);
	ipc_rec_free(rec);
	w->size_offset = (off_t)w->buf.len - 8;
	w->rcpt_count = env->rcpt_count;
	const char *why;
	if (check_readable(&w->buf, &why) != 0) {
		*error_r = queue_set_error("cannot queue this envelope: %s", why);
		queue_writer_abort(w);
		return NULL;
	}
	return w;
}

int queue_writer_replace_envelope(struct queue_writer *w, struct queue_envelope *env,
                                  const char **error_r)
{
	if (w->failed || w->fd < 0 || w->size != 0) {
		*error_r = "the envelope can only be replaced before any content";
		return -1;
	}
	struct str buf = STR_INIT;
	memcpy(env->id, w->id, sizeof(w->id));
	str_append_cstr(&buf, QUEUE_MAGIC);
	encode_envelope(env, &buf);
	struct ipc_rec *rec = ipc_rec_new("content");
	ipc_rec_add_int(rec, "size", 0);
	ipc_rec_encode(rec, &buf);
	ipc_rec_free(rec);
	const char *why;
	if (check_readable(&buf, &why) != 0) {
		*error_r = queue_set_error("cannot queue this envelope: %s", why);
		str_free(&buf);
		return -1;
	}
	str_free(&w->buf);
	w->buf = buf;
	w->size_offset = (off_t)w->buf.len - 8;
	w->rcpt_count = env->rcpt_count;
	return 0;
}

int queue_writer_write(struct queue_writer *w, const void *data, size_t len, const char **error_r)
{
	if (w->failed || w->fd < 0) {
		*error_r = w->failed ? "earlier write failed" : "queue file already committed";
		return -1;
	}
	if (len == 0)
		return 0;
	str_append(&w->buf, data, len);
	w->size += (int64_t)len;
	w->crc = crc32_z(w->crc, data, len);
	if (w->buf.len >= 65536)
		return writer_flush(w, error_r);
	return 0;
}

int queue_writer_copy_content(struct queue_writer *w, const char *path, size_t offset, int64_t size,
                              const char **error_r)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		*error_r = queue_set_error("open %s: %s", path, strerror(errno));
		return -1;
	}
	char buf[65536];
	int rc = 0;
	for (uint64_t done = 0; rc == 0 && size > 0 && done < (uint64_t)size;) {
		uint64_t left = (uint64_t)size - done;
		size_t chunk = left < sizeof(buf) ? (size_t)left : sizeof(buf);
		errno = 0;
		if (queue_read_exactly(fd, buf, chunk, (off_t)(offset + done)) != 0) {
			*error_r =
			    queue_set_error("read %s: %s", path,
			                    errno ? strerror(errno) : "unexpected end of file");
			rc = -1;
		} else {
			rc = queue_writer_write(w, buf, chunk, error_r);
			done += chunk;
		}
	}
	close(fd);
	return rc;
}

int queue_writer_content(struct queue_writer *w, const char **path_r, size_t *offset_r,
                         int64_t *size_r, const char **error_r)
{
	if (w->failed || w->fd < 0) {
		*error_r = w->failed ? "earlier write failed" : "queue file already committed";
		return -1;
	}
	if (writer_flush(w, error_r) != 0)
		return -1;
	*path_r = w->tmp_path;
	*offset_r = (size_t)w->size_offset + 8; /* the content follows its size */
	*size_r = w->size;
	return 0;
}

int64_t queue_writer_size(const struct queue_writer *w)
{
	return w->size;
}

const char *queue_writer_id(const struct queue_writer *w)
{
	return w->id;
}

size_t queue_writer_rcpt_count(const struct queue_writer *w)
{
	return w->rcpt_count;
}

int queue_writer_commit(struct queue_writer *w, const char *subdir, const char **error_r)
{
	if (w->failed || w->fd < 0) {
		*error_r = w->failed ? "earlier write failed" : "queue file already committed";
		return -1;
	}
	struct ipc_rec *rec = ipc_rec_new("end");
	ipc_rec_add_int(rec, "crc32", (int64_t)w->crc);
	ipc_rec_encode(rec, &w->buf);
	ipc_rec_free(rec);
	if (writer_flush(w, error_r) != 0)
		return -1;
	unsigned char be[8];
	for (int i = 0; i < 8; i++)
		be[i] = (unsigned char)((uint64_t)w->size >> (56 - 8 * i));
	ssize_t n = pwrite(w->fd, be, 8, w->size_offset);
	if (n != 8) {
		*error_r = queue_set_error("write %s: %s", w->tmp_path,
		                           n < 0 ? strerror(errno) : "short write");
		w->failed = true;
		return -1;
	}
	/* The file is complete before it becomes visible, so it is renamed
	 * first and made durable after: one fsync of the file then commits
	 * the data, the inode and (on journalling file systems) the rename
	 * in a single journal transaction. The directory fsync that POSIX
	 * asks for follows, except where that fsync is known to have made
	 * the rename durable already (fs_journal_ordered: ext4 with an
	 * ordered journal). Nothing is acknowledged before they returned. */
	char *final = xasprintf("%s/%s/%s", w->queue_dir, subdir, w->id);
	if (rename_no_replace(w->tmp_path, final) != 0) {
		*error_r = queue_set_error("rename to %s: %s", final, strerror(errno));
		free(final);
		w->failed = true;
		return -1;
	}
	free(w->tmp_path);
	w->tmp_path = NULL; /* from here on, failure removes final */
	if (fsync(w->fd) != 0) {
		*error_r = queue_set_error("fsync %s: %s", final, strerror(errno));
		unlink(final);
		free(final);
		w->failed = true;
		return -1;
	}
	char *dir = xasprintf("%s/%s", w->queue_dir, subdir);
	int rc = fs_journal_ordered(w->fd) ? 0 : queue_fsync_dir(dir, error_r);
	if (rc != 0) {
		/* Not known to be durable: take it back rather than acknowledge it. */
		unlink(final);
	}
	free(dir);
	free(final);
	close(w->fd);
	w->fd = -1;
	return rc;
}

void queue_writer_abort(struct queue_writer *w)
{
	if (w == NULL)
		return;
	if (w->fd >= 0)
		close(w->fd);
	if (w->tmp_path)
		queue_file_recycle(w->queue_dir, w->tmp_path);
	free(w->tmp_path);
	free(w->queue_dir);
	str_free(&w->buf);
	free(w);
}

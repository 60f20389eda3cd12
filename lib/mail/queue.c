/*
 * The queue on disk: ids, directories, and writing and reading queue files
 * (format in queue.h). A file is written under tmp/, renamed into place,
 * and it and its directory are fsync'd before anyone is told it exists.
 */
#include "mail/queue.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "util/alloc.h"
#include "util/dir_sync.h"
#include "util/ipc.h"
#include "util/no_replace.h"
#include "util/self_pid.h"

const char *const queue_dir_names[] = {"maildrop", "incoming", "active", "deferred", "hold",
                                       "corrupt",  "status",   "tmp",    NULL};

/* The envelope (everything before the content bytes) never exceeds this,
 * so a reader may always stop looking for it there (see queue.h). */
#define QUEUE_MAX_ENVELOPE (1024 * 1024)

/* Per thread: qmgr's delivery threads write queue files at once. */
static _Thread_local char queue_error[512];

static const char *set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int read_exactly(int fd, void *buf, size_t len, off_t off);

static const char *set_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(queue_error, sizeof(queue_error), fmt, ap);
	va_end(ap);
	return queue_error;
}

static int make_dir(const char *path, mode_t mode, uid_t owner, gid_t group, const char **error_r)
{
	struct stat st;
	if (mkdir(path, mode) == 0) {
		/* mkdir's mode went through the umask; set exactly what we want. */
		if (chmod(path, mode) != 0) {
			*error_r = set_error("chmod %s: %s", path, strerror(errno));
			return -1;
		}
	} else if (errno != EEXIST) {
		*error_r = set_error("mkdir %s: %s", path, strerror(errno));
		return -1;
	} else if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
		*error_r = set_error("%s: exists and is not a directory", path);
		return -1;
	}
	if (owner != (uid_t)-1 && geteuid() == 0) {
		if (chown(path, owner, group) != 0 || chmod(path, mode) != 0) {
			*error_r = set_error("chown %s: %s", path, strerror(errno));
			return -1;
		}
	}
	return 0;
}

int queue_make_dirs(const char *queue_dir, uid_t owner, gid_t group, const char **error_r)
{
	for (size_t i = 0; queue_dir_names[i]; i++) {
		char *path = xasprintf("%s/%s", queue_dir, queue_dir_names[i]);
		bool maildrop = strcmp(queue_dir_names[i], "maildrop") == 0;
		/* maildrop/ is written by the setgid drop helper: group-writable, sticky. */
		int rc = make_dir(path, maildrop ? 01730 : 0700, owner, group, error_r);
		free(path);
		if (rc != 0)
			return -1;
	}
	return 0;
}

void queue_id_new(char *buf)
{
	static _Atomic uint64_t last_usec;
	struct timeval tv;
	gettimeofday(&tv, NULL);
	uint64_t usec = (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
	/* Within a process ids strictly increase, even when two are made in the
	 * same microsecond (by two threads too) or the clock steps back. */
	uint64_t last = atomic_load(&last_usec);
	do {
		if (usec <= last)
			usec = last + 1;
	} while (!atomic_compare_exchange_weak(&last_usec, &last, usec));
	/* 52 bits of microseconds last until 2112; the low 12 bits of the pid
	 * keep concurrent processes apart (live pids 4096 apart are rare, and
	 * then the same microsecond is needed too; O_EXCL and a rename that
	 * never replaces catch what is left). */
	unsigned tail = (unsigned)self_pid() & 0xFFFu;
	snprintf(buf, QUEUE_ID_LEN + 1, "%013llX%03X",
	         (unsigned long long)(usec & 0xFFFFFFFFFFFFFull), tail);
}

bool queue_id_valid(const char *id)
{
	if (id == NULL)
		return false;
	size_t i = 0;
	for (; id[i]; i++)
		if (i >= QUEUE_ID_LEN ||
		    !((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'A' && id[i] <= 'F')))
			return false;
	return i == QUEUE_ID_LEN;
}

void queue_envelope_init(struct queue_envelope *env)
{
	memset(env, 0, sizeof(*env));
}

bool queue_verify_mode_valid(const char *value)
{
	return strcmp(value, QUEUE_VERIFY_PROBE) == 0 || strcmp(value, QUEUE_VERIFY_REPORT) == 0;
}

bool queue_envelope_is_verify(const struct queue_envelope *env)
{
	return env->verify != NULL && *env->verify != '\0';
}

static void free_rcpt(struct queue_rcpt *r)
{
	free(r->address);
	free(r->orcpt);
	free(r->notify);
}

void queue_envelope_free(struct queue_envelope *env)
{
	char **strings[] = {&env->sender,      &env->envid,       &env->ret,         &env->body,
	                    &env->client_name, &env->client_addr, &env->client_port, &env->helo,
	                    &env->protocol,    &env->tls,         &env->auth_user,   &env->origin,
	                    &env->hold_reason, &env->filter,      &env->verify};
	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
		free(*strings[i]);
	for (size_t i = 0; i < env->rcpt_count; i++)
		free_rcpt(&env->rcpts[i]);
	free(env->rcpts);
	queue_envelope_init(env);
}

void queue_envelope_add_rcpt(struct queue_envelope *env, const char *address, const char *orcpt,
                             const char *notify)
{
	if (env->rcpt_count == env->rcpt_cap) {
		env->rcpt_cap = env->rcpt_cap ? env->rcpt_cap * 2 : 4;
		env->rcpts = xreallocarray(env->rcpts, env->rcpt_cap, sizeof(*env->rcpts));
	}
	struct queue_rcpt *r = &env->rcpts[env->rcpt_count++];
	r->address = xstrdup(address);
	r->orcpt = xstrdup(orcpt ? orcpt : "");
	r->notify = xstrdup(notify ? notify : "");
	r->valias_pending = false;
}

bool queue_envelope_has_rcpt(const struct queue_envelope *env, const char *address)
{
	for (size_t i = 0; i < env->rcpt_count; i++)
		if (strcasecmp(env->rcpts[i].address, address) == 0)
			return true;
	return false;
}

static const char *or_empty(const char *s)
{
	return s ? s : "";
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

void queue_envelope_copy_fields(struct queue_envelope *dst, const struct queue_envelope *src)
{
	queue_envelope_init(dst);
	memcpy(dst->id, src->id, sizeof(dst->id));
	dst->arrival = src->arrival;
	dst->smtputf8 = src->smtputf8;
	dst->size = src->size;
	dst->sender = dup_or_null(src->sender);
	dst->envid = dup_or_null(src->envid);
	dst->ret = dup_or_null(src->ret);
	dst->body = dup_or_null(src->body);
	dst->client_name = dup_or_null(src->client_name);
	dst->client_addr = dup_or_null(src->client_addr);
	dst->client_port = dup_or_null(src->client_port);
	dst->helo = dup_or_null(src->helo);
	dst->protocol = dup_or_null(src->protocol);
	dst->tls = dup_or_null(src->tls);
	dst->auth_user = dup_or_null(src->auth_user);
	dst->origin = dup_or_null(src->origin);
	dst->hold_reason = dup_or_null(src->hold_reason);
	dst->filter = dup_or_null(src->filter);
	dst->verify = dup_or_null(src->verify);
	dst->trace = src->trace;
}

void queue_envelope_copy(struct queue_envelope *dst, const struct queue_envelope *src)
{
	queue_envelope_copy_fields(dst, src);
	for (size_t i = 0; i < src->rcpt_count; i++) {
		const struct queue_rcpt *r = &src->rcpts[i];
		queue_envelope_add_rcpt(dst, r->address, r->orcpt, r->notify);
		dst->rcpts[dst->rcpt_count - 1].valias_pending = r->valias_pending;
	}
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
		*error_r = set_error("write %s: %s", w->tmp_path, strerror(errno));
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

/* Files of finished messages wait under tmp/ as free.NNN, emptied, to be
 * the next messages' files: taking one is a rename, where creating a file
 * makes the file system find and initialise an inode (costly on ext4
 * soon after many deletions). At most this many wait; a file is given a
 * random free slot (a few tries), so it is unlinked only when the pool is
 * nearly full. A taker tries a few random slots too (the pool is mostly
 * full where files are recycled), then reads tmp/ for any free file;
 * after a reading that found none it skips the pool for a while, tries
 * and reading (a receiver whose mail is never delivered, or not yet,
 * finds none: each miss is a path lookup).
 * Likewise a file given back when every slot it tried was taken marks
 * the pool full, and files are then unlinked at once for a while (mail
 * delivered from a queue that no receiver is filling), rather than each
 * truncated and offered to slots first.
 * Slots are claimed with renameat2(RENAME_NOREPLACE) alone, not
 * rename_no_replace: its link()+unlink() fallback would let two takers
 * link the same free file. Without it the pool stays empty (files are
 * unlinked and created as before). */
#define QUEUE_FREE_SLOTS 256
#define QUEUE_FREE_TRIES 8
#define QUEUE_TAKE_TRIES 3
#define QUEUE_EMPTY_POOL_SECONDS 1
#define QUEUE_FULL_POOL_SECONDS 1
#define QUEUE_FREE_PREFIX "free."

/* When this process last found the pool empty (0: not lately). */
static _Atomic time_t pool_seen_empty;
/* When this process last found the pool full (0: not lately). */
static _Atomic time_t pool_seen_full;

/* Whether a mark set at time seen (by the clock's seconds) is recent. */
static bool pool_mark_recent(time_t seen, time_t now, int seconds)
{
	return seen != 0 && now >= seen && now - seen < seconds + 1;
}

/* A random slot's path, from a per-thread sequence seeded apart. */
static char *random_slot(const char *queue_dir)
{
	static _Thread_local unsigned next_slot;
	if (next_slot == 0)
		next_slot =
		    ((unsigned)self_pid() ^ (unsigned)(uintptr_t)&next_slot) * 2654435761u | 1u;
	/* a multiplicative step scatters the slots one process tries */
	next_slot = next_slot * 1103515245u + 12345u;
	return xasprintf("%s/tmp/" QUEUE_FREE_PREFIX "%03u", queue_dir,
	                 (next_slot >> 16) % QUEUE_FREE_SLOTS);
}

int queue_file_recycle(const char *queue_dir, const char *path)
{
	time_t now = time(NULL);
	if (!pool_mark_recent(atomic_load(&pool_seen_full), now, QUEUE_FULL_POOL_SECONDS) &&
	    truncate(path, 0) == 0) {
		int attempt = 0;
		for (; attempt < QUEUE_FREE_TRIES; attempt++) {
			char *slot = random_slot(queue_dir);
			int rc = renameat2(AT_FDCWD, path, AT_FDCWD, slot, RENAME_NOREPLACE);
			free(slot);
			if (rc == 0) {
				atomic_store(&pool_seen_empty, 0);
				return 0;
			}
			if (errno != EEXIST)
				break;
		}
		if (attempt == QUEUE_FREE_TRIES)
			atomic_store(&pool_seen_full, now > 0 ? now : 1);
	}
	if (unlink(path) != 0 && errno != ENOENT)
		return -1;
	return 0;
}

/* Open the free file just renamed to path, or drop it. */
static int open_taken(const char *path, int flags)
{
	int fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		unlink(path);
	return fd;
}

int queue_take_free_file(const char *queue_dir, const char *path, int flags)
{
	time_t now = time(NULL);
	if (pool_mark_recent(atomic_load(&pool_seen_empty), now, QUEUE_EMPTY_POOL_SECONDS))
		return -1;
	for (int attempt = 0; attempt < QUEUE_TAKE_TRIES; attempt++) {
		char *slot = random_slot(queue_dir);
		int rc = renameat2(AT_FDCWD, slot, AT_FDCWD, path, RENAME_NOREPLACE);
		free(slot);
		if (rc == 0)
			return open_taken(path, flags);
	}
	char *tmp = xasprintf("%s/tmp", queue_dir);
	DIR *dir = opendir(tmp);
	free(tmp);
	if (dir == NULL)
		return -1;
	int fd = -1;
	bool found = false;
	struct dirent *de;
	while (fd < 0 && (de = readdir(dir)) != NULL) {
		if (strncmp(de->d_name, QUEUE_FREE_PREFIX, strlen(QUEUE_FREE_PREFIX)) != 0)
			continue;
		found = true;
		/* Another process may take the same one first: then try the next. */
		if (renameat2(dirfd(dir), de->d_name, AT_FDCWD, path, RENAME_NOREPLACE) != 0)
			continue;
		fd = open_taken(path, flags);
	}
	closedir(dir);
	if (!found)
		atomic_store(&pool_seen_empty, now > 0 ? now : 1);
	return fd;
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
		*error_r = set_error("create %s: %s", path, strerror(errno));
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
		*error_r = set_error("cannot queue this envelope: %s", why);
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
		*error_r = set_error("cannot queue this envelope: %s", why);
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
		*error_r = set_error("open %s: %s", path, strerror(errno));
		return -1;
	}
	char buf[65536];
	int rc = 0;
	for (uint64_t done = 0; rc == 0 && size > 0 && done < (uint64_t)size;) {
		uint64_t left = (uint64_t)size - done;
		size_t chunk = left < sizeof(buf) ? (size_t)left : sizeof(buf);
		errno = 0;
		if (read_exactly(fd, buf, chunk, (off_t)(offset + done)) != 0) {
			*error_r = set_error("read %s: %s", path,
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

static int fsync_dir(const char *dir, const char **error_r)
{
	if (dir_sync(dir) != 0) {
		*error_r = set_error("fsync %s: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

int queue_move(const char *queue_dir, const char *id, const char *from, const char *to,
               const char **error_r)
{
	char *src = xasprintf("%s/%s/%s", queue_dir, from, id);
	char *dst = xasprintf("%s/%s/%s", queue_dir, to, id);
	int rc = rename_no_replace(src, dst);
	int saved = errno;
	if (rc != 0)
		*error_r = set_error("move %s to %s/: %s", src, to, strerror(errno));
	free(src);
	free(dst);
	if (rc != 0) {
		errno = saved;
		return -1;
	}
	char *dir = xasprintf("%s/%s", queue_dir, to);
	rc = fsync_dir(dir, error_r);
	free(dir);
	if (rc == 0) {
		dir = xasprintf("%s/%s", queue_dir, from);
		rc = fsync_dir(dir, error_r);
		free(dir);
	}
	/* The move itself happened; a failed fsync is reported, not undone. */
	errno = 0;
	return rc == 0 ? 0 : 1;
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
		*error_r =
		    set_error("write %s: %s", w->tmp_path, n < 0 ? strerror(errno) : "short write");
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
		*error_r = set_error("rename to %s: %s", final, strerror(errno));
		free(final);
		w->failed = true;
		return -1;
	}
	free(w->tmp_path);
	w->tmp_path = NULL; /* from here on, failure removes final */
	if (fsync(w->fd) != 0) {
		*error_r = set_error("fsync %s: %s", final, strerror(errno));
		unlink(final);
		free(final);
		w->failed = true;
		return -1;
	}
	char *dir = xasprintf("%s/%s", w->queue_dir, subdir);
	int rc = fs_journal_ordered(w->fd) ? 0 : fsync_dir(dir, error_r);
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

int queue_sweep_tmp(const char *queue_dir, int max_age)
{
	char *path = xasprintf("%s/tmp", queue_dir);
	DIR *dir = opendir(path);
	free(path);
	if (dir == NULL)
		return 0;
	time_t cutoff = time(NULL) - max_age;
	int removed = 0;
	struct dirent *de;
	while ((de = readdir(dir)) != NULL) {
		struct stat st;
		if (!queue_id_valid(de->d_name) ||
		    fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(st.st_mode) || st.st_mtime > cutoff)
			continue;
		if (unlinkat(dirfd(dir), de->d_name, 0) == 0)
			removed++;
	}
	closedir(dir);
	return removed;
}

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
static int read_exactly(int fd, void *buf, size_t len, off_t off)
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
	return read_exactly(fd, buf, len, (off_t)off) == 0 ? buf : NULL;
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
	if (read_exactly(fd, head, want, 0) != 0) {
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
		*error_r = set_error("open %s: %s", path, strerror(errno));
		return -1;
	}
	int rc = read_window_fd(fd, first, max, env, content_offset_r, error_r);
	close(fd);
	return rc;
}

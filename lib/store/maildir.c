/*
 * Maildir on disk (see maildir.h): creating the directories, delivering
 * safely (on ext4 with an ordered journal an unnamed file in tmp/ linked
 * into new/ and fsync'd; elsewhere tmp/, fsync, move into new/, fsync
 * new/), listing new/ and cur/,
 * flag changes, deletion and reading that tolerate other processes
 * renaming the same files at the same time, and copying or moving a
 * message into another Maildir.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "store/maildir.h"
#include "util/alloc.h"
#include "util/dir_sync.h"
#include "util/no_replace.h"
#include "util/self_pid.h"

/* How often an operation looks the file up again after it moved. */
#define MAILDIR_RETRIES 20

static char maildir_error[512];

static const char *set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static const char *set_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(maildir_error, sizeof(maildir_error), fmt, ap);
	va_end(ap);
	return maildir_error;
}

/* On failure errno is mkdir's (ENOENT: the parent is missing), or
 * ENOTDIR when what is there is not a directory. */
static int make_dir(const char *path, const char **error_r)
{
	struct stat st;
	if (mkdir(path, 0700) == 0)
		return 0;
	if (errno != EEXIST) {
		int saved = errno;
		*error_r = set_error("mkdir %s: %s", path, strerror(errno));
		errno = saved;
		return -1;
	}
	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
		*error_r = set_error("%s: exists and is not a directory", path);
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

int maildir_create(const char *path, const char **error_r)
{
	/* tmp/ last: delivery only creates the directories when it cannot
	 * create its file in tmp/, so tmp/ must mean the others are there. */
	static const char *const subdirs[] = {"cur", "new", "tmp"};
	if (make_dir(path, error_r) != 0)
		return -1;
	for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		char *sub = xasprintf("%s/%s", path, subdirs[i]);
		int rc = make_dir(sub, error_r);
		int saved = errno;
		free(sub);
		if (rc != 0) {
			errno = saved;
			return -1;
		}
	}
	return 0;
}

static bool is_flag_letter(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

int maildir_flags_normalize(const char *flags, char *out)
{
	bool seen[128] = {false};
	for (const char *p = flags; *p != '\0'; p++) {
		if (!is_flag_letter(*p))
			return -1;
		seen[(unsigned char)*p] = true;
	}
	size_t n = 0;
	for (int c = 0; c < 128; c++)
		if (seen[c])
			out[n++] = (char)c;
	out[n] = '\0';
	return 0;
}

/* The number from ",S=digits" (key "S") or ",W=digits" in a base name, or -1. */
static int64_t number_from_name(const char *base, const char *key)
{
	for (const char *p = strstr(base, key); p != NULL; p = strstr(p + 1, key)) {
		const char *d = p + 3;
		int64_t size = 0;
		bool any = false;
		while (*d >= '0' && *d <= '9' && size < INT64_MAX / 10 - 10) {
			size = size * 10 + (*d++ - '0');
			any = true;
		}
		if (any && (*d == '\0' || *d == ','))
			return size;
	}
	return -1;
}

void maildir_entry_parse(const char *name, struct maildir_entry *entry)
{
	memset(entry, 0, sizeof(*entry));
	entry->name = xstrdup(name);
	const char *colon = strchr(name, ':');
	entry->base = colon ? xstrndup(name, (size_t)(colon - name)) : xstrdup(name);
	if (colon != NULL && strncmp(colon, ":2,", 3) == 0) {
		/* Keep only letters (other tools' info is ignored, not fatal). */
		char letters[MAILDIR_MAX_FLAGS + 1];
		size_t n = 0;
		for (const char *p = colon + 3; *p != '\0' && n < MAILDIR_MAX_FLAGS; p++)
			if (is_flag_letter(*p))
				letters[n++] = *p;
		letters[n] = '\0';
		maildir_flags_normalize(letters, entry->flags);
	}
	entry->size = number_from_name(entry->base, ",S=");
}

int64_t maildir_crlf_size_from_name(const char *base)
{
	return number_from_name(base, ",W=");
}

void maildir_entry_free(struct maildir_entry *entry)
{
	free(entry->base);
	free(entry->name);
	entry->base = entry->name = NULL;
}

/* ---- Delivery ---- */

struct maildir_delivery {
	char *path;
	char *unique;   /* the name without ",S=" */
	char *tmp_path; /* path/tmp/unique */
	int fd;
	int64_t size;
	int64_t bare_lf; /* LFs without CR before them, so far */
	bool last_cr;    /* the last byte written was CR */
	bool unnamed;    /* an O_TMPFILE file: no name until commit links it */
};

/* The host name with the characters Maildir reserves escaped, looked up
 * once per process (a long-lived delivery process names many files). */
static const char *escaped_host(void)
{
	static struct str escaped = STR_INIT;
	static bool known;
	if (known)
		return str_cstr(&escaped);
	known = true;
	char host[256];
	if (gethostname(host, sizeof(host) - 1) != 0)
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	for (const char *p = host; *p != '\0'; p++) {
		if (*p == '/')
			str_append_cstr(&escaped, "\\057");
		else if (*p == ':')
			str_append_cstr(&escaped, "\\072");
		else
			str_append_char(&escaped, *p);
	}
	return str_cstr(&escaped);
}

static char *unique_name(void)
{
	static unsigned int seq;
	struct timeval tv;
	gettimeofday(&tv, NULL);
	struct str s = STR_INIT;
	str_printf(&s, "%lld.M%06ldP%ldQ%u.%s", (long long)tv.tv_sec, (long)tv.tv_usec,
	           (long)self_pid(), ++seq, escaped_host());
	return str_steal(&s);
}

static void delivery_free(struct maildir_delivery *d)
{
	if (d->fd >= 0)
		close(d->fd);
	free(d->path);
	free(d->unique);
	free(d->tmp_path);
	free(d);
}

/* Whether a file written, linked into new/ and only then fsync'd can never
 * show in new/ without all its data after a crash, and is then durable
 * with its name (no fsync of new/ needed): on ext4 with an ordered
 * journal (fs_journal_ordered). Elsewhere (no journal, data=writeback,
 * XFS, btrfs, ...) a crash before the fsync could leave a name for a short
 * file, so the classic order (fsync, rename, fsync new/) is kept there. */
static bool links_after_data(int fd)
{
	return fs_journal_ordered(fd);
}

/* An unnamed file in path/tmp/ (O_TMPFILE), linked into new/ at commit
 * through /proc/self/fd: the link and the data then reach the disk in one
 * journal commit instead of two (the file's, then the rename's). -1 where
 * the file system, the kernel or a missing /proc does not allow it, or
 * where it would not be as safe (links_after_data); errno ENOENT when
 * tmp/ is missing. */
static int open_unnamed(const char *path)
{
	static int have_proc = -1; /* 1: /proc/self/fd is there, 0: not */
	if (have_proc < 0)
		have_proc = access("/proc/self/fd", X_OK) == 0;
	if (!have_proc) {
		errno = EOPNOTSUPP;
		return -1;
	}
	char *tmp = xasprintf("%s/tmp", path);
	int fd = open(tmp, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
	free(tmp);
	if (fd >= 0 && !links_after_data(fd)) {
		close(fd);
		errno = EOPNOTSUPP;
		return -1;
	}
	return fd;
}

struct maildir_delivery *maildir_delivery_begin(const char *path, const char **error_r)
{
	struct maildir_delivery *d = xcalloc(1, sizeof(*d));
	d->path = xstrdup(path);
	d->fd = -1;
	bool created = false;
	d->fd = open_unnamed(path);
	if (d->fd < 0 && errno == ENOENT && maildir_create(path, error_r) == 0) {
		created = true;
		d->fd = open_unnamed(path);
	}
	if (d->fd >= 0) {
		d->unnamed = true;
		d->unique = unique_name();
		d->tmp_path = xasprintf("%s/tmp/(unnamed file)", path);
		return d;
	}
	/* A name already in tmp/ (same pid after a wrap, or a clock step)
	 * gets a fresh one: O_EXCL never reuses a file. */
	for (int attempt = 0; attempt < MAILDIR_RETRIES && d->fd < 0; attempt++) {
		free(d->unique);
		free(d->tmp_path);
		d->unique = unique_name();
		d->tmp_path = xasprintf("%s/tmp/%s", path, d->unique);
		d->fd = open(d->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (d->fd >= 0 || errno == EEXIST)
			continue;
		/* The directories are made (and checked) only when the file
		 * cannot be: not on every delivery. maildir_create sets
		 * errno (ENOENT: path's parent is missing). */
		if (created || (errno != ENOENT && errno != ENOTDIR))
			break;
		if (maildir_create(path, error_r) != 0) {
			int saved = errno;
			delivery_free(d);
			errno = saved;
			return NULL;
		}
		created = true;
	}
	if (d->fd < 0) {
		int saved = errno;
		*error_r = set_error("create %s: %s", d->tmp_path, strerror(errno));
		delivery_free(d);
		errno = saved;
		return NULL;
	}
	return d;
}

int maildir_delivery_write(struct maildir_delivery *d, const void *data, size_t len,
                           const char **error_r)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(d->fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*error_r = set_error("write %s: %s", d->tmp_path,
			                     n < 0 ? strerror(errno) : "short write");
			return -1;
		}
		/* Count the LFs without a CR before them, for ",W=". */
		for (ssize_t i = 0; i < n; i++) {
			if (p[i] == '\n' && !d->last_cr)
				d->bare_lf++;
			d->last_cr = p[i] == '\r';
		}
		p += n;
		len -= (size_t)n;
		d->size += n;
	}
	return 0;
}

int maildir_delivery_set_mtime(struct maildir_delivery *d, int64_t seconds, const char **error_r)
{
	struct timespec times[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_sec = (time_t)seconds}};
	if (futimens(d->fd, times) != 0) {
		*error_r = set_error("set the time of %s: %s", d->tmp_path, strerror(errno));
		return -1;
	}
	return 0;
}

const char *maildir_delivery_unique(const struct maildir_delivery *d)
{
	return d->unique;
}

void maildir_delivery_abort(struct maildir_delivery *d)
{
	if (d == NULL)
		return;
	if (!d->unnamed)
		unlink(d->tmp_path); /* an unnamed file goes with its descriptor */
	delivery_free(d);
}

static int fsync_dir(const char *dir, const char **error_r)
{
	if (dir_sync(dir) != 0) {
		*error_r = set_error("fsync %s: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

int maildir_delivery_sync(struct maildir_delivery *d, const char **error_r)
{
	/* An unnamed file is fsync'd once linked, together with its name. */
	if (d->fd < 0 || d->unnamed)
		return 0;
	int rc = fsync(d->fd) != 0 ? -1 : 0;
	if (close(d->fd) != 0)
		rc = -1;
	d->fd = -1;
	if (rc != 0)
		*error_r = set_error("fsync %s: %s", d->tmp_path, strerror(errno));
	return rc;
}

static char *final_name(const struct maildir_delivery *d)
{
	return xasprintf("%s,S=%lld,W=%lld", d->unique, (long long)d->size,
	                 (long long)(d->size + d->bare_lf));
}

/* Give the unnamed file its name in new/ (a fresh one if that is taken),
 * then fsync it: the data, the inode and the name in one commit. */
static int link_unnamed(struct maildir_delivery *d, char **name_r, char **final_r,
                        const char **error_r)
{
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", d->fd);
	char *name = NULL, *final = NULL;
	int rc = -1;
	for (int attempt = 0; attempt < MAILDIR_RETRIES && rc != 0; attempt++) {
		if (attempt > 0) {
			free(d->unique);
			d->unique = unique_name();
		}
		free(name);
		free(final);
		name = final_name(d);
		final = xasprintf("%s/new/%s", d->path, name);
		rc = linkat(AT_FDCWD, proc, AT_FDCWD, final, AT_SYMLINK_FOLLOW);
		if (rc != 0 && errno == ENOENT && maildir_create(d->path, error_r) == 0)
			rc = linkat(AT_FDCWD, proc, AT_FDCWD, final, AT_SYMLINK_FOLLOW);
		if (rc != 0 && errno != EEXIST)
			break;
	}
	if (rc != 0) {
		*error_r = set_error("link %s: %s", final, strerror(errno));
	} else if (fsync(d->fd) != 0) {
		*error_r = set_error("fsync %s: %s", final, strerror(errno));
		unlink(final);
		rc = -1;
	}
	if (rc != 0) {
		free(name);
		free(final);
		return -1;
	}
	*name_r = name;
	*final_r = final;
	return 0;
}

int maildir_delivery_commit(struct maildir_delivery *d, char **name_r, const char **error_r)
{
	if (maildir_delivery_sync(d, error_r) != 0) {
		maildir_delivery_abort(d);
		return -1;
	}
	char *name = NULL, *final = NULL;
	char *new_dir = xasprintf("%s/new", d->path);
	int rc;
	if (d->unnamed) {
		rc = link_unnamed(d, &name, &final, error_r);
	} else {
		name = final_name(d);
		final = xasprintf("%s/new/%s", d->path, name);
		rc = rename_no_replace(d->tmp_path, final);
		if (rc != 0 && errno == ENOENT && maildir_create(d->path, error_r) == 0)
			rc = rename_no_replace(d->tmp_path, final); /* new/ was removed meanwhile */
		if (rc != 0) {
			*error_r =
			    set_error("move %s to %s: %s", d->tmp_path, final, strerror(errno));
			unlink(d->tmp_path);
		}
	}
	/* An unnamed file's fsync, after its link, made its name durable too. */
	if (rc == 0 && !d->unnamed && fsync_dir(new_dir, error_r) != 0) {
		unlink(final); /* not known to be durable: do not acknowledge it */
		rc = -1;
	}
	free(final);
	free(new_dir);
	delivery_free(d);
	if (rc == 0)
		*name_r = name;
	else
		free(name);
	return rc;
}

int maildir_deliver(const char *path, const void *data, size_t len, char **name_r,
                    const char **error_r)
{
	struct maildir_delivery *d = maildir_delivery_begin(path, error_r);
	if (d == NULL)
		return -1;
	if (maildir_delivery_write(d, data, len, error_r) != 0) {
		maildir_delivery_abort(d);
		return -1;
	}
	return maildir_delivery_commit(d, name_r, error_r);
}

/* ---- Listing ---- */

static struct maildir_entry *list_add(struct maildir_list *list)
{
	if (list->count == list->cap) {
		list->cap = list->cap ? list->cap * 2 : 64;
		list->items = xreallocarray(list->items, list->cap, sizeof(*list->items));
	}
	return &list->items[list->count++];
}

/* Append the messages of one subdirectory. */
static int list_subdir(const char *path, const char *sub, struct maildir_list *list,
                       const char **error_r)
{
	char *dir = xasprintf("%s/%s", path, sub);
	DIR *dp = opendir(dir);
	if (dp == NULL) {
		*error_r = set_error("opendir %s: %s", dir, strerror(errno));
		free(dir);
		return -1;
	}
	struct dirent *de;
	while ((de = readdir(dp)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		struct maildir_entry *e = list_add(list);
		maildir_entry_parse(de->d_name, e);
		e->in_cur = strcmp(sub, "cur") == 0;
		if (e->size >= 0)
			continue;
		struct stat st;
		if (fstatat(dirfd(dp), de->d_name, &st, 0) == 0 && S_ISREG(st.st_mode)) {
			e->size = st.st_size;
		} else {
			/* Gone meanwhile (renamed or deleted), or not a file. */
			maildir_entry_free(e);
			list->count--;
		}
	}
	closedir(dp);
	free(dir);
	return 0;
}

int maildir_list(const char *path, struct maildir_list *list, const char **error_r)
{
	/* cur/ last: a file moved from new/ to cur/ during the scan is then
	 * still seen in cur/ (it may be seen twice; callers key by base). */
	if (list_subdir(path, "new", list, error_r) != 0)
		return -1;
	return list_subdir(path, "cur", list, error_r);
}

void maildir_list_free(struct maildir_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		maildir_entry_free(&list->items[i]);
	free(list->items);
	list->items = NULL;
	list->count = list->cap = 0;
}

/* ---- One message ---- */

static bool base_valid(const char *base)
{
	return base[0] != '\0' && base[0] != '.' && strchr(base, '/') == NULL &&
	       strchr(base, ':') == NULL;
}

/* Look for base in one subdirectory: 1 found, 0 not, -1 error. */
static int find_in(const char *path, const char *sub, const char *base, struct maildir_entry *entry,
                   const char **error_r)
{
	char *dir = xasprintf("%s/%s", path, sub);
	DIR *dp = opendir(dir);
	if (dp == NULL) {
		*error_r = set_error("opendir %s: %s", dir, strerror(errno));
		free(dir);
		return -1;
	}
	free(dir);
	size_t base_len = strlen(base);
	struct dirent *de;
	int found = 0;
	while (!found && (de = readdir(dp)) != NULL) {
		if (strncmp(de->d_name, base, base_len) != 0 ||
		    (de->d_name[base_len] != '\0' && de->d_name[base_len] != ':'))
			continue;
		maildir_entry_parse(de->d_name, entry);
		entry->in_cur = strcmp(sub, "cur") == 0;
		found = 1;
	}
	closedir(dp);
	return found;
}

int maildir_find(const char *path, const char *base, struct maildir_entry *entry,
                 const char **error_r)
{
	if (!base_valid(base)) {
		*error_r = set_error("invalid message name \"%s\"", base);
		return -1;
	}
	/* Try the likely names first, without reading the directories. */
	char *cur_plain = xasprintf("%s/cur/%s", path, base);
	char *new_plain = xasprintf("%s/new/%s", path, base);
	struct stat st;
	int rc = 0;
	if (stat(new_plain, &st) == 0) {
		maildir_entry_parse(base, entry);
		rc = 1;
	} else if (stat(cur_plain, &st) == 0) {
		maildir_entry_parse(base, entry);
		entry->in_cur = true;
		rc = 1;
	}
	free(cur_plain);
	free(new_plain);
	if (rc == 0)
		rc = find_in(path, "cur", base, entry, error_r);
	if (rc == 0)
		rc = find_in(path, "new", base, entry, error_r);
	return rc;
}

static char *entry_path(const char *path, const struct maildir_entry *e)
{
	return xasprintf("%s/%s/%s", path, e->in_cur ? "cur" : "new", e->name);
}

/* Find the message base and act on its file: act returns 0, or -1 with
 * errno. When the file moved under us (ENOENT), look again. 1 when done,
 * 0 when no such message, -1 with *error_r (what: the failed call). */
static int act_on_message(const char *path, const char *base, const char *what,
                          int (*act)(const char *path, const char *file,
                                     const struct maildir_entry *e, void *arg),
                          void *arg, const char **error_r)
{
	for (int attempt = 0; attempt < MAILDIR_RETRIES; attempt++) {
		struct maildir_entry e;
		int rc = maildir_find(path, base, &e, error_r);
		if (rc <= 0)
			return rc;
		char *file = entry_path(path, &e);
		rc = act(path, file, &e, arg);
		int saved = errno;
		free(file);
		maildir_entry_free(&e);
		if (rc == 0)
			return 1;
		if (saved != ENOENT) {
			*error_r = set_error("%s %s: %s", what, base, strerror(saved));
			return -1;
		}
	}
	*error_r = set_error("%s: keeps being renamed", base);
	return -1;
}

/* Move the file to cur/BASE:2,FLAGS (arg: the normalised flags). */
static int rename_with_flags(const char *path, const char *file, const struct maildir_entry *e,
                             void *arg)
{
	char *to = xasprintf("%s/cur/%s:2,%s", path, e->base, (const char *)arg);
	int rc = strcmp(file, to) == 0 ? 0 : rename(file, to);
	int saved = errno;
	free(to);
	errno = saved;
	return rc;
}

int maildir_set_flags(const char *path, const char *base, const char *flags, const char **error_r)
{
	char norm[MAILDIR_MAX_FLAGS + 1];
	if (strlen(flags) > MAILDIR_MAX_FLAGS || maildir_flags_normalize(flags, norm) != 0) {
		*error_r = set_error("invalid flags \"%.60s\"", flags);
		return -1;
	}
	return act_on_message(path, base, "rename", rename_with_flags, norm, error_r);
}

static int unlink_file(const char *path, const char *file, const struct maildir_entry *e, void *arg)
{
	(void)path, (void)e, (void)arg;
	return unlink(file);
}

int maildir_delete(const char *path, const char *base, const char **error_r)
{
	return act_on_message(path, base, "unlink", unlink_file, NULL, error_r);
}

/* arg: where the descriptor goes. */
static int open_file(const char *path, const char *file, const struct maildir_entry *e, void *arg)
{
	(void)path, (void)e;
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	*(int *)arg = fd;
	return fd >= 0 ? 0 : -1;
}

int maildir_open_message(const char *path, const char *base, int *fd_r, const char **error_r)
{
	return act_on_message(path, base, "open", open_file, fd_r, error_r);
}

int maildir_read_message(const char *path, const char *base, struct str *out, const char **error_r)
{
	int fd;
	int rc = maildir_open_message(path, base, &fd, error_r);
	if (rc <= 0)
		return rc;
	str_clear(out);
	for (;;) {
		str_reserve(out, 65536);
		out->data[out->len] = '\0';
		ssize_t n = read(fd, out->data + out->len, out->cap - out->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*error_r = set_error("read %s: %s", base, strerror(errno));
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		out->len += (size_t)n;
		out->data[out->len] = '\0';
	}
	close(fd);
	return 1;
}

/* ---- Between Maildirs ---- */

struct transfer {
	const char *to;
	const char *flags; /* normalised */
	bool keep;
	char *base; /* the new base name, once done */
};

/* Copy file into to/tmp/, keeping its modification time, fsync it and
 * move it to target: for Maildirs on different file systems. 0 or -1 with
 * errno. */
static int copy_across(const char *file, const char *to, const char *unique, const char *target)
{
	int in = open(file, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -1;
	char *tmp = xasprintf("%s/tmp/%s", to, unique);
	int out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	int rc = out < 0 ? -1 : 0;
	char buf[65536];
	while (rc == 0) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -1 : 0;
			break;
		}
		for (ssize_t off = 0; rc == 0 && off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));
			if (w < 0 && errno != EINTR)
				rc = -1;
			else if (w > 0)
				off += w;
		}
	}
	struct stat st;
	if (rc == 0 && fstat(in, &st) == 0) {
		struct timespec times[2] = {st.st_atim, st.st_mtim};
		(void)futimens(out, times);
	}
	if (rc == 0 && fsync(out) != 0)
		rc = -1;
	int saved = errno;
	if (out >= 0 && close(out) != 0 && rc == 0) {
		rc = -1;
		saved = errno;
	}
	close(in);
	if (rc == 0 && rename_no_replace(tmp, target) != 0) {
		rc = -1;
		saved = errno;
	}
	if (rc != 0 && out >= 0)
		unlink(tmp);
	free(tmp);
	errno = saved;
	return rc;
}

/* Link (copy) or rename (move) file into the other Maildir's cur/. */
static int transfer_file(const char *path, const char *file, const struct maildir_entry *e,
                         void *arg)
{
	(void)path;
	struct transfer *t = arg;
	/* The sizes (",S=", ",W=") stay with the content. */
	const char *comma = strchr(e->base, ',');
	for (int attempt = 0; attempt < MAILDIR_RETRIES; attempt++) {
		char *unique = unique_name();
		char *base = xasprintf("%s%s", unique, comma ? comma : "");
		char *target = xasprintf("%s/cur/%s:2,%s", t->to, base, t->flags);
		int rc = t->keep ? link(file, target) : rename_no_replace(file, target);
		if (rc != 0 && errno == EXDEV) {
			rc = copy_across(file, t->to, unique, target);
			if (rc == 0 && !t->keep && unlink(file) != 0 && errno != ENOENT) {
				int saved = errno;
				unlink(target); /* keep one copy, the original */
				errno = saved;
				rc = -1;
			}
		}
		int saved = errno;
		free(unique);
		free(target);
		if (rc == 0) {
			t->base = base;
			return 0;
		}
		free(base);
		if (saved != EEXIST) {
			errno = saved;
			return -1;
		}
	}
	errno = EEXIST;
	return -1;
}

int maildir_transfer(const char *from, const char *base, const char *to, const char *flags,
                     bool keep, char **base_r, const char **error_r)
{
	char norm[MAILDIR_MAX_FLAGS + 1];
	if (strlen(flags) > MAILDIR_MAX_FLAGS || maildir_flags_normalize(flags, norm) != 0) {
		*error_r = set_error("invalid flags \"%.60s\"", flags);
		return -1;
	}
	if (maildir_create(to, error_r) != 0)
		return -1;
	struct transfer t = {.to = to, .flags = norm, .keep = keep};
	int rc = act_on_message(from, base, keep ? "copy" : "move", transfer_file, &t, error_r);
	if (rc != 1)
		return rc;
	/* The new name, and for a move the old one's absence, made durable. */
	char *dir = xasprintf("%s/cur", to);
	if (fsync_dir(dir, error_r) != 0)
		rc = -1;
	free(dir);
	if (rc == 1 && !keep) {
		dir = xasprintf("%s/cur", from);
		(void)dir_sync(dir); /* new/ or cur/: a lost removal is only a copy */
		free(dir);
	}
	if (rc == 1)
		*base_r = t.base;
	else
		free(t.base); /* there, but not known to be durable */
	return rc;
}

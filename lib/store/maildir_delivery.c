/*
 * Delivery into a Maildir (see maildir.h): a new message written under a
 * fresh unique name and made durable before it shows in new/. On ext4
 * with an ordered journal an unnamed file in tmp/ is linked into new/ and
 * fsync'd; elsewhere tmp/NAME is written, fsync'd, moved into new/ (never
 * replacing a file) and new/ fsync'd.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/maildir_internal.h"
#include "util/alloc.h"
#include "util/dir_sync.h"
#include "util/no_replace.h"

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
		d->unique = maildir_unique_name();
		d->tmp_path = xasprintf("%s/tmp/(unnamed file)", path);
		return d;
	}
	/* A name already in tmp/ (same pid after a wrap, or a clock step)
	 * gets a fresh one: O_EXCL never reuses a file. */
	for (int attempt = 0; attempt < MAILDIR_RETRIES && d->fd < 0; attempt++) {
		free(d->unique);
		free(d->tmp_path);
		d->unique = maildir_unique_name();
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
		*error_r = maildir_set_error("create %s: %s", d->tmp_path, strerror(errno));
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
			*error_r = maildir_set_error("write %s: %s", d->tmp_path,
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
		*error_r =
		    maildir_set_error("set the time of %s: %s", d->tmp_path, strerror(errno));
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

int maildir_fsync_dir(const char *dir, const char **error_r)
{
	if (dir_sync(dir) != 0) {
		*error_r = maildir_set_error("fsync %s: %s", dir, strerror(errno));
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
		*error_r = maildir_set_error("fsync %s: %s", d->tmp_path, strerror(errno));
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
			d->unique = maildir_unique_name();
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
		*error_r = maildir_set_error("link %s: %s", final, strerror(errno));
	} else if (fsync(d->fd) != 0) {
		*error_r = maildir_set_error("fsync %s: %s", final, strerror(errno));
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
			*error_r = maildir_set_error("move %s to %s: %s", d->tmp_path, final,
			                             strerror(errno));
			unlink(d->tmp_path);
		}
	}
	/* An unnamed file's fsync, after its link, made its name durable too. */
	if (rc == 0 && !d->unnamed && maildir_fsync_dir(new_dir, error_r) != 0) {
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

/*
 * Copying and moving a message between Maildirs (see maildir.h): a hard
 * link or a rename into the other Maildir's cur/ under a fresh base name
 * that keeps the sizes, or a copy where the two are on different file
 * systems; the new name is made durable before success.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/maildir_internal.h"
#include "util/alloc.h"
#include "util/dir_sync.h"
#include "util/no_replace.h"

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
		char *unique = maildir_unique_name();
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
		*error_r = maildir_set_error("invalid flags \"%.60s\"", flags);
		return -1;
	}
	if (maildir_create(to, error_r) != 0)
		return -1;
	struct transfer t = {.to = to, .flags = norm, .keep = keep};
	int rc =
	    maildir_act_on_message(from, base, keep ? "copy" : "move", transfer_file, &t, error_r);
	if (rc != 1)
		return rc;
	/* The new name, and for a move the old one's absence, made durable. */
	char *dir = xasprintf("%s/cur", to);
	if (maildir_fsync_dir(dir, error_r) != 0)
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

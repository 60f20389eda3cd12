/*
 * Maildir on disk (see maildir.h): creating the directories, listing new/
 * and cur/, and finding one message by its base name to change its flags,
 * delete, open or read it, tolerating other processes that rename the
 * same files at the same time. The module's error buffer lives here.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/maildir_internal.h"
#include "util/alloc.h"

static char maildir_error[512];

const char *maildir_set_error(const char *fmt, ...)
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
		*error_r = maildir_set_error("mkdir %s: %s", path, strerror(errno));
		errno = saved;
		return -1;
	}
	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
		*error_r = maildir_set_error("%s: exists and is not a directory", path);
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
		*error_r = maildir_set_error("opendir %s: %s", dir, strerror(errno));
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
		*error_r = maildir_set_error("opendir %s: %s", dir, strerror(errno));
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
		*error_r = maildir_set_error("invalid message name \"%s\"", base);
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

int maildir_act_on_message(const char *path, const char *base, const char *what,
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
			*error_r = maildir_set_error("%s %s: %s", what, base, strerror(saved));
			return -1;
		}
	}
	*error_r = maildir_set_error("%s: keeps being renamed", base);
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
		*error_r = maildir_set_error("invalid flags \"%.60s\"", flags);
		return -1;
	}
	return maildir_act_on_message(path, base, "rename", rename_with_flags, norm, error_r);
}

static int unlink_file(const char *path, const char *file, const struct maildir_entry *e, void *arg)
{
	(void)path, (void)e, (void)arg;
	return unlink(file);
}

int maildir_delete(const char *path, const char *base, const char **error_r)
{
	return maildir_act_on_message(path, base, "unlink", unlink_file, NULL, error_r);
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
	return maildir_act_on_message(path, base, "open", open_file, fd_r, error_r);
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
			*error_r = maildir_set_error("read %s: %s", base, strerror(errno));
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

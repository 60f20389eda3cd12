/*
 * Maildir++ folders and subscriptions, laid out as Dovecot does by
 * default (folders.h): mapping names to directories and back, listing,
 * creating, deleting and renaming folders, and the subscriptions file.
 */
#include "store/folders.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/maildir.h"
#include "util/alloc.h"
#include "util/dir_sync.h"
#include "util/file_replace.h"
#include "util/mutf7.h"
#include "util/str.h"

/* A folder being deleted is first renamed to ROOT/..postern-deleted.*:
 * no folder maps there (its name would start with an empty component),
 * and listings skip it. */
#define FOLDERS_TRASH_PREFIX "..postern-deleted."

/* The subscriptions file is read whole; this is far more than any
 * person subscribes to. */
#define FOLDERS_SUBSCRIPTIONS_MAX (4 * 1024 * 1024)

static const char subscriptions_header[] = "V\t2\n\n";

static _Thread_local char folders_error[1024];

/* Set *error_r and errno = err; return -1. The arguments may point into
 * folders_error (an error passed on), hence the copy. */
static int fail(int err, const char **error_r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(int err, const char **error_r, const char *fmt, ...)
{
	char message[sizeof(folders_error)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	memcpy(folders_error, message, sizeof(message));
	*error_r = folders_error;
	errno = err;
	return -1;
}

/* A folder name fit to quote in a message: control characters as \xHH,
 * at most about 200 bytes. Valid until the thread's next call. */
static const char *quoted(const char *name)
{
	static _Thread_local char buf[220];
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++) {
		if (n > 200) {
			memcpy(buf + n, "...", 3);
			n += 3;
			break;
		}
		if (*p < 0x20 || *p == 0x7f)
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\\x%02X", *p);
		else
			buf[n++] = (char)*p;
	}
	buf[n] = '\0';
	return buf;
}

/* ---- Names ---- */

/* Check one component (len bytes, not empty) of a folder name: no '.',
 * no control characters (C0, DEL, C1 as UTF-8 C2 80..C2 9F). */
static const char *component_problem(const char *p, size_t len)
{
	const unsigned char *s = (const unsigned char *)p;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '.')
			return "a component contains '.'";
		if (s[i] < 0x20 || s[i] == 0x7f ||
		    (s[i] == 0xc2 && i + 1 < len && s[i + 1] >= 0x80 && s[i + 1] <= 0x9f))
			return "control character";
	}
	return NULL;
}

/* The on-disk form of a folder name (its directory name without the
 * leading '.'; "INBOX" for INBOX, with *inbox_r set) into storage. */
static int name_to_storage(const char *name, struct str *storage, bool *inbox_r,
                           const char **error_r)
{
	size_t len = strlen(name);
	str_clear(storage);
	*inbox_r = false;
	if (len == 0)
		return fail(EINVAL, error_r, "empty folder name");
	if (len > FOLDERS_NAME_MAX)
		return fail(EINVAL, error_r, "folder name longer than %d bytes", FOLDERS_NAME_MAX);
	if (strcasecmp(name, "INBOX") == 0) {
		str_set(storage, "INBOX");
		*inbox_r = true;
		return 0;
	}
	const char *p = name;
	for (bool first = true;; first = false) {
		const char *slash = strchr(p, '/');
		size_t n = slash != NULL ? (size_t)(slash - p) : strlen(p);
		const char *problem = component_problem(p, n), *error;
		if (n == 0)
			problem = "empty component (a leading, trailing or doubled '/')";
		if (problem != NULL)
			return fail(EINVAL, error_r, "invalid folder name \"%s\": %s", quoted(name),
			            problem);
		if (!first)
			str_append_char(storage, '.');
		if (first && n == 5 && strncasecmp(p, "INBOX", 5) == 0)
			str_append_cstr(storage, "INBOX");
		else if (mutf7_encode(p, n, storage, &error) != 0)
			return fail(EINVAL, error_r, "invalid folder name \"%s\": %s", quoted(name),
			            error);
		if (slash == NULL)
			break;
		p = slash + 1;
	}
	if (storage->len + 1 > NAME_MAX)
		return fail(EINVAL, error_r, "folder name \"%s\" too long for a directory name",
		            quoted(name));
	return 0;
}

/* The folder name that the on-disk form storage (len bytes) stands for,
 * into name; only a canonical form (the one name_to_storage gives back)
 * is taken. */
static int storage_to_name(const char *storage, size_t len, struct str *name, const char **error_r)
{
	const char *error = NULL;
	str_clear(name);
	for (size_t i = 0; i <= len && error == NULL;) {
		const char *dot = memchr(storage + i, '.', len - i);
		size_t n = dot != NULL ? (size_t)(dot - (storage + i)) : len - i;
		if (n == 0)
			error = "empty component";
		else if (i > 0)
			str_append_char(name, '/');
		if (error == NULL && mutf7_decode(storage + i, n, name, &error) != 0)
			break;
		i += n + 1;
	}
	if (error != NULL)
		return fail(EINVAL, error_r, "%s", error);
	struct str canonical = STR_INIT;
	bool inbox;
	int rc = 0;
	if (memchr(name->data, '\0', name->len) != NULL)
		rc = fail(EINVAL, error_r, "control character");
	else if (name_to_storage(str_cstr(name), &canonical, &inbox, error_r) != 0)
		rc = -1;
	else if (canonical.len != len || memcmp(canonical.data, storage, len) != 0)
		rc = fail(EINVAL, error_r, "not the canonical form of \"%s\"",
		          quoted(str_cstr(name)));
	str_free(&canonical);
	return rc;
}

int folders_name_canonical(const char *name, char **canonical_r, const char **error_r)
{
	struct str storage = STR_INIT, canonical = STR_INIT;
	bool inbox;
	int rc = name_to_storage(name, &storage, &inbox, error_r);
	if (rc == 0) {
		/* Decoding cannot fail on what encoding wrote. */
		rc = storage_to_name(storage.data, storage.len, &canonical, error_r);
		*canonical_r = rc == 0 ? str_steal(&canonical) : NULL;
	}
	str_free(&storage);
	str_free(&canonical);
	return rc;
}

int folders_path(const char *root, const char *name, char **path_r, const char **error_r)
{
	struct str storage = STR_INIT;
	bool inbox;
	if (name_to_storage(name, &storage, &inbox, error_r) != 0) {
		str_free(&storage);
		return -1;
	}
	*path_r = inbox ? xstrdup(root) : xasprintf("%s/.%s", root, str_cstr(&storage));
	str_free(&storage);
	return 0;
}

/* ---- Listing ---- */

static void push(char ***items, size_t *count, size_t *cap, char *item)
{
	if (*count == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*items = xreallocarray(*items, *cap, sizeof(**items));
	}
	(*items)[(*count)++] = item;
}

static void add_name(struct folders_list *list, const char *name)
{
	push(&list->names, &list->count, &list->cap, xstrdup(name));
}

static void add_skipped(struct folders_list *list, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void add_skipped(struct folders_list *list, const char *fmt, ...)
{
	struct str s = STR_INIT;
	va_list ap;
	va_start(ap, fmt);
	str_vprintf(&s, fmt, ap);
	va_end(ap);
	push(&list->skipped, &list->skipped_count, &list->skipped_cap, str_steal(&s));
}

void folders_list_free(struct folders_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		free(list->names[i]);
	for (size_t i = 0; i < list->skipped_count; i++)
		free(list->skipped[i]);
	free(list->names);
	free(list->skipped);
	memset(list, 0, sizeof(*list));
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_dir_at(int dir_fd, const char *name)
{
	struct stat st;
	return fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

/* Whether a directory entry is a directory (not following symlinks). */
static bool entry_is_dir(DIR *dir, const struct dirent *de)
{
	if (de->d_type != DT_UNKNOWN)
		return de->d_type == DT_DIR;
	return is_dir_at(dirfd(dir), de->d_name);
}

/* Whether the entry of ROOT named entry may be a folder directory. */
static bool folder_candidate(const char *entry)
{
	return entry[0] == '.' && strcmp(entry, ".") != 0 && strcmp(entry, "..") != 0 &&
	       strncmp(entry, FOLDERS_TRASH_PREFIX, strlen(FOLDERS_TRASH_PREFIX)) != 0;
}

int folders_list(const char *root, struct folders_list *list, const char **error_r)
{
	DIR *dir = opendir(root);
	if (dir == NULL)
		return fail(errno, error_r, "opendir %s: %s", root, strerror(errno));
	size_t first = list->count;
	add_name(list, "INBOX");
	struct str name = STR_INIT;
	struct dirent *de;
	errno = 0;
	while ((de = readdir(dir)) != NULL) {
		if (!folder_candidate(de->d_name))
			continue;
		char *cur = xasprintf("%s/cur", de->d_name);
		bool maildir = is_dir_at(dirfd(dir), cur);
		free(cur);
		const char *error;
		if (!maildir) {
			/* not a Maildir (another program's directory) */
		} else if (storage_to_name(de->d_name + 1, strlen(de->d_name + 1), &name, &error) !=
		           0) {
			add_skipped(list, "%s/%s: not a folder name: %s", root, quoted(de->d_name),
			            error);
		} else if (strcmp(str_cstr(&name), "INBOX") == 0) {
			add_skipped(list, "%s/%s: not a folder: INBOX is %s", root, de->d_name,
			            root);
		} else {
			add_name(list, str_cstr(&name));
		}
		errno = 0;
	}
	int saved = errno;
	closedir(dir);
	str_free(&name);
	if (saved != 0)
		return fail(saved, error_r, "readdir %s: %s", root, strerror(saved));
	qsort(list->names + first + 1, list->count - first - 1, sizeof(char *), compare_names);
	return 0;
}

/* ---- Creating ---- */

/* Undo a partly made folder (best effort: what is missing is skipped). */
static void remove_created(const char *path)
{
	static const char *const parts[] = {"tmp", "new", "cur"};
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		char *sub = xasprintf("%s/%s", path, parts[i]);
		rmdir(sub);
		free(sub);
	}
	char *marker = xasprintf("%s/%s", path, FOLDERS_MARKER_NAME);
	unlink(marker);
	free(marker);
	rmdir(path);
}

int folders_create(const char *root, const char *name, const char **error_r)
{
	char *path;
	if (folders_path(root, name, &path, error_r) != 0)
		return -1;
	if (strcmp(path, root) == 0) {
		free(path);
		return fail(EEXIST, error_r, "INBOX exists (%s)", root);
	}
	if (maildir_create(root, error_r) != 0) {
		free(path);
		return -1;
	}
	if (mkdir(path, 0700) != 0) {
		int rc =
		    errno == EEXIST
		        ? fail(EEXIST, error_r, "folder \"%s\" exists (%s)", quoted(name), path)
		        : fail(errno, error_r, "mkdir %s: %s", path, strerror(errno));
		free(path);
		return rc;
	}
	int rc = 0;
	char *marker = xasprintf("%s/%s", path, FOLDERS_MARKER_NAME);
	int fd = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || close(fd) != 0)
		rc = fail(errno, error_r, "create %s: %s", marker, strerror(errno));
	else if (maildir_create(path, error_r) != 0)
		rc = -1;
	else if (dir_sync(path) != 0 || dir_sync(root) != 0)
		rc = fail(errno, error_r, "fsync %s or %s: %s", path, root, strerror(errno));
	if (rc != 0) {
		int saved = errno;
		remove_created(path);
		errno = saved;
	}
	free(marker);
	free(path);
	return rc;
}

/* ---- Deleting ---- */

static bool is_maildir_part(const char *entry)
{
	return strcmp(entry, "cur") == 0 || strcmp(entry, "new") == 0 || strcmp(entry, "tmp") == 0;
}

/* Go through the directory dir (at path): with remove, unlink every entry
 * that is not a directory. Any directory in it other than cur/ new/ tmp/
 * at the top (depth 0) is refused with ENOTEMPTY, before anything is
 * removed when remove is false; with remove, cur/ new/ tmp/ are emptied
 * and removed too. 0 or -1 with *error_r. */
static int walk_folder(int dir_fd, const char *path, int depth, bool remove, const char **error_r)
{
	DIR *dir = fdopendir(dir_fd);
	if (dir == NULL) {
		close(dir_fd);
		return fail(errno, error_r, "opendir %s: %s", path, strerror(errno));
	}
	int rc = 0;
	while (rc == 0) {
		errno = 0;
		struct dirent *de = readdir(dir);
		if (de == NULL) {
			if (errno != 0)
				rc = fail(errno, error_r, "readdir %s: %s", path, strerror(errno));
			break;
		}
		const char *entry = de->d_name;
		if (strcmp(entry, ".") == 0 || strcmp(entry, "..") == 0)
			continue;
		if (!entry_is_dir(dir, de)) {
			if (remove && unlinkat(dirfd(dir), entry, 0) != 0 && errno != ENOENT)
				rc = fail(errno, error_r, "unlink %s/%s: %s", path, entry,
				          strerror(errno));
		} else if (depth > 0 || !is_maildir_part(entry)) {
			rc = fail(ENOTEMPTY, error_r,
			          "%s/%s: a directory that is not part of a Maildir; "
			          "not deleting the folder",
			          path, quoted(entry));
		} else {
			int sub = openat(dirfd(dir), entry, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			char *sub_path = xasprintf("%s/%s", path, entry);
			if (sub < 0)
				rc = fail(errno, error_r, "open %s: %s", sub_path, strerror(errno));
			else
				rc = walk_folder(sub, sub_path, depth + 1, remove, error_r);
			if (rc == 0 && remove && unlinkat(dirfd(dir), entry, AT_REMOVEDIR) != 0)
				rc =
				    fail(errno, error_r, "rmdir %s: %s", sub_path, strerror(errno));
			int saved = errno;
			free(sub_path);
			errno = saved;
		}
	}
	int saved = errno;
	closedir(dir);
	errno = saved;
	return rc;
}

static int walk_folder_path(const char *path, bool remove, const char **error_r)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return fail(errno, error_r, "open %s: %s", path, strerror(errno));
	return walk_folder(fd, path, 0, remove, error_r);
}

/* rename(2) of a directory that never replaces one (a directory can
 * replace an empty one): RENAME_NOREPLACE, or a check just before where
 * the file system lacks it. */
static int rename_dir_no_replace(int dir_fd, const char *from, const char *to)
{
	if (renameat2(dir_fd, from, dir_fd, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	struct stat st;
	if (fstatat(dir_fd, to, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		errno = EEXIST;
		return -1;
	}
	return renameat(dir_fd, from, dir_fd, to);
}

/* Delete the folder directory at path, checked by walk_folder: rename it
 * out of sight (so the folder vanishes at once and may be created again),
 * then empty and remove it. 1, 0 (gone meanwhile) or -1. */
static int delete_checked(int root_fd, const char *root, const char *path, const char **error_r)
{
	const char *entry = strrchr(path, '/') + 1;
	char *trash = NULL;
	int rc = -1;
	for (unsigned attempt = 0; attempt < 100; attempt++) {
		free(trash);
		trash = xasprintf("%s%ld.%u", FOLDERS_TRASH_PREFIX, (long)getpid(), attempt);
		if (rename_dir_no_replace(root_fd, entry, trash) == 0) {
			rc = 1;
			break;
		}
		if (errno == ENOENT) {
			rc = 0; /* deleted by another process meanwhile */
			break;
		}
		if (errno != EEXIST)
			break;
	}
	if (rc < 0) {
		fail(errno, error_r, "rename %s out of the way: %s", path, strerror(errno));
	} else if (rc == 1) {
		char *trash_path = xasprintf("%s/%s", root, trash);
		if (walk_folder_path(trash_path, true, error_r) != 0)
			rc = -1;
		else if (unlinkat(root_fd, trash, AT_REMOVEDIR) != 0)
			rc = fail(errno, error_r, "rmdir %s: %s", trash_path, strerror(errno));
		else if (fsync(root_fd) != 0)
			rc = fail(errno, error_r, "fsync %s: %s", root, strerror(errno));
		free(trash_path);
	}
	free(trash);
	return rc;
}

int folders_delete(const char *root, const char *name, const char **error_r)
{
	char *path;
	if (folders_path(root, name, &path, error_r) != 0)
		return -1;
	if (strcmp(path, root) == 0) {
		free(path);
		return fail(EPERM, error_r, "INBOX (%s) cannot be deleted", root);
	}
	struct stat st;
	int rc = -1;
	int root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0)
		rc = errno == ENOENT ? 0
		                     : fail(errno, error_r, "open %s: %s", root, strerror(errno));
	else if (lstat(path, &st) != 0)
		rc = errno == ENOENT ? 0
		                     : fail(errno, error_r, "stat %s: %s", path, strerror(errno));
	else if (!S_ISDIR(st.st_mode))
		fail(ENOTDIR, error_r, "%s is not a directory", path);
	else if (walk_folder_path(path, false, error_r) == 0)
		rc = delete_checked(root_fd, root, path, error_r);
	int saved = errno;
	if (root_fd >= 0)
		close(root_fd);
	free(path);
	errno = saved;
	return rc;
}

/* ---- Renaming ---- */

/* The entries of ROOT that are OLD (".OLD") or its inferiors (".OLD.*"),
 * sorted (OLD first). */
static int collect_inferiors(int root_fd, const char *root, const char *old_entry,
                             struct folders_list *found, const char **error_r)
{
	int fd = dup(root_fd);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	if (dir == NULL) {
		int saved = errno;
		if (fd >= 0)
			close(fd);
		return fail(saved, error_r, "opendir %s: %s", root, strerror(saved));
	}
	rewinddir(dir);
	size_t len = strlen(old_entry);
	struct dirent *de;
	errno = 0;
	while ((de = readdir(dir)) != NULL) {
		if (strncmp(de->d_name, old_entry, len) == 0 &&
		    (de->d_name[len] == '\0' || de->d_name[len] == '.') && entry_is_dir(dir, de))
			add_name(found, de->d_name);
		errno = 0;
	}
	int saved = errno;
	closedir(dir);
	if (saved != 0)
		return fail(saved, error_r, "readdir %s: %s", root, strerror(saved));
	qsort(found->names, found->count, sizeof(char *), compare_names);
	return 0;
}

/* Move every entry in from[] to the same name with its first old_len
 * bytes replaced by new_entry; undo all on failure. */
static int rename_all(int root_fd, const char *root, const struct folders_list *from,
                      size_t old_len, const char *new_entry, const char **error_r)
{
	char **to = xcalloc(from->count, sizeof(char *));
	int rc = 0;
	for (size_t i = 0; i < from->count && rc == 0; i++) {
		to[i] = xasprintf("%s%s", new_entry, from->names[i] + old_len);
		struct stat st;
		if (strlen(to[i]) > NAME_MAX)
			rc = fail(EINVAL, error_r, "%s/%s: the new name would be too long", root,
			          from->names[i]);
		else if (fstatat(root_fd, to[i], &st, AT_SYMLINK_NOFOLLOW) == 0)
			rc = fail(EEXIST, error_r, "%s/%s exists", root, to[i]);
	}
	size_t done = 0;
	while (rc == 0 && done < from->count) {
		if (rename_dir_no_replace(root_fd, from->names[done], to[done]) != 0)
			rc = fail(errno, error_r, "rename %s/%s to %s: %s", root, from->names[done],
			          to[done], strerror(errno));
		else
			done++;
	}
	if (rc != 0) {
		int saved = errno;
		while (done-- > 0)
			rename_dir_no_replace(root_fd, to[done], from->names[done]);
		errno = saved;
	} else if (fsync(root_fd) != 0) {
		rc = fail(errno, error_r, "fsync %s: %s", root, strerror(errno));
	}
	for (size_t i = 0; i < from->count; i++)
		free(to[i]);
	free(to);
	return rc;
}

int folders_rename(const char *root, const char *old_name, const char *new_name,
                   const char **error_r)
{
	struct str old_storage = STR_INIT, new_storage = STR_INIT;
	bool old_inbox, new_inbox;
	int rc = -1;
	if (name_to_storage(old_name, &old_storage, &old_inbox, error_r) != 0 ||
	    name_to_storage(new_name, &new_storage, &new_inbox, error_r) != 0) {
		/* *error_r set */
	} else if (old_inbox) {
		fail(EPERM, error_r, "renaming INBOX is not supported");
	} else if (new_inbox) {
		fail(EEXIST, error_r, "INBOX exists (%s)", root);
	} else if (new_storage.len > old_storage.len &&
	           strncmp(new_storage.data, old_storage.data, old_storage.len) == 0 &&
	           new_storage.data[old_storage.len] == '.') {
		fail(EINVAL, error_r, "cannot move folder \"%s\" into itself", quoted(old_name));
	} else {
		char *old_entry = xasprintf(".%s", str_cstr(&old_storage));
		char *new_entry = xasprintf(".%s", str_cstr(&new_storage));
		struct folders_list found = {0};
		int root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (root_fd < 0)
			rc = errno == ENOENT
			         ? 0
			         : fail(errno, error_r, "open %s: %s", root, strerror(errno));
		else if (!is_dir_at(root_fd, old_entry))
			rc = 0;
		else if (collect_inferiors(root_fd, root, old_entry, &found, error_r) != 0)
			rc = -1;
		else if (rename_all(root_fd, root, &found, strlen(old_entry), new_entry, error_r))
			rc = -1;
		else
			rc = 1;
		int saved = errno;
		if (root_fd >= 0)
			close(root_fd);
		folders_list_free(&found);
		free(old_entry);
		free(new_entry);
		errno = saved;
	}
	str_free(&old_storage);
	str_free(&new_storage);
	return rc;
}

/* ---- Subscriptions ---- */

/* Read ROOT/subscriptions into content ("" if missing, *exists_r false). */
static int subscriptions_load(const char *path, struct str *content, bool *exists_r,
                              const char **error_r)
{
	*exists_r = false;
	str_clear(content);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0
		                       : fail(errno, error_r, "open %s: %s", path, strerror(errno));
	*exists_r = true;
	int rc = 0;
	for (;;) {
		if (content->len > FOLDERS_SUBSCRIPTIONS_MAX) {
			rc = fail(EFBIG, error_r, "%s: larger than %d bytes", path,
			          FOLDERS_SUBSCRIPTIONS_MAX);
			break;
		}
		char buf[8192];
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = fail(errno, error_r, "read %s: %s", path, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		str_append(content, buf, (size_t)n);
	}
	int saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

/* The on-disk form of the folder a subscription line names: in version
 * 2, the tabs separating components become '.' and \001-escapes are
 * undone; a trailing separator (older writers) is dropped. */
static void line_to_storage(const char *line, size_t len, bool version2, struct str *storage)
{
	str_clear(storage);
	if (len > 0 && line[len - 1] == '\r')
		len--;
	for (size_t i = 0; i < len; i++) {
		char c = line[i];
		if (version2 && c == '\t') {
			c = '.';
		} else if (version2 && c == '\001' && i + 1 < len) {
			static const char from[] = "01trn", to[] = "\0\001\t\r\n";
			const char *p = memchr(from, line[++i], 5);
			c = p != NULL ? to[p - from] : line[i];
		}
		str_append_char(storage, c);
	}
	if (storage->len > 0 && storage->data[storage->len - 1] == '.')
		str_truncate(storage, storage->len - 1);
}

/* One line of a subscriptions file. */
struct subscription_line {
	const char *text; /* the line as it is, without its "\n" */
	size_t len, number;
};

/* The next line of a subscriptions file's content (after the header, if
 * version 2) from *pos on, and into storage the on-disk folder form it
 * names; false at the end. */
static bool next_line(const struct str *content, size_t *pos, bool version2, struct str *storage,
                      struct subscription_line *line)
{
	if (*pos == 0 && version2) {
		*pos = sizeof(subscriptions_header) - 1;
		line->number = 2;
	}
	if (*pos >= content->len)
		return false;
	const char *start = content->data + *pos;
	const char *nl = memchr(start, '\n', content->len - *pos);
	line->text = start;
	line->len = nl != NULL ? (size_t)(nl - start) : content->len - *pos;
	line->number++;
	*pos += line->len + 1;
	line_to_storage(line->text, line->len, version2, storage);
	return true;
}

static bool has_header(const struct str *content)
{
	size_t n = sizeof(subscriptions_header) - 1;
	return content->len >= n && memcmp(content->data, subscriptions_header, n) == 0;
}

int folders_subscriptions_read(const char *root, struct folders_list *list, const char **error_r)
{
	char *path = xasprintf("%s/%s", root, FOLDERS_SUBSCRIPTIONS_NAME);
	struct str content = STR_INIT, storage = STR_INIT, name = STR_INIT;
	bool exists;
	int rc = subscriptions_load(path, &content, &exists, error_r);
	bool version2 = has_header(&content);
	size_t pos = 0, first = list->count;
	struct subscription_line line = {0};
	while (rc == 0 && next_line(&content, &pos, version2, &storage, &line)) {
		const char *error;
		if (storage.len == 0)
			continue;
		if (storage_to_name(storage.data, storage.len, &name, &error) != 0) {
			add_skipped(list, "%s line %zu: not a folder name: %s", path, line.number,
			            error);
			continue;
		}
		bool dup = false;
		for (size_t i = first; i < list->count && !dup; i++)
			dup = strcmp(list->names[i], str_cstr(&name)) == 0;
		if (!dup)
			add_name(list, str_cstr(&name));
	}
	int saved = errno;
	str_free(&content);
	str_free(&storage);
	str_free(&name);
	free(path);
	errno = saved;
	return rc;
}

/* Hold the subscriptions lock: the descriptor (close it to release), or
 * -1 with *error_r. */
static int subscriptions_lock(const char *root, const char **error_r)
{
	char *path = xasprintf("%s/%s", root, FOLDERS_SUBSCRIPTIONS_LOCK_NAME);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		fail(errno, error_r, "open %s: %s", path, strerror(errno));
	} else {
		while (flock(fd, LOCK_EX) != 0) {
			if (errno == EINTR)
				continue;
			fail(errno, error_r, "flock %s: %s", path, strerror(errno));
			close(fd);
			fd = -1;
			break;
		}
	}
	free(path);
	return fd;
}

int folders_subscribe(const char *root, const char *name, bool on, const char **error_r)
{
	struct str storage = STR_INIT, content = STR_INIT, out = STR_INIT, line_storage = STR_INIT;
	char *path = xasprintf("%s/%s", root, FOLDERS_SUBSCRIPTIONS_NAME);
	bool inbox, exists;
	int rc = -1, lock_fd = -1;
	if (name_to_storage(name, &storage, &inbox, error_r) == 0 &&
	    (lock_fd = subscriptions_lock(root, error_r)) >= 0 &&
	    subscriptions_load(path, &content, &exists, error_r) == 0) {
		/* Dovecot keeps a file's version; a new file is version 2. */
		bool version2 = !exists || has_header(&content);
		bool found = false, changed = false;
		if (version2)
			str_append_cstr(&out, subscriptions_header);
		size_t pos = 0;
		struct subscription_line line = {0};
		while (next_line(&content, &pos, version2, &line_storage, &line)) {
			if (str_equal_cstr(&line_storage, str_cstr(&storage))) {
				found = true;
				if (!on) {
					changed = true;
					continue;
				}
			}
			str_append(&out, line.text, line.len);
			str_append_char(&out, '\n');
		}
		if (on && !found) {
			/* Valid names hold no character that needs escaping. */
			for (size_t i = 0; i < storage.len; i++)
				str_append_char(&out, version2 && storage.data[i] == '.'
				                          ? '\t'
				                          : storage.data[i]);
			str_append_char(&out, '\n');
			changed = true;
		}
		if (!changed)
			rc = 0;
		else if (file_replace(path, out.data, out.len, 0600, (gid_t)-1, error_r) == 0)
			rc = 1;
	}
	int saved = errno;
	if (lock_fd >= 0)
		close(lock_fd);
	str_free(&storage);
	str_free(&content);
	str_free(&out);
	str_free(&line_storage);
	free(path);
	errno = saved;
	return rc;
}

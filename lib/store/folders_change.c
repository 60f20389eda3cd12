/*
 * Creating, deleting and renaming folders (see folders.h): a folder's
 * Maildir and marker made (and undone when that fails midway); a folder
 * checked, renamed out of sight and then emptied and removed; a folder
 * renamed with all its inferiors, never replacing a directory, undone
 * when a rename fails midway.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/folders_internal.h"
#include "store/maildir.h"
#include "util/alloc.h"
#include "util/dir_sync.h"
#include "util/str.h"

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
		return folders_fail(EEXIST, error_r, "INBOX exists (%s)", root);
	}
	if (maildir_create(root, error_r) != 0) {
		free(path);
		return -1;
	}
	if (mkdir(path, 0700) != 0) {
		int rc = errno == EEXIST
		             ? folders_fail(EEXIST, error_r, "folder \"%s\" exists (%s)",
		                            folders_quoted(name), path)
		             : folders_fail(errno, error_r, "mkdir %s: %s", path, strerror(errno));
		free(path);
		return rc;
	}
	int rc = 0;
	char *marker = xasprintf("%s/%s", path, FOLDERS_MARKER_NAME);
	int fd = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || close(fd) != 0)
		rc = folders_fail(errno, error_r, "create %s: %s", marker, strerror(errno));
	else if (maildir_create(path, error_r) != 0)
		rc = -1;
	else if (dir_sync(path) != 0 || dir_sync(root) != 0)
		rc =
		    folders_fail(errno, error_r, "fsync %s or %s: %s", path, root, strerror(errno));
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
		return folders_fail(errno, error_r, "opendir %s: %s", path, strerror(errno));
	}
	int rc = 0;
	while (rc == 0) {
		errno = 0;
		struct dirent *de = readdir(dir);
		if (de == NULL) {
			if (errno != 0)
				rc = folders_fail(errno, error_r, "readdir %s: %s", path,
				                  strerror(errno));
			break;
		}
		const char *entry = de->d_name;
		if (strcmp(entry, ".") == 0 || strcmp(entry, "..") == 0)
			continue;
		if (!folders_entry_is_dir(dir, de)) {
			if (remove && unlinkat(dirfd(dir), entry, 0) != 0 && errno != ENOENT)
				rc = folders_fail(errno, error_r, "unlink %s/%s: %s", path, entry,
				                  strerror(errno));
		} else if (depth > 0 || !is_maildir_part(entry)) {
			rc = folders_fail(ENOTEMPTY, error_r,
			                  "%s/%s: a directory that is not part of a Maildir; "
			                  "not deleting the folder",
			                  path, folders_quoted(entry));
		} else {
			int sub = openat(dirfd(dir), entry, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			char *sub_path = xasprintf("%s/%s", path, entry);
			if (sub < 0)
				rc = folders_fail(errno, error_r, "open %s: %s", sub_path,
				                  strerror(errno));
			else
				rc = walk_folder(sub, sub_path, depth + 1, remove, error_r);
			if (rc == 0 && remove && unlinkat(dirfd(dir), entry, AT_REMOVEDIR) != 0)
				rc = folders_fail(errno, error_r, "rmdir %s: %s", sub_path,
				                  strerror(errno));
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
		return folders_fail(errno, error_r, "open %s: %s", path, strerror(errno));
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
		folders_fail(errno, error_r, "rename %s out of the way: %s", path, strerror(errno));
	} else if (rc == 1) {
		char *trash_path = xasprintf("%s/%s", root, trash);
		if (walk_folder_path(trash_path, true, error_r) != 0)
			rc = -1;
		else if (unlinkat(root_fd, trash, AT_REMOVEDIR) != 0)
			rc = folders_fail(errno, error_r, "rmdir %s: %s", trash_path,
			                  strerror(errno));
		else if (fsync(root_fd) != 0)
			rc = folders_fail(errno, error_r, "fsync %s: %s", root, strerror(errno));
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
		return folders_fail(EPERM, error_r, "INBOX (%s) cannot be deleted", root);
	}
	struct stat st;
	int rc = -1;
	int root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0)
		rc = errno == ENOENT
		         ? 0
		         : folders_fail(errno, error_r, "open %s: %s", root, strerror(errno));
	else if (lstat(path, &st) != 0)
		rc = errno == ENOENT
		         ? 0
		         : folders_fail(errno, error_r, "stat %s: %s", path, strerror(errno));
	else if (!S_ISDIR(st.st_mode))
		folders_fail(ENOTDIR, error_r, "%s is not a directory", path);
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
		return folders_fail(saved, error_r, "opendir %s: %s", root, strerror(saved));
	}
	rewinddir(dir);
	size_t len = strlen(old_entry);
	struct dirent *de;
	errno = 0;
	while ((de = readdir(dir)) != NULL) {
		if (strncmp(de->d_name, old_entry, len) == 0 &&
		    (de->d_name[len] == '\0' || de->d_name[len] == '.') &&
		    folders_entry_is_dir(dir, de))
			folders_add_name(found, de->d_name);
		errno = 0;
	}
	int saved = errno;
	closedir(dir);
	if (saved != 0)
		return folders_fail(saved, error_r, "readdir %s: %s", root, strerror(saved));
	qsort(found->names, found->count, sizeof(char *), folders_compare_names);
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
			rc = folders_fail(EINVAL, error_r, "%s/%s: the new name would be too long",
			                  root, from->names[i]);
		else if (fstatat(root_fd, to[i], &st, AT_SYMLINK_NOFOLLOW) == 0)
			rc = folders_fail(EEXIST, error_r, "%s/%s exists", root, to[i]);
	}
	size_t done = 0;
	while (rc == 0 && done < from->count) {
		if (rename_dir_no_replace(root_fd, from->names[done], to[done]) != 0)
			rc = folders_fail(errno, error_r, "rename %s/%s to %s: %s", root,
			                  from->names[done], to[done], strerror(errno));
		else
			done++;
	}
	if (rc != 0) {
		int saved = errno;
		while (done-- > 0)
			rename_dir_no_replace(root_fd, to[done], from->names[done]);
		errno = saved;
	} else if (fsync(root_fd) != 0) {
		rc = folders_fail(errno, error_r, "fsync %s: %s", root, strerror(errno));
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
	if (folders_name_to_storage(old_name, &old_storage, &old_inbox, error_r) != 0 ||
	    folders_name_to_storage(new_name, &new_storage, &new_inbox, error_r) != 0) {
		/* *error_r set */
	} else if (old_inbox) {
		folders_fail(EPERM, error_r, "renaming INBOX is not supported");
	} else if (new_inbox) {
		folders_fail(EEXIST, error_r, "INBOX exists (%s)", root);
	} else if (new_storage.len > old_storage.len &&
	           strncmp(new_storage.data, old_storage.data, old_storage.len) == 0 &&
	           new_storage.data[old_storage.len] == '.') {
		folders_fail(EINVAL, error_r, "cannot move folder \"%s\" into itself",
		             folders_quoted(old_name));
	} else {
		char *old_entry = xasprintf(".%s", str_cstr(&old_storage));
		char *new_entry = xasprintf(".%s", str_cstr(&new_storage));
		struct folders_list found = {0};
		int root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (root_fd < 0)
			rc = errno == ENOENT ? 0
			                     : folders_fail(errno, error_r, "open %s: %s", root,
			                                    strerror(errno));
		else if (!folders_is_dir_at(root_fd, old_entry))
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

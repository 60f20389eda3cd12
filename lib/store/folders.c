/*
 * The folder list (see folders.h): the folders_list that listings and
 * subscriptions fill, and listing the folders of a root Maildir, INBOX
 * first, then the ROOT/.X Maildirs whose names decode, sorted.
 */
#include "store/folders.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/folders_internal.h"
#include "util/alloc.h"
#include "util/str.h"

static void push(char ***items, size_t *count, size_t *cap, char *item)
{
	if (*count == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*items = xreallocarray(*items, *cap, sizeof(**items));
	}
	(*items)[(*count)++] = item;
}

void folders_add_name(struct folders_list *list, const char *name)
{
	push(&list->names, &list->count, &list->cap, xstrdup(name));
}

void folders_add_skipped(struct folders_list *list, const char *fmt, ...)
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

int folders_compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

bool folders_is_dir_at(int dir_fd, const char *name)
{
	struct stat st;
	return fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

/* Whether a directory entry is a directory (not following symlinks). */
bool folders_entry_is_dir(DIR *dir, const struct dirent *de)
{
	if (de->d_type != DT_UNKNOWN)
		return de->d_type == DT_DIR;
	return folders_is_dir_at(dirfd(dir), de->d_name);
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
		return folders_fail(errno, error_r, "opendir %s: %s", root, strerror(errno));
	size_t first = list->count;
	folders_add_name(list, "INBOX");
	struct str name = STR_INIT;
	struct dirent *de;
	errno = 0;
	while ((de = readdir(dir)) != NULL) {
		if (!folder_candidate(de->d_name))
			continue;
		char *cur = xasprintf("%s/cur", de->d_name);
		bool maildir = folders_is_dir_at(dirfd(dir), cur);
		free(cur);
		const char *error;
		if (!maildir) {
			/* not a Maildir (another program's directory) */
		} else if (folders_storage_to_name(de->d_name + 1, strlen(de->d_name + 1), &name,
		                                   &error) != 0) {
			folders_add_skipped(list, "%s/%s: not a folder name: %s", root,
			                    folders_quoted(de->d_name), error);
		} else if (strcmp(str_cstr(&name), "INBOX") == 0) {
			folders_add_skipped(list, "%s/%s: not a folder: INBOX is %s", root,
			                    de->d_name, root);
		} else {
			folders_add_name(list, str_cstr(&name));
		}
		errno = 0;
	}
	int saved = errno;
	closedir(dir);
	str_free(&name);
	if (saved != 0)
		return folders_fail(saved, error_r, "readdir %s: %s", root, strerror(saved));
	qsort(list->names + first + 1, list->count - first - 1, sizeof(char *),
	      folders_compare_names);
	return 0;
}

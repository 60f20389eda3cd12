/*
 * Folder subscriptions (see folders.h): ROOT/subscriptions in Dovecot's
 * format (version 2 with its header, or version 1), read whole, and
 * changed under a flock(2) lock by writing the file anew atomically.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "store/folders_internal.h"
#include "util/alloc.h"
#include "util/file_replace.h"
#include "util/str.h"

/* The subscriptions file is read whole; this is far more than any
 * person subscribes to. */
#define FOLDERS_SUBSCRIPTIONS_MAX (4 * 1024 * 1024)

static const char subscriptions_header[] = "V\t2\n\n";

/* Read ROOT/subscriptions into content ("" if missing, *exists_r false). */
static int subscriptions_load(const char *path, struct str *content, bool *exists_r,
                              const char **error_r)
{
	*exists_r = false;
	str_clear(content);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT
		           ? 0
		           : folders_fail(errno, error_r, "open %s: %s", path, strerror(errno));
	*exists_r = true;
	int rc = 0;
	for (;;) {
		if (content->len > FOLDERS_SUBSCRIPTIONS_MAX) {
			rc = folders_fail(EFBIG, error_r, "%s: larger than %d bytes", path,
			                  FOLDERS_SUBSCRIPTIONS_MAX);
			break;
		}
		char buf[8192];
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = folders_fail(errno, error_r, "read %s: %s", path, strerror(errno));
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
		if (folders_storage_to_name(storage.data, storage.len, &name, &error) != 0) {
			folders_add_skipped(list, "%s line %zu: not a folder name: %s", path,
			                    line.number, error);
			continue;
		}
		bool dup = false;
		for (size_t i = first; i < list->count && !dup; i++)
			dup = strcmp(list->names[i], str_cstr(&name)) == 0;
		if (!dup)
			folders_add_name(list, str_cstr(&name));
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
		folders_fail(errno, error_r, "open %s: %s", path, strerror(errno));
	} else {
		while (flock(fd, LOCK_EX) != 0) {
			if (errno == EINTR)
				continue;
			folders_fail(errno, error_r, "flock %s: %s", path, strerror(errno));
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
	if (folders_name_to_storage(name, &storage, &inbox, error_r) == 0 &&
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

/*
 * Folder names (see folders.h): checking a UTF-8 folder name and mapping
 * it to its on-disk form (components in modified UTF-7 joined by '.')
 * and back, only in canonical form, and the folders module's error
 * buffer and quoting of names in messages.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store/folders_internal.h"
#include "util/alloc.h"
#include "util/mutf7.h"
#include "util/str.h"

static _Thread_local char folders_error[1024];

/* Set *error_r and errno = err; return -1. The arguments may point into
 * folders_error (an error passed on), hence the copy. */
int folders_fail(int err, const char **error_r, const char *fmt, ...)
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
const char *folders_quoted(const char *name)
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
int folders_name_to_storage(const char *name, struct str *storage, bool *inbox_r,
                            const char **error_r)
{
	size_t len = strlen(name);
	str_clear(storage);
	*inbox_r = false;
	if (len == 0)
		return folders_fail(EINVAL, error_r, "empty folder name");
	if (len > FOLDERS_NAME_MAX)
		return folders_fail(EINVAL, error_r, "folder name longer than %d bytes",
		                    FOLDERS_NAME_MAX);
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
			return folders_fail(EINVAL, error_r, "invalid folder name \"%s\": %s",
			                    folders_quoted(name), problem);
		if (!first)
			str_append_char(storage, '.');
		if (first && n == 5 && strncasecmp(p, "INBOX", 5) == 0)
			str_append_cstr(storage, "INBOX");
		else if (mutf7_encode(p, n, storage, &error) != 0)
			return folders_fail(EINVAL, error_r, "invalid folder name \"%s\": %s",
			                    folders_quoted(name), error);
		if (slash == NULL)
			break;
		p = slash + 1;
	}
	if (storage->len + 1 > NAME_MAX)
		return folders_fail(EINVAL, error_r,
		                    "folder name \"%s\" too long for a directory name",
		                    folders_quoted(name));
	return 0;
}

/* The folder name that the on-disk form storage (len bytes) stands for,
 * into name; only a canonical form (the one name_to_storage gives back)
 * is taken. */
int folders_storage_to_name(const char *storage, size_t len, struct str *name, const char **error_r)
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
		return folders_fail(EINVAL, error_r, "%s", error);
	struct str canonical = STR_INIT;
	bool inbox;
	int rc = 0;
	if (memchr(name->data, '\0', name->len) != NULL)
		rc = folders_fail(EINVAL, error_r, "control character");
	else if (folders_name_to_storage(str_cstr(name), &canonical, &inbox, error_r) != 0)
		rc = -1;
	else if (canonical.len != len || memcmp(canonical.data, storage, len) != 0)
		rc = folders_fail(EINVAL, error_r, "not the canonical form of \"%s\"",
		                  folders_quoted(str_cstr(name)));
	str_free(&canonical);
	return rc;
}

int folders_name_canonical(const char *name, char **canonical_r, const char **error_r)
{
	struct str storage = STR_INIT, canonical = STR_INIT;
	bool inbox;
	int rc = folders_name_to_storage(name, &storage, &inbox, error_r);
	if (rc == 0) {
		/* Decoding cannot fail on what encoding wrote. */
		rc = folders_storage_to_name(storage.data, storage.len, &canonical, error_r);
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
	if (folders_name_to_storage(name, &storage, &inbox, error_r) != 0) {
		str_free(&storage);
		return -1;
	}
	*path_r = inbox ? xstrdup(root) : xasprintf("%s/.%s", root, str_cstr(&storage));
	str_free(&storage);
	return 0;
}

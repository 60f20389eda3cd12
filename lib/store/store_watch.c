/*
 * Watching a mailbox for changes made by other processes (IMAP IDLE):
 * inotify on new/ and cur/ (delivery, flag changes, expunges and moves by
 * any tool) and on the index (flag changes, UIDs and expunges written by
 * another Postern process). A change seen here says only "sync now": the
 * caller then runs store_sync and compares.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "store/store.h"
#include "util/alloc.h"

struct store_watch {
	int fd;
};

static char watch_error[512];

static const char *set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static const char *set_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(watch_error, sizeof(watch_error), fmt, ap);
	va_end(ap);
	return watch_error;
}

#define DIR_EVENTS (IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ATTRIB)

struct store_watch *store_watch_open(const struct store *s, const char **error_r)
{
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fd < 0) {
		*error_r = set_error("inotify: %s", strerror(errno));
		return NULL;
	}
	static const struct {
		const char *name;
		uint32_t mask;
	} watched[] = {
	    {"new", DIR_EVENTS},
	    {"cur", DIR_EVENTS},
	    {STORE_INDEX_NAME, IN_MODIFY},
	};
	for (size_t i = 0; i < sizeof(watched) / sizeof(watched[0]); i++) {
		char *path = xasprintf("%s/%s", store_path(s), watched[i].name);
		int wd = inotify_add_watch(fd, path, watched[i].mask);
		if (wd < 0) {
			*error_r = set_error("watch %s: %s", path,
			                     errno == ENOSPC ? "too many watches "
			                                       "(fs.inotify.max_user_watches)"
			                                     : strerror(errno));
			free(path);
			close(fd);
			return NULL;
		}
		free(path);
	}
	struct store_watch *w = xcalloc(1, sizeof(*w));
	w->fd = fd;
	return w;
}

int store_watch_fd(const struct store_watch *w)
{
	return w->fd;
}

int store_watch_changed(struct store_watch *w, const char **error_r)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	int changed = 0;
	for (;;) {
		ssize_t n = read(w->fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return changed;
		if (n <= 0) {
			*error_r = set_error("read inotify events: %s",
			                     n < 0 ? strerror(errno) : "end of file");
			return -1;
		}
		/* Any event (an overflow too) means: sync. A watched directory
		 * or index that went away (IN_IGNORED) also reads as a change:
		 * the sync then reports the trouble. */
		changed = 1;
	}
}

void store_watch_close(struct store_watch *w)
{
	if (w == NULL)
		return;
	close(w->fd);
	free(w);
}

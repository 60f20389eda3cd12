/*
 * The files under the queue's tmp/ that are not being written: the pool of
 * free files that finished messages leave for the next ones to take
 * (queue_file_recycle, queue_take_free_file), and the sweep of files left
 * there by killed writers (queue_sweep_tmp).
 */
#include "mail/queue.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/self_pid.h"

/* Files of finished messages wait under tmp/ as free.NNN, emptied, to be
 * the next messages' files: taking one is a rename, where creating a file
 * makes the file system find and initialise an inode (costly on ext4
 * soon after many deletions). At most this many wait; a file is given a
 * random free slot (a few tries), so it is unlinked only when the pool is
 * nearly full. A taker tries a few random slots too (the pool is mostly
 * full where files are recycled), then reads tmp/ for any free file;
 * after a reading that found none it skips the pool for a while, tries
 * and reading (a receiver whose mail is never delivered, or not yet,
 * finds none: each miss is a path lookup).
 * Likewise a file given back when every slot it tried was taken marks
 * the pool full, and files are then unlinked at once for a while (mail
 * delivered from a queue that no receiver is filling), rather than each
 * truncated and offered to slots first.
 * Slots are claimed with renameat2(RENAME_NOREPLACE) alone, not
 * rename_no_replace: its link()+unlink() fallback would let two takers
 * link the same free file. Without it the pool stays empty (files are
 * unlinked and created as before). */
#define QUEUE_FREE_SLOTS 256
#define QUEUE_FREE_TRIES 8
#define QUEUE_TAKE_TRIES 3
#define QUEUE_EMPTY_POOL_SECONDS 1
#define QUEUE_FULL_POOL_SECONDS 1
#define QUEUE_FREE_PREFIX "free."

/* When this process last found the pool empty (0: not lately). */
static _Atomic time_t pool_seen_empty;
/* When this process last found the pool full (0: not lately). */
static _Atomic time_t pool_seen_full;

/* Whether a mark set at time seen (by the clock's seconds) is recent. */
static bool pool_mark_recent(time_t seen, time_t now, int seconds)
{
	return seen != 0 && now >= seen && now - seen < seconds + 1;
}

/* A random slot's path, from a per-thread sequence seeded apart. */
static char *random_slot(const char *queue_dir)
{
	static _Thread_local unsigned next_slot;
	if (next_slot == 0)
		next_slot =
		    ((unsigned)self_pid() ^ (unsigned)(uintptr_t)&next_slot) * 2654435761u | 1u;
	/* a multiplicative step scatters the slots one process tries */
	next_slot = next_slot * 1103515245u + 12345u;
	return xasprintf("%s/tmp/" QUEUE_FREE_PREFIX "%03u", queue_dir,
	                 (next_slot >> 16) % QUEUE_FREE_SLOTS);
}

int queue_file_recycle(const char *queue_dir, const char *path)
{
	time_t now = time(NULL);
	if (!pool_mark_recent(atomic_load(&pool_seen_full), now, QUEUE_FULL_POOL_SECONDS) &&
	    truncate(path, 0) == 0) {
		int attempt = 0;
		for (; attempt < QUEUE_FREE_TRIES; attempt++) {
			char *slot = random_slot(queue_dir);
			int rc = renameat2(AT_FDCWD, path, AT_FDCWD, slot, RENAME_NOREPLACE);
			free(slot);
			if (rc == 0) {
				atomic_store(&pool_seen_empty, 0);
				return 0;
			}
			if (errno != EEXIST)
				break;
		}
		if (attempt == QUEUE_FREE_TRIES)
			atomic_store(&pool_seen_full, now > 0 ? now : 1);
	}
	if (unlink(path) != 0 && errno != ENOENT)
		return -1;
	return 0;
}

/* Open the free file just renamed to path, or drop it. */
static int open_taken(const char *path, int flags)
{
	int fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		unlink(path);
	return fd;
}

int queue_take_free_file(const char *queue_dir, const char *path, int flags)
{
	time_t now = time(NULL);
	if (pool_mark_recent(atomic_load(&pool_seen_empty), now, QUEUE_EMPTY_POOL_SECONDS))
		return -1;
	for (int attempt = 0; attempt < QUEUE_TAKE_TRIES; attempt++) {
		char *slot = random_slot(queue_dir);
		int rc = renameat2(AT_FDCWD, slot, AT_FDCWD, path, RENAME_NOREPLACE);
		free(slot);
		if (rc == 0)
			return open_taken(path, flags);
	}
	char *tmp = xasprintf("%s/tmp", queue_dir);
	DIR *dir = opendir(tmp);
	free(tmp);
	if (dir == NULL)
		return -1;
	int fd = -1;
	bool found = false;
	struct dirent *de;
	while (fd < 0 && (de = readdir(dir)) != NULL) {
		if (strncmp(de->d_name, QUEUE_FREE_PREFIX, strlen(QUEUE_FREE_PREFIX)) != 0)
			continue;
		found = true;
		/* Another process may take the same one first: then try the next. */
		if (renameat2(dirfd(dir), de->d_name, AT_FDCWD, path, RENAME_NOREPLACE) != 0)
			continue;
		fd = open_taken(path, flags);
	}
	closedir(dir);
	if (!found)
		atomic_store(&pool_seen_empty, now > 0 ? now : 1);
	return fd;
}
int queue_sweep_tmp(const char *queue_dir, int max_age)
{
	char *path = xasprintf("%s/tmp", queue_dir);
	DIR *dir = opendir(path);
	free(path);
	if (dir == NULL)
		return 0;
	time_t cutoff = time(NULL) - max_age;
	int removed = 0;
	struct dirent *de;
	while ((de = readdir(dir)) != NULL) {
		struct stat st;
		if (!queue_id_valid(de->d_name) ||
		    fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(st.st_mode) || st.st_mtime > cutoff)
			continue;
		if (unlinkat(dirfd(dir), de->d_name, 0) == 0)
			removed++;
	}
	closedir(dir);
	return removed;
}

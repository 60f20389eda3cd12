/*
 * Concurrent connections per client address, counted across all smtpd
 * processes without a helper service: each connection holds one byte-range
 * lock in $data_directory/smtpd-clients, in a block of `limit` bytes chosen
 * by a hash of the address. When every byte of the block is locked by other
 * processes, the client has too many connections. Locks vanish with the
 * process, so a crash never leaks a slot.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "smtpd/smtpd.h"
#include "util/alloc.h"
#include "util/log.h"

#define BUCKETS 65536u

static int lock_fd = -1;
static off_t held = -1; /* the byte this process holds for its client */

static uint32_t hash_address(const char *addr)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (const unsigned char *p = (const unsigned char *)addr; *p; p++) {
		h ^= *p;
		h *= 16777619u;
	}
	return h % BUCKETS;
}

bool client_limit_take(const struct smtpd_settings *cfg, const char *addr)
{
	if (cfg->connection_count_limit <= 0 || cidr_list_match(cfg->event_limit_exceptions, addr))
		return true;
	if (lock_fd < 0) {
		char *path = xasprintf("%s/smtpd-clients", cfg->data_dir);
		lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (lock_fd < 0)
			log_warn("open %s: %m; not counting connections per client", path);
		free(path);
		if (lock_fd < 0)
			return true;
	}
	off_t base = (off_t)hash_address(addr) * (off_t)cfg->connection_count_limit;
	for (long long i = 0; i < cfg->connection_count_limit; i++) {
		struct flock fl = {
		    .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = base + i, .l_len = 1};
		if (fcntl(lock_fd, F_SETLK, &fl) == 0) {
			held = base + i; /* until client_limit_release() or exit */
			return true;
		}
	}
	return false;
}

void client_limit_release(void)
{
	if (held < 0)
		return;
	struct flock fl = {.l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = held, .l_len = 1};
	fcntl(lock_fd, F_SETLK, &fl);
	held = -1;
}

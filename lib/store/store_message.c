/*
 * Acting on one message of a mailbox by UID (store.h): setting its flags
 * (its file's name and its index entry) and reading it, whole, through a
 * descriptor, or for its size with CRLF line ends.
 */
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"
#include "store/store_internal.h"
#include "util/alloc.h"

struct flags_ctx {
	uint32_t uid;
	const char *flags; /* normalised */
	int result;        /* 1 or 0 */
	uint64_t modseq;
};

static int set_flags_txn(struct store *s, MDB_txn *txn, void *ctx, const char **error_r)
{
	struct flags_ctx *c = ctx;
	struct store_message m;
	int rc = store_index_get_message(txn, s->dbi, c->uid, &m);
	c->result = 0;
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	int found = maildir_set_flags(s->path, m.base, c->flags, error_r);
	if (found == 1 && strcmp(m.flags, c->flags) != 0) {
		uint64_t modseq = 0;
		rc = store_index_get_u64(txn, s->dbi, "M", 8, &modseq);
		if (rc == 0)
			rc = store_index_put_u64(txn, s->dbi, "M", 8, ++modseq);
		memcpy(m.flags, c->flags, strlen(c->flags) + 1);
		m.modseq = modseq;
		if (rc == 0)
			rc = store_index_put_message(txn, s->dbi, &m);
	}
	free(m.base);
	if (found < 0)
		return STORE_FAILED;
	c->result = found;
	c->modseq = m.modseq;
	return rc;
}

int store_set_flags(struct store *s, uint32_t uid, const char *flags, const char **error_r)
{
	char norm[MAILDIR_MAX_FLAGS + 1];
	if (strlen(flags) > MAILDIR_MAX_FLAGS || maildir_flags_normalize(flags, norm) != 0) {
		*error_r = store_set_error("invalid flags \"%.60s\"", flags);
		return -1;
	}
	struct store_message *mine = store_find_uid(s, uid);
	struct flags_ctx c = {.uid = uid, .flags = norm};
	if (store_write(s, set_flags_txn, &c, error_r) != 0)
		return -1;
	if (c.result == 1 && mine != NULL) {
		memcpy(mine->flags, norm, sizeof(norm));
		mine->modseq = c.modseq;
		if (c.modseq > s->modseq)
			s->modseq = c.modseq;
	}
	return c.result;
}

int store_read_message(struct store *s, uint32_t uid, struct str *out, const char **error_r)
{
	const struct store_message *m = store_find_uid(s, uid);
	if (m == NULL)
		return 0;
	return maildir_read_message(s->path, m->base, out, error_r);
}

int store_open_message(struct store *s, uint32_t uid, int *fd_r, const char **error_r)
{
	const struct store_message *m = store_find_uid(s, uid);
	if (m == NULL)
		return 0;
	/* The names the index expects first: no directory is read when the
	 * file is where the last sync saw it (POP3 opens every message). */
	char *guess[2] = {
	    xasprintf("%s/cur/%s:2,%s", s->path, m->base, m->flags),
	    xasprintf("%s/new/%s", s->path, m->base),
	};
	if (m->flags[0] == '\0') {
		char *t = guess[0];
		guess[0] = guess[1];
		guess[1] = t;
	}
	int fd = -1;
	for (int i = 0; i < 2 && fd < 0; i++)
		fd = open(guess[i], O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	free(guess[0]);
	free(guess[1]);
	if (fd >= 0) {
		*fd_r = fd;
		return 1;
	}
	return maildir_open_message(s->path, m->base, fd_r, error_r);
}

int store_crlf_size(struct store *s, uint32_t uid, int64_t *size_r, const char **error_r)
{
	const struct store_message *m = store_find_uid(s, uid);
	if (m == NULL)
		return 0;
	int64_t size = maildir_crlf_size_from_name(m->base);
	if (size >= 0) {
		*size_r = size;
		return 1;
	}
	int fd = -1;
	int rc = store_open_message(s, uid, &fd, error_r);
	if (rc <= 0)
		return rc;
	char buf[65536];
	bool last_cr = false;
	size = 0;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*error_r = store_set_error("read %s: %s", m->base, strerror(errno));
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n' && !last_cr)
				size++;
			last_cr = buf[i] == '\r';
		}
		size += n;
	}
	close(fd);
	*size_r = size;
	return 1;
}

/*
 * The TLS client session cache: an LMDB file (MDB_NOSUBDIR, with its
 * "-lock" file beside it) written by every process that uses it, so it is
 * opened with locking, unlike the read-only lookup tables in
 * table/table_lmdb.c.
 *
 * An entry is: version byte (1), the time it was made (8 bytes, big
 * endian, seconds since the epoch), then the DER session. Look-ups take a
 * read transaction; removing an expired or undecodable entry and saving a
 * session each take one write transaction of one record, so writers
 * (other processes) wait on each other only briefly. The map has a fixed
 * size: when the entries fill half of it, expired entries go, or all of
 * them if that is not enough (the cache is only an optimisation). A map grown by another
 * process (MDB_MAP_RESIZED) is adopted; stale reader slots of processes
 * that died are cleared at open.
 */
#include "tls/tls_session_cache.h"

#include <errno.h>
#include <lmdb.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "table/table.h"
#include "util/alloc.h"

#define CACHE_DEFAULT_MAP ((size_t)16 * 1024 * 1024)
#define ENTRY_VERSION 1
#define ENTRY_HEADER 9 /* version, 8-byte time */

struct tls_session_cache {
	MDB_env *env;
	MDB_dbi dbi;
	char *path;
	int64_t timeout_s;
};

static char cache_error[512];

static const char *set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static const char *set_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cache_error, sizeof(cache_error), fmt, ap);
	va_end(ap);
	return cache_error;
}

char *tls_session_cache_path(const char *spec)
{
	char *path = table_lmdb_path(spec);
	if (path == NULL && spec[0] == '/')
		path = xstrdup(spec);
	return path;
}

struct tls_session_cache *tls_session_cache_open(const char *path, int64_t timeout_s,
                                                 size_t map_size, const char **error_r)
{
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi dbi = 0;
	int fd = -1;
	struct stat st;
	int rc = mdb_env_create(&env);
	if (rc == 0)
		rc = mdb_env_set_mapsize(env, map_size ? map_size : CACHE_DEFAULT_MAP);
	/* No meta-page sync: a crash may lose the last sessions saved, never
	 * the file's integrity. */
	if (rc == 0)
		rc = mdb_env_open(env, path, MDB_NOSUBDIR | MDB_NOMETASYNC, 0600);
	if (rc == 0 && (rc = mdb_env_get_fd(env, &fd)) == 0 && fstat(fd, &st) != 0)
		rc = errno;
	if (rc == 0 && !S_ISREG(st.st_mode))
		rc = EINVAL;
	if (rc == 0) {
		int dead = 0;
		(void)mdb_reader_check(env, &dead);
		rc = mdb_txn_begin(env, NULL, 0, &txn);
	}
	if (rc == 0)
		rc = mdb_dbi_open(txn, NULL, 0, &dbi);
	if (rc == 0) {
		rc = mdb_txn_commit(txn);
		txn = NULL;
	}
	if (rc != 0) {
		if (txn != NULL)
			mdb_txn_abort(txn);
		if (env != NULL)
			mdb_env_close(env);
		*error_r = set_error("TLS session cache %s: %s", path, mdb_strerror(rc));
		return NULL;
	}
	struct tls_session_cache *c = xcalloc(1, sizeof(*c));
	c->env = env;
	c->dbi = dbi;
	c->path = xstrdup(path);
	c->timeout_s = timeout_s;
	return c;
}

void tls_session_cache_close(struct tls_session_cache *c)
{
	if (c == NULL)
		return;
	mdb_env_close(c->env);
	free(c->path);
	free(c);
}

/* ---- Keys ---- */

static void digest_bytes(EVP_MD_CTX *md, const void *data, size_t len)
{
	unsigned char size[8];
	for (int i = 0; i < 8; i++)
		size[i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
	/* Each field with its length: no two lists digest alike. */
	EVP_DigestUpdate(md, size, sizeof(size));
	EVP_DigestUpdate(md, data, len);
}

static void digest_text(EVP_MD_CTX *md, const char *text)
{
	digest_bytes(md, text ? text : "", text ? strlen(text) : 0);
}

static void digest_number(EVP_MD_CTX *md, long long n)
{
	char text[32];
	snprintf(text, sizeof(text), "%lld", n);
	digest_text(md, text);
}

void tls_session_cache_key(const char *server_id, const char *sni,
                           const struct tls_peer_check *check, const char *context_id,
                           struct str *key)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		abort(); /* out of memory, as xmalloc */
	bool long_id = strlen(server_id) > TLS_SESSION_CACHE_ID_MAX;
	if (long_id)
		digest_text(md, server_id);
	digest_text(md, sni);
	digest_text(md, context_id);
	const struct tls_peer_check none = {0};
	if (check == NULL)
		check = &none;
	digest_number(md, (long long)check->verify_count);
	for (size_t i = 0; i < check->verify_count; i++)
		digest_text(md, check->verify_names[i]);
	digest_number(md, (long long)check->tlsa_count);
	for (size_t i = 0; i < check->tlsa_count; i++) {
		const struct tls_tlsa *t = &check->tlsa[i];
		unsigned char head[3] = {t->usage, t->selector, t->matching};
		digest_bytes(md, head, sizeof(head));
		digest_bytes(md, t->data, t->len);
	}
	digest_text(md, check->dane_name);
	digest_number(md, (long long)check->fingerprint_count);
	for (size_t i = 0; i < check->fingerprint_count; i++)
		digest_bytes(md, check->fingerprints[i].data, check->fingerprints[i].len);
	digest_text(md, check->fingerprint_digest);
	digest_number(md, check->min_version);
	digest_number(md, check->max_version);
	digest_text(md, check->ciphers);
	unsigned char sum[EVP_MAX_MD_SIZE];
	unsigned int sum_len = 0;
	EVP_DigestFinal_ex(md, sum, &sum_len);
	EVP_MD_CTX_free(md);
	str_clear(key);
	str_append_cstr(key, long_id ? "digest" : server_id);
	str_append_char(key, '&');
	for (unsigned int i = 0; i < sum_len; i++)
		str_printf(key, "%02x", sum[i]);
}

/* ---- Entries ---- */

/* A read (flags MDB_RDONLY) or write transaction, adopting a map that
 * another process made larger. */
static int begin(struct tls_session_cache *c, unsigned int flags, MDB_txn **txn)
{
	int rc = mdb_txn_begin(c->env, NULL, flags, txn);
	if (rc == MDB_MAP_RESIZED) {
		rc = mdb_env_set_mapsize(c->env, 0);
		if (rc == 0)
			rc = mdb_txn_begin(c->env, NULL, flags, txn);
	}
	return rc;
}

static int delete_key(struct tls_session_cache *c, const char *key)
{
	MDB_txn *txn;
	int rc = begin(c, 0, &txn);
	if (rc != 0)
		return rc;
	MDB_val k = {.mv_size = strlen(key), .mv_data = (void *)key};
	rc = mdb_del(txn, c->dbi, &k, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return rc;
	}
	return mdb_txn_commit(txn);
}

static int64_t entry_time(const unsigned char *p)
{
	uint64_t t = 0;
	for (int i = 0; i < 8; i++)
		t = t << 8 | p[1 + i];
	return (int64_t)t;
}

enum entry_state { ENTRY_USABLE, ENTRY_EXPIRED, ENTRY_BAD };

/* Whether an entry's session can be resumed at now; *why for a bad one. */
static enum entry_state check_entry(const struct tls_session_cache *c, const unsigned char *data,
                                    size_t len, int64_t now, const char **why)
{
	if (len <= ENTRY_HEADER || data[0] != ENTRY_VERSION) {
		*why = "not an entry this version writes";
		return ENTRY_BAD;
	}
	int64_t made = entry_time(data);
	/* A time ahead of the clock (it was set back) counts as expired. */
	if (made > now + 60 || now - made >= c->timeout_s)
		return ENTRY_EXPIRED;
	const unsigned char *der = data + ENTRY_HEADER;
	SSL_SESSION *session = d2i_SSL_SESSION(NULL, &der, (long)(len - ENTRY_HEADER));
	enum entry_state state = ENTRY_USABLE;
	if (session == NULL || der != data + len) {
		*why = "the session cannot be decoded";
		state = ENTRY_BAD;
	} else if (!SSL_SESSION_is_resumable(session)) {
		*why = "the session cannot be resumed";
		state = ENTRY_BAD;
	} else if ((int64_t)SSL_SESSION_get_time(session) +
	               (int64_t)SSL_SESSION_get_timeout(session) <=
	           now) {
		state = ENTRY_EXPIRED; /* the server's own lifetime for it */
	}
	SSL_SESSION_free(session);
	ERR_clear_error();
	return state;
}

int tls_session_cache_lookup(struct tls_session_cache *c, const char *key, int64_t now,
                             unsigned char **der_r, size_t *len_r, const char **error_r)
{
	*error_r = NULL;
	size_t key_len = strlen(key);
	if (key_len == 0 || key_len > TABLE_MAX_KEY)
		return 0;
	MDB_txn *txn;
	int rc = begin(c, MDB_RDONLY, &txn);
	if (rc != 0) {
		*error_r = set_error("TLS session cache %s: %s", c->path, mdb_strerror(rc));
		return -1;
	}
	MDB_val k = {.mv_size = key_len, .mv_data = (void *)key}, v;
	rc = mdb_get(txn, c->dbi, &k, &v);
	if (rc == MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return 0;
	}
	if (rc != 0) {
		mdb_txn_abort(txn);
		*error_r =
		    set_error("TLS session cache %s: look-up: %s", c->path, mdb_strerror(rc));
		return -1;
	}
	const char *why = NULL;
	enum entry_state state = check_entry(c, v.mv_data, v.mv_size, now, &why);
	if (state == ENTRY_USABLE) {
		*len_r = v.mv_size - ENTRY_HEADER;
		*der_r = xmemdup((const unsigned char *)v.mv_data + ENTRY_HEADER, *len_r);
	}
	mdb_txn_abort(txn);
	if (state == ENTRY_USABLE)
		return 1;
	rc = delete_key(c, key);
	if (state == ENTRY_BAD)
		*error_r =
		    set_error("TLS session cache %s: entry %s removed: %s", c->path, key, why);
	else if (rc != 0)
		*error_r = set_error("TLS session cache %s: removing an expired entry: %s", c->path,
		                     mdb_strerror(rc));
	return 0;
}

/* Whether the entries fill more than half the map. LMDB reuses a page
 * freed by one transaction only from the next but one, so room is made
 * before the map is full, not when it is. */
static bool crowded(struct tls_session_cache *c, MDB_txn *txn)
{
	MDB_stat st;
	MDB_envinfo info;
	if (mdb_stat(txn, c->dbi, &st) != 0 || mdb_env_info(c->env, &info) != 0 || st.ms_psize == 0)
		return false;
	size_t used = st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
	return used > info.me_mapsize / st.ms_psize / 2;
}

/* Room when the map is crowded or full: remove the expired entries, or
 * all of them if that leaves it crowded. */
static int make_room(struct tls_session_cache *c, int64_t now)
{
	MDB_txn *txn;
	MDB_cursor *cursor;
	int rc = begin(c, 0, &txn);
	if (rc != 0)
		return rc;
	rc = mdb_cursor_open(txn, c->dbi, &cursor);
	MDB_val k, v;
	for (int op = MDB_FIRST; rc == 0; op = MDB_NEXT) {
		rc = mdb_cursor_get(cursor, &k, &v, (MDB_cursor_op)op);
		if (rc != 0)
			break;
		const char *why;
		if (check_entry(c, v.mv_data, v.mv_size, now, &why) != ENTRY_USABLE) {
			rc = mdb_cursor_del(cursor, 0);
		}
	}
	if (rc == MDB_NOTFOUND)
		rc = 0;
	if (rc == 0 && crowded(c, txn))
		rc = mdb_drop(txn, c->dbi, 0);
	if (rc != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	return mdb_txn_commit(txn);
}

/* One entry in one transaction; with check_room, MDB_MAP_FULL without
 * writing when the map is crowded. */
static int put(struct tls_session_cache *c, const MDB_val *k, const unsigned char *entry,
               size_t len, bool check_room)
{
	MDB_txn *txn;
	int rc = begin(c, 0, &txn);
	if (rc != 0)
		return rc;
	if (check_room && crowded(c, txn)) {
		mdb_txn_abort(txn);
		return MDB_MAP_FULL;
	}
	MDB_val v = {.mv_size = len, .mv_data = (void *)entry};
	rc = mdb_put(txn, c->dbi, (MDB_val *)k, &v, 0);
	if (rc != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	return mdb_txn_commit(txn);
}

int tls_session_cache_store(struct tls_session_cache *c, const char *key, int64_t now,
                            const unsigned char *der, size_t len, const char **error_r)
{
	size_t key_len = strlen(key);
	if (key_len == 0 || key_len > TABLE_MAX_KEY) {
		*error_r = set_error("TLS session cache %s: key too long", c->path);
		return -1;
	}
	unsigned char *entry = xmalloc(ENTRY_HEADER + len);
	entry[0] = ENTRY_VERSION;
	for (int i = 0; i < 8; i++)
		entry[1 + i] = (unsigned char)((uint64_t)now >> (56 - 8 * i));
	memcpy(entry + ENTRY_HEADER, der, len);
	MDB_val k = {.mv_size = key_len, .mv_data = (void *)key};
	int rc = put(c, &k, entry, ENTRY_HEADER + len, true);
	if (rc == MDB_MAP_FULL && (rc = make_room(c, now)) == 0)
		rc = put(c, &k, entry, ENTRY_HEADER + len, false);
	free(entry);
	if (rc != 0) {
		*error_r = set_error("TLS session cache %s: saving a session: %s", c->path,
		                     mdb_strerror(rc));
		return -1;
	}
	return 0;
}

int tls_session_cache_remove(struct tls_session_cache *c, const char *key, const char **error_r)
{
	size_t key_len = strlen(key);
	if (key_len == 0 || key_len > TABLE_MAX_KEY)
		return 0;
	int rc = delete_key(c, key);
	if (rc != 0) {
		*error_r = set_error("TLS session cache %s: removing an entry: %s", c->path,
		                     mdb_strerror(rc));
		return -1;
	}
	return 0;
}

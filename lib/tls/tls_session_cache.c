/*
 * The TLS client session cache: a file written by every process that
 * uses it (table/cache_db.h). An entry is: version byte (1), the time it
 * was made (8 bytes, big endian, seconds since the epoch), then the DER
 * session. An expired or undecodable entry is removed when it is found;
 * when the entries fill half the file, expired ones go, or all of them if
 * that is not enough (the cache is only an optimisation).
 */
#include "tls/tls_session_cache.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "table/cache_db.h"
#include "table/table.h"
#include "util/alloc.h"

#define ENTRY_VERSION 1
#define ENTRY_HEADER 9 /* version, 8-byte time */

struct tls_session_cache {
	struct cache_db *db;
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
	return cache_db_path(spec);
}

struct tls_session_cache *tls_session_cache_open(const char *path, int64_t timeout_s,
                                                 size_t map_size, const char **error_r)
{
	const char *error;
	struct cache_db *db = cache_db_open(path, map_size, &error);
	if (db == NULL) {
		*error_r = set_error("TLS session cache %s: %s", path, error);
		return NULL;
	}
	struct tls_session_cache *c = xcalloc(1, sizeof(*c));
	c->db = db;
	c->path = xstrdup(path);
	c->timeout_s = timeout_s;
	return c;
}

void tls_session_cache_close(struct tls_session_cache *c)
{
	if (c == NULL)
		return;
	cache_db_close(c->db);
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
	struct str value = STR_INIT;
	const char *error;
	int rc = cache_db_get(c->db, key, &value, &error);
	if (rc <= 0) {
		str_free(&value);
		if (rc < 0)
			*error_r = set_error("TLS session cache %s: look-up: %s", c->path, error);
		return rc;
	}
	const unsigned char *data = (const unsigned char *)value.data;
	const char *why = NULL;
	enum entry_state state = check_entry(c, data, value.len, now, &why);
	if (state == ENTRY_USABLE) {
		*len_r = value.len - ENTRY_HEADER;
		*der_r = xmemdup(data + ENTRY_HEADER, *len_r);
	}
	str_free(&value);
	if (state == ENTRY_USABLE)
		return 1;
	rc = cache_db_delete(c->db, key, &error);
	if (state == ENTRY_BAD)
		*error_r =
		    set_error("TLS session cache %s: entry %s removed: %s", c->path, key, why);
	else if (rc != 0)
		*error_r = set_error("TLS session cache %s: removing an expired entry: %s", c->path,
		                     error);
	return 0;
}

struct room {
	const struct tls_session_cache *c;
	int64_t now;
};

/* A crowded cache keeps the entries that can still be used. */
static bool keep_usable(const char *key, size_t key_len, const void *value, size_t len, void *ctx)
{
	(void)key;
	(void)key_len;
	const struct room *room = ctx;
	const char *why;
	return check_entry(room->c, value, len, room->now, &why) == ENTRY_USABLE;
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
	struct room room = {.c = c, .now = now};
	const char *error;
	int rc = cache_db_put(c->db, key, entry, ENTRY_HEADER + len, keep_usable, &room, &error);
	free(entry);
	if (rc != 0) {
		*error_r = set_error("TLS session cache %s: saving a session: %s", c->path, error);
		return -1;
	}
	return 0;
}

int tls_session_cache_remove(struct tls_session_cache *c, const char *key, const char **error_r)
{
	size_t key_len = strlen(key);
	if (key_len == 0 || key_len > TABLE_MAX_KEY)
		return 0;
	const char *error;
	if (cache_db_delete(c->db, key, &error) != 0) {
		*error_r = set_error("TLS session cache %s: removing an entry: %s", c->path, error);
		return -1;
	}
	return 0;
}

/*
 * The address verification cache (verify_cache.h): entries as text in a
 * shared LMDB file, and the ages that decide when an entry is believed
 * and when a new probe is due.
 */
#include "mail/verify_cache.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "table/cache_db.h"
#include "util/alloc.h"

#define REASON_MAX 1000

struct verify_cache {
	struct cache_db *db;
	char *spec;
	struct verify_times times;
};

static _Thread_local char cache_error[600];

static const char *fail(const struct verify_cache *c, const char *spec, const char *what,
                        const char *error)
{
	snprintf(cache_error, sizeof(cache_error), "address verification cache %s: %s%s%s",
	         c ? c->spec : spec, what, *what ? ": " : "", error);
	return cache_error;
}

static const char status_letters[] = {[VERIFY_PENDING] = 'P',
                                      [VERIFY_DELIVERABLE] = 'D',
                                      [VERIFY_UNDELIVERABLE] = 'U',
                                      [VERIFY_DEFERRED] = 'T'};

const char *verify_status_name(enum verify_status status)
{
	switch (status) {
	case VERIFY_PENDING:
		return "pending";
	case VERIFY_DELIVERABLE:
		return "deliverable";
	case VERIFY_UNDELIVERABLE:
		return "undeliverable";
	case VERIFY_DEFERRED:
		return "deferred";
	}
	return "?";
}

void verify_entry_free(struct verify_entry *e)
{
	free(e->reason);
	e->reason = NULL;
}

void verify_entry_encode(const struct verify_entry *e, struct str *out)
{
	str_clear(out);
	str_printf(out, "1 %c %" PRId64 " %" PRId64 " ", status_letters[e->status], e->updated,
	           e->probed);
	/* One line of printable text, bounded. */
	size_t n = 0;
	for (const char *p = e->reason ? e->reason : ""; *p && n < REASON_MAX; p++, n++)
		str_append_char(out, (unsigned char)*p < 0x20 || *p == 0x7f ? ' ' : *p);
}

static bool parse_time(const char **p, const char *end, int64_t *t)
{
	int64_t v = 0;
	const char *q = *p;
	if (q >= end || !isdigit((unsigned char)*q))
		return false;
	for (; q < end && isdigit((unsigned char)*q); q++) {
		if (v > (INT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (*q - '0');
	}
	if (q >= end || *q != ' ')
		return false;
	*t = v;
	*p = q + 1;
	return true;
}

bool verify_entry_parse(const char *data, size_t len, struct verify_entry *e)
{
	const char *p = data, *end = data + len;
	if (len < 4 || memcmp(p, "1 ", 2) != 0 || p[3] != ' ')
		return false;
	const char *letter = memchr(status_letters, p[2], sizeof(status_letters));
	if (letter == NULL)
		return false;
	p += 4;
	int64_t updated, probed;
	if (!parse_time(&p, end, &updated) || !parse_time(&p, end, &probed))
		return false;
	if ((size_t)(end - p) > REASON_MAX)
		return false;
	for (const char *q = p; q < end; q++)
		if ((unsigned char)*q < 0x20 || *q == 0x7f)
			return false; /* never written: one line of text */
	e->status = (enum verify_status)(letter - status_letters);
	e->updated = updated;
	e->probed = probed;
	e->reason = xmalloc((size_t)(end - p) + 1);
	memcpy(e->reason, p, (size_t)(end - p));
	e->reason[end - p] = '\0';
	return true;
}

static void address_key(const char *address, struct str *key)
{
	str_clear(key);
	for (const char *p = address; *p; p++)
		str_append_char(key, (char)tolower((unsigned char)*p));
}

bool verify_entry_expired(const struct verify_times *t, const struct verify_entry *e, int64_t now)
{
	if (e == NULL)
		return true;
	switch (e->status) {
	case VERIFY_PENDING:
		return now - e->probed >= VERIFY_PROBE_TTL || e->probed > now + 60;
	case VERIFY_DELIVERABLE:
		return now - e->updated >= t->positive_expire || e->updated > now + 60;
	case VERIFY_UNDELIVERABLE:
	case VERIFY_DEFERRED:
		return now - e->updated >= t->negative_expire || e->updated > now + 60;
	}
	return true;
}

bool verify_probe_due(const struct verify_times *t, const struct verify_entry *e, int64_t now)
{
	if (e == NULL)
		return true;
	/* A clock set back: the times in the entry mean nothing. */
	bool probed_lately = now - e->probed < VERIFY_PROBE_TTL && e->probed <= now + 60;
	if (probed_lately)
		return false;
	if (verify_entry_expired(t, e, now))
		return true;
	switch (e->status) {
	case VERIFY_PENDING:
		return true;
	case VERIFY_DELIVERABLE:
		return now - e->updated >= t->positive_refresh;
	case VERIFY_UNDELIVERABLE:
	case VERIFY_DEFERRED:
		return now - e->updated >= t->negative_refresh;
	}
	return true;
}

struct verify_cache *verify_cache_open(const char *spec, const struct verify_times *times,
                                       const char **error_r)
{
	char *path = cache_db_path(spec);
	if (path == NULL) {
		*error_r = fail(NULL, spec, "", "not lmdb:/path, hash:/path, btree:/path or /path");
		return NULL;
	}
	const char *error;
	struct cache_db *db = cache_db_open(path, 0, &error);
	free(path);
	if (db == NULL) {
		*error_r = fail(NULL, spec, "", error);
		return NULL;
	}
	struct verify_cache *c = xcalloc(1, sizeof(*c));
	c->db = db;
	c->spec = xstrdup(spec);
	c->times = *times;
	return c;
}

void verify_cache_close(struct verify_cache *c)
{
	if (c == NULL)
		return;
	cache_db_close(c->db);
	free(c->spec);
	free(c);
}

int verify_cache_get(struct verify_cache *c, const char *address, struct verify_entry *e,
                     const char **error_r)
{
	struct str key = STR_INIT, value = STR_INIT;
	address_key(address, &key);
	const char *error;
	int rc = cache_db_get(c->db, str_cstr(&key), &value, &error);
	if (rc < 0)
		*error_r = fail(c, NULL, "look-up", error);
	if (rc == 1 && !verify_entry_parse(value.data, value.len, e)) {
		/* Not ours to read: as good as absent, and gone. */
		(void)cache_db_delete(c->db, str_cstr(&key), &error);
		rc = 0;
	}
	str_free(&key);
	str_free(&value);
	return rc;
}

struct keep_ctx {
	const struct verify_times *times;
	int64_t now;
};

static bool keep_unexpired(const char *key, size_t key_len, const void *value, size_t len,
                           void *ctx)
{
	(void)key;
	(void)key_len;
	const struct keep_ctx *k = ctx;
	struct verify_entry e;
	if (!verify_entry_parse(value, len, &e))
		return false;
	bool keep = !verify_entry_expired(k->times, &e, k->now);
	verify_entry_free(&e);
	return keep;
}

int verify_cache_put(struct verify_cache *c, const char *address, const struct verify_entry *e,
                     const char **error_r)
{
	struct str key = STR_INIT, value = STR_INIT;
	address_key(address, &key);
	verify_entry_encode(e, &value);
	struct keep_ctx k = {.times = &c->times,
	                     .now = e->updated > e->probed ? e->updated : e->probed};
	const char *error;
	int rc =
	    cache_db_put(c->db, str_cstr(&key), value.data, value.len, keep_unexpired, &k, &error);
	if (rc != 0)
		*error_r = fail(c, NULL, address, error);
	str_free(&key);
	str_free(&value);
	return rc;
}

int verify_cache_delete(struct verify_cache *c, const char *address, const char **error_r)
{
	struct str key = STR_INIT;
	address_key(address, &key);
	const char *error;
	int rc = cache_db_delete(c->db, str_cstr(&key), &error);
	if (rc != 0)
		*error_r = fail(c, NULL, address, error);
	str_free(&key);
	return rc;
}

int verify_cache_record(struct verify_cache *c, const char *address, enum verify_status status,
                        const char *reason, int64_t now, const char **error_r)
{
	struct verify_entry old, e = {.status = status, .updated = now, .probed = now};
	int rc = verify_cache_get(c, address, &old, error_r);
	if (rc < 0)
		return -1;
	if (rc == 1) {
		if (old.probed <= now)
			e.probed = old.probed;
		verify_entry_free(&old);
	}
	e.reason = (char *)(reason ? reason : "");
	return verify_cache_put(c, address, &e, error_r);
}

struct walk_ctx {
	bool (*fn)(const char *address, const struct verify_entry *e, void *ctx);
	void *ctx;
};

static bool walk_one(const char *key, size_t key_len, const void *value, size_t len, void *ctx)
{
	(void)key_len;
	const struct walk_ctx *w = ctx;
	struct verify_entry e;
	if (!verify_entry_parse(value, len, &e))
		return true;
	bool go_on = w->fn(key, &e, w->ctx);
	verify_entry_free(&e);
	return go_on;
}

int verify_cache_walk(struct verify_cache *c,
                      bool (*fn)(const char *address, const struct verify_entry *e, void *ctx),
                      void *ctx, const char **error_r)
{
	struct walk_ctx w = {.fn = fn, .ctx = ctx};
	const char *error;
	if (cache_db_walk(c->db, walk_one, &w, &error) != 0) {
		*error_r = fail(c, NULL, "reading", error);
		return -1;
	}
	return 0;
}

int verify_cache_prune(struct verify_cache *c, int64_t now, size_t *removed_r, const char **error_r)
{
	struct keep_ctx k = {.times = &c->times, .now = now};
	const char *error;
	if (cache_db_prune(c->db, keep_unexpired, &k, removed_r, &error) != 0) {
		*error_r = fail(c, NULL, "removing expired entries", error);
		return -1;
	}
	return 0;
}

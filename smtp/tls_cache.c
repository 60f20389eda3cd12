/*
 * The smtp client's TLS session cache (smtp_tls_session_cache_database,
 * smtp_tls_session_cache_timeout): one file shared by all smtp processes
 * (lib/tls/tls_session_cache.c), so that the next connection to a server,
 * from any of them, resumes the session with an abbreviated handshake.
 *
 * A session is shared only by connections that agree on everything the
 * server is checked against: the key is "smtp:LEVEL:host[address]:port"
 * and a digest of the SNI name, the certificate names, fingerprints,
 * protocol range and ciphers in force, and the settings the client
 * context was made from (CA file, client certificate). A session made
 * under may is never offered under verify, and one made under verify
 * only to the same names. Under DANE with usable TLSA records no session
 * is offered or saved: OpenSSL keeps the peer certificate and its
 * verification result in a resumed session but not the DANE match.
 *
 * The file is opened at the first TLS connection of the process, after
 * the privilege drop (so it is created by mail_owner, mode 0600) and
 * after any fork. The cache only saves work: when it cannot be opened or
 * read, that is logged once and the process goes on without it; an entry
 * that cannot be decoded is logged and removed.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smtp/session.h"
#include "tls/tls_session_cache.h"
#include "util/alloc.h"
#include "util/log.h"

static struct tls_session_cache *cache;
static bool cache_off; /* not configured, or failed in this process */

/* The cache, opened at first use; NULL without one. */
static struct tls_session_cache *cache_get(void)
{
	if (cache != NULL || cache_off)
		return cache;
	cache_off = true;
	const char *spec = smtp_cfg.tls_cache_database;
	if (spec == NULL || *spec == '\0' || smtp_cfg.tls_cache_timeout_s <= 0)
		return NULL;
	char *path = tls_session_cache_path(spec);
	if (path == NULL) {
		log_warn("smtp_tls_session_cache_database = %s: not lmdb:/path, hash:/path, "
		         "btree:/path or /path; TLS sessions are not cached",
		         spec);
		return NULL;
	}
	const char *error = "";
	cache = tls_session_cache_open(path, smtp_cfg.tls_cache_timeout_s, 0, &error);
	free(path);
	if (cache == NULL) {
		log_warn("%s; TLS sessions are not cached by this process", error);
		return NULL;
	}
	cache_off = false;
	return cache;
}

/* A failed cache: logged, and not used again by this process. */
static void cache_give_up(const char *error)
{
	log_warn("%s; TLS sessions are no longer cached by this process", error);
	tls_session_cache_close(cache);
	cache = NULL;
	cache_off = true;
}

void smtp_tls_cache_offer(struct smtp_session *s, const struct smtp_target *t,
                          struct tls_peer_check *check, const char *sni)
{
	free(s->tls_cache_key);
	free(s->tls_offered);
	s->tls_cache_key = NULL;
	s->tls_offered = NULL;
	s->tls_offered_len = 0;
	if (check->tlsa_count > 0 || cache_get() == NULL)
		return;
	char *server_id =
	    xasprintf("smtp:%s:%s[%s]:%s", tls_level_name(t->level), t->host, t->address, t->port);
	struct str key = STR_INIT;
	tls_session_cache_key(server_id, sni, check, smtp_cfg.tls_cache_context, &key);
	free(server_id);
	s->tls_cache_key = str_steal(&key);
	const char *error = NULL;
	unsigned char *der = NULL;
	size_t len = 0;
	int rc = tls_session_cache_lookup(cache, s->tls_cache_key, (int64_t)time(NULL), &der, &len,
	                                  &error);
	if (rc < 0) {
		cache_give_up(error);
		free(s->tls_cache_key);
		s->tls_cache_key = NULL;
		return;
	}
	if (error != NULL)
		log_warn("%s", error);
	if (rc == 1) {
		s->tls_offered = der;
		s->tls_offered_len = len;
		check->resume = der;
		check->resume_len = len;
	}
}

void smtp_tls_cache_failed(struct smtp_session *s)
{
	const char *error = "";
	if (s->tls_offered != NULL && cache != NULL &&
	    tls_session_cache_remove(cache, s->tls_cache_key, &error) != 0)
		cache_give_up(error);
	free(s->tls_cache_key);
	free(s->tls_offered);
	s->tls_cache_key = NULL;
	s->tls_offered = NULL;
	s->tls_offered_len = 0;
}

void smtp_tls_cache_save(struct smtp_session *s)
{
	if (s->tls == NULL || s->tls_cache_key == NULL || cache == NULL)
		return;
	size_t len = 0;
	unsigned char *der = tls_session_export(s->tls, &len);
	/* A TLS 1.2 session resumed stays what it was: nothing to write. */
	bool same = der != NULL && s->tls_offered != NULL && len == s->tls_offered_len &&
	            memcmp(der, s->tls_offered, len) == 0;
	const char *error = "";
	if (der != NULL && !same &&
	    tls_session_cache_store(cache, s->tls_cache_key, (int64_t)time(NULL), der, len,
	                            &error) != 0)
		cache_give_up(error);
	free(der);
	/* Saved once per connection. */
	free(s->tls_cache_key);
	s->tls_cache_key = NULL;
}

void smtp_tls_cache_close(void)
{
	tls_session_cache_close(cache);
	cache = NULL;
	cache_off = false;
}

/*
 * A persistent TLS client session cache shared by processes (Postfix's
 * smtp_tls_session_cache_database): one LMDB file mapping a key, which
 * names the server and everything its certificate was checked against,
 * to a saved session (tls_session_export) and the time it was made.
 * Several processes may read and write it at once; every write is one
 * small transaction. The cache only ever saves work: an entry that cannot
 * be used is dropped, and a caller that gets an error goes on without it.
 */
#ifndef POSTERN_TLS_TLS_SESSION_CACHE_H
#define POSTERN_TLS_TLS_SESSION_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "tls/tls.h"
#include "util/str.h"

struct tls_session_cache;

/* The file a cache setting names (cache_db_path). */
char *tls_session_cache_path(const char *spec);

/* Open the cache file path, creating it (mode 0600, owned by the caller)
 * if missing. Entries older than timeout_s seconds are not used.
 * map_size: the most bytes the file may hold (0: 16 MiB). NULL with
 * *error_r (static) when the file cannot be opened or is not a cache. Open
 * it in the process that uses it (an LMDB environment must not cross a
 * fork). */
struct tls_session_cache *tls_session_cache_open(const char *path, int64_t timeout_s,
                                                 size_t map_size, const char **error_r);
void tls_session_cache_close(struct tls_session_cache *c);

/* The longest key server_id may make room for (LMDB's key limit, less
 * the digest). */
#define TLS_SESSION_CACHE_ID_MAX 400

/* The cache key of a connection, into key: server_id (the caller's name
 * for the server: service, host, address, port, security level; longer
 * than TLS_SESSION_CACHE_ID_MAX it is digested too), then a SHA-256
 * digest of the SNI name, of everything in check that the server is
 * checked against or limited to (names, TLSA records, fingerprints,
 * protocol range, ciphers; not check->resume) and of context_id (what
 * the client context was made from: trust anchors, client certificate;
 * may be NULL). Two connections with the same key may share a session. */
void tls_session_cache_key(const char *server_id, const char *sni,
                           const struct tls_peer_check *check, const char *context_id,
                           struct str *key);

/* The session saved under key, if it can be used at time now (seconds
 * since the epoch): 1 with *der_r (malloc'd) and *len_r. 0 when there is
 * none; an entry that has expired (older than the timeout, or than the
 * session's own lifetime) is removed, and so is one that cannot be
 * decoded, which also sets *error_r (else *error_r is NULL). -1 with
 * *error_r when the cache cannot be read. */
int tls_session_cache_lookup(struct tls_session_cache *c, const char *key, int64_t now,
                             unsigned char **der_r, size_t *len_r, const char **error_r);

/* Save der (tls_session_export) under key as made at now, replacing what
 * was there. When the entries fill half the file, expired entries are
 * removed first (all entries if that is not enough). 0, or -1 with
 * *error_r. */
int tls_session_cache_store(struct tls_session_cache *c, const char *key, int64_t now,
                            const unsigned char *der, size_t len, const char **error_r);

/* Remove the entry for key (a session the server no longer takes). 0,
 * or -1 with *error_r. */
int tls_session_cache_remove(struct tls_session_cache *c, const char *key, const char **error_r);

#endif

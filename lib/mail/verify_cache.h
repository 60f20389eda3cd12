/*
 * The address verification cache (Postfix's verify(8) database,
 * address_verify_map): what probes found out about addresses, shared by
 * smtpd (reads it, and marks an address when it sends a probe) and qmgr
 * (records a probe's result). One file (table/cache_db.h), keyed by the
 * address in lower case.
 *
 * An entry: the status (pending: a probe is on its way and nothing is
 * known yet; deliverable; undeliverable; deferred: the last probe could
 * not tell), when that status was learned (updated), when the last probe
 * was sent (probed) and the reason (the remote server's reply or the
 * local agent's verdict). Stored as one line of text:
 *   "1 STATUS UPDATED PROBED REASON"
 * with STATUS one of P D U T, the times in seconds since the epoch.
 *
 * Ages follow Postfix: a deliverable address is believed for
 * address_verify_positive_expire_time and probed again after
 * address_verify_positive_refresh_time; an undeliverable (or deferred)
 * one for address_verify_negative_expire_time, probed again after
 * address_verify_negative_refresh_time; a probe is not sent again for
 * the same address within VERIFY_PROBE_TTL of the last one, whatever
 * the entry says, so a flood of RCPTs sends one probe.
 */
#ifndef POSTERN_MAIL_VERIFY_CACHE_H
#define POSTERN_MAIL_VERIFY_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "util/str.h"

#define VERIFY_PROBE_TTL 1000

enum verify_status {
	VERIFY_PENDING,
	VERIFY_DELIVERABLE,
	VERIFY_UNDELIVERABLE,
	VERIFY_DEFERRED,
};

struct verify_entry {
	enum verify_status status;
	int64_t updated; /* 0 while pending */
	int64_t probed;
	char *reason; /* malloc'd, never NULL once filled */
};

struct verify_times {
	int64_t positive_expire;
	int64_t positive_refresh;
	int64_t negative_expire;
	int64_t negative_refresh;
};

struct verify_cache;

/* Open the cache a setting names (lmdb:/path, hash:/path, btree:/path or
 * /path; see cache_db_path), creating it. NULL with *error_r ("address
 * verification cache SPEC: ..."; static). */
struct verify_cache *verify_cache_open(const char *spec, const struct verify_times *times,
                                       const char **error_r);
void verify_cache_close(struct verify_cache *c);

/* 1 with e filled (free with verify_entry_free), 0 if the address has no
 * entry (or one that cannot be read, which is removed), -1 with *error_r. */
int verify_cache_get(struct verify_cache *c, const char *address, struct verify_entry *e,
                     const char **error_r);
/* Save e for address. 0, or -1 with *error_r. */
int verify_cache_put(struct verify_cache *c, const char *address, const struct verify_entry *e,
                     const char **error_r);
int verify_cache_delete(struct verify_cache *c, const char *address, const char **error_r);
/* A probe's result: status and reason as of now, keeping the time the
 * probe was sent. 0, or -1 with *error_r. */
int verify_cache_record(struct verify_cache *c, const char *address, enum verify_status status,
                        const char *reason, int64_t now, const char **error_r);
/* Every entry, in address order, until fn returns false. */
int verify_cache_walk(struct verify_cache *c,
                      bool (*fn)(const char *address, const struct verify_entry *e, void *ctx),
                      void *ctx, const char **error_r);
/* Remove the expired entries; how many in *removed_r. */
int verify_cache_prune(struct verify_cache *c, int64_t now, size_t *removed_r,
                       const char **error_r);

void verify_entry_free(struct verify_entry *e);
const char *verify_status_name(enum verify_status status);

/* Whether e (NULL: none) tells nothing any more at now: absent, or older
 * than its expire time. */
bool verify_entry_expired(const struct verify_times *t, const struct verify_entry *e, int64_t now);
/* Whether a probe is due for an address whose entry is e (NULL: none):
 * expired, or due for a refresh (pending ones always are), and no probe
 * was sent within VERIFY_PROBE_TTL. */
bool verify_probe_due(const struct verify_times *t, const struct verify_entry *e, int64_t now);

/* Text form of an entry (for tests, the fuzzer and mailctl): encode into
 * out; parse returns false for anything this version does not write. */
void verify_entry_encode(const struct verify_entry *e, struct str *out);
bool verify_entry_parse(const char *data, size_t len, struct verify_entry *e);

#endif

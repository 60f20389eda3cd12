/*
 * Address verification probes (smtpd/verify.c sends them): a message
 * whose envelope says verify "probe" is routed and handed to its agents
 * like any other, with "verify" in the request so that nothing is
 * delivered, and each recipient's result goes into the verify cache
 * (address_verify_map, lib/mail/verify_cache.h) instead of to anyone:
 * delivered is deliverable, bounced undeliverable (so is a probe that
 * expires, after bounce_queue_lifetime), deferred stays deferred and is
 * tried again with the usual back-off, each attempt's result recorded.
 * A probe never gets a notification of any kind.
 *
 * The cache is opened at start (after the privilege drop, by mail_owner);
 * one LMDB environment serves every delivery thread, until qmgr exits. A result that cannot
 * be recorded is logged; smtpd then probes again once VERIFY_PROBE_TTL
 * has passed.
 */
#include <stdlib.h>
#include <time.h>

#include "mail/verify_cache.h"
#include "qmgr/qmgr.h"
#include "util/log.h"

static struct verify_cache *cache;

void verify_init(const struct conf *conf)
{
	struct verify_times t = {
	    .positive_expire = conf_get_time(conf, "address_verify_positive_expire_time"),
	    .positive_refresh = conf_get_time(conf, "address_verify_positive_refresh_time"),
	    .negative_expire = conf_get_time(conf, "address_verify_negative_expire_time"),
	    .negative_refresh = conf_get_time(conf, "address_verify_negative_refresh_time"),
	};
	const char *spec = conf_get(conf, "address_verify_map");
	if (*spec == '\0')
		return;
	const char *error;
	cache = verify_cache_open(spec, &t, &error);
	if (cache == NULL)
		log_warn("%s; probe results are not recorded", error);
}

void verify_record(const struct queue_envelope *env, const struct status_log *log,
                   const size_t *indexes, size_t count)
{
	if (cache == NULL)
		return;
	int64_t now = (int64_t)time(NULL);
	for (size_t i = 0; i < count; i++) {
		const struct rcpt_result *r = &log->rcpts[indexes[i]];
		enum verify_status status = r->state == RCPT_DELIVERED ? VERIFY_DELIVERABLE
		                            : r->state == RCPT_BOUNCED ? VERIFY_UNDELIVERABLE
		                                                       : VERIFY_DEFERRED;
		if (r->state == RCPT_PENDING)
			continue;
		const char *error;
		const char *address = env->rcpts[indexes[i]].address;
		if (verify_cache_record(cache, address, status, r->reason ? r->reason : "", now,
		                        &error) != 0)
			log_warn("%s: <%s>: %s", env->id, address, error);
	}
}

void verify_housekeeping(void)
{
	if (cache == NULL)
		return;
	size_t removed = 0;
	const char *error;
	if (verify_cache_prune(cache, (int64_t)time(NULL), &removed, &error) != 0)
		log_warn("%s", error);
	else if (removed > 0)
		log_info("address verification cache: %zu expired entries removed", removed);
}

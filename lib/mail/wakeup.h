/*
 * Waking a queue daemon (qmgr, pickup) through its public socket: one
 * "wakeup" record on a fresh connection; any connection is a wake-up.
 */
#ifndef POSTERN_MAIL_WAKEUP_H
#define POSTERN_MAIL_WAKEUP_H
#include <stdbool.h>

/* Wake the daemon listening on socket_path. A plain wake-up (flush false)
 * is one connection attempt: when the daemon's backlog is full it has
 * wake-ups pending, each of which makes it look at its queue after what
 * the caller did, so this one is not needed (true). With flush the record
 * carries flush=1, which only this record asks for: the connection is
 * retried for up to timeout_ms. False if the daemon could not be reached
 * (not running: the mail waits for its next scan). */
bool mail_wakeup(const char *socket_path, bool flush, int timeout_ms);

#endif

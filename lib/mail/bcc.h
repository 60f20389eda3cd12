/*
 * Blind carbon copies, as Postfix's always_bcc, sender_bcc_maps and
 * recipient_bcc_maps: addresses added to a message's envelope when it is
 * received (by smtpd and pickup), for archiving or monitoring. Each is
 * added once, with NOTIFY=NEVER (no delivery report ever goes back to the
 * sender about it), and not when it is already a recipient.
 *
 *   always_bcc          one address for every message
 *   sender_bcc_maps     looked up with the sender: user@domain, then @domain
 *   recipient_bcc_maps  likewise with each recipient as received (before
 *                       virtual alias expansion)
 *
 * A table's value is one address. BCC addresses are queued as they are
 * (not rewritten through virtual_alias_maps). The caller supplies the
 * look-up (library code does not log).
 */
#ifndef POSTERN_MAIL_BCC_H
#define POSTERN_MAIL_BCC_H

#include "mail/queue.h"
#include "util/str.h"

struct bcc_config {
	const char *always_bcc;   /* "" or NULL: none */
	char *const *sender_maps; /* NULL-terminated table specs, or NULL */
	char *const *recipient_maps;
	/* 1 found (value set), 0 not found, -1 the table cannot be read. */
	int (*lookup)(void *ctx, const char *spec, const char *key, struct str *value);
	void *ctx;
};

struct conf;
/* always_bcc, sender_bcc_maps and recipient_bcc_maps from conf (lookup and
 * ctx are the caller's to set). */
void bcc_config_from_conf(struct bcc_config *cfg, const struct conf *conf);

/* True if any BCC is configured. */
bool bcc_wanted(const struct bcc_config *cfg);

/* Add to out (the envelope to be queued) the BCC recipients for received
 * (the envelope as the client gave it; not out itself). 0, or -1
 * when a table cannot be read (out may then have some of them: the caller
 * tries again later). */
int bcc_add(const struct bcc_config *cfg, const struct queue_envelope *received,
            struct queue_envelope *out);

#endif

/*
 * Room in the queue before a message is taken, as Postfix's smtpd checks
 * it: MAIL FROM is answered "452 4.3.1 Insufficient system storage" while
 * the queue's file system has less free space than queue_minfree or 1.5
 * times message_size_limit, whichever is more, and when the SIZE a client
 * declares would leave less than that free, or take half of what is.
 * Mail is then refused before it is sent, with a temporary error that
 * makes the client try again later, instead of after it was (451 when a
 * write fails at the end of data), and no client fills the disk that the
 * queue, the logs and the tables share.
 */
#include "mail/queue_space.h"
#include "smtpd/smtpd.h"
#include "util/log.h"

long long queue_space_reserve(const struct smtpd_settings *cfg)
{
	long long reserve = cfg->queue_minfree;
	if (cfg->message_size_limit > 0 && cfg->message_size_limit / 2 * 3 > reserve)
		reserve = cfg->message_size_limit / 2 * 3;
	return reserve;
}

bool queue_space_refused(struct session *s, long long declared_size)
{
	long long reserve = queue_space_reserve(s->cfg);
	if (reserve <= 0 && declared_size <= 0)
		return false;
	long long free_bytes;
	if (!queue_free_bytes(s->cfg->queue_dir, &free_bytes))
		return false; /* the write itself will tell */
	if (free_bytes > reserve && declared_size < free_bytes - reserve &&
	    declared_size < free_bytes / 2)
		return false;
	reply(s, 452, "4.3.1", "Insufficient system storage");
	log_warn("not enough free space in %s: %lld bytes free, %lld wanted%s", s->cfg->queue_dir,
	         free_bytes, reserve, declared_size > 0 ? " besides the declared SIZE" : "");
	session_log_reject(s, "MAIL", NULL, NULL);
	return true;
}

/*
 * The envelope smtpd queues: the client's as the access tables and
 * policy servers left it (REDIRECT, BCC), after canonical mapping and
 * masquerading (lib/mail/canonical.h), then virtual alias expansion
 * (lib/mail/virtual_alias.h) and the blind copies (lib/mail/bcc.h);
 * milters see it as the client gave it. With receive_override_options
 * no_address_mappings, the client's as it is.
 */
#include <stdio.h>
#include <stdlib.h>

#include "mail/redirect.h"
#include "smtpd/message_sink.h"
#include "smtpd/smtpd.h"
#include "util/alloc.h"
#include "util/log.h"

static void refusal_set(struct refusal *r, int code, const char *enhanced, char *text)
{
	r->code = code;
	snprintf(r->enhanced, sizeof(r->enhanced), "%s", enhanced);
	free(r->text);
	r->text = text;
}

/* out becomes env with virtual aliases expanded and the blind copies
 * (bcc.h) added; with receive_override_options no_address_mappings, env
 * as it is. 0, or -1 with the reason in *why (out is then empty). */
static int expand_envelope(struct session *s, const struct queue_envelope *env,
                           struct queue_envelope *out, struct refusal *why)
{
	if (s->cfg->receive_options & RECEIVE_NO_ADDRESS_MAPPINGS) {
		/* Mapped where the mail goes next (after a content filter). */
		queue_envelope_copy(out, env);
		return 0;
	}
	struct virtual_alias_failure *failed;
	size_t count;
	char *reason;
	if (virtual_alias_rewrite_envelope(s->cfg->virtual_alias, env, out, &failed, &count,
	                                   &reason) != 0) {
		log_warn("%s: virtual alias expansion: %s", session_client(s), reason);
		refusal_set(why, 451, "4.3.0", xstrdup("Error: temporary lookup failure"));
		free(reason);
		return -1;
	}
	if (count > 0) {
		log_info("reject: %s: <%s>: %s; from=<%s>", session_client(s), failed[0].address,
		         failed[0].reason, env->sender);
		refusal_set(why, 550, failed[0].status,
		            xasprintf("<%s>: Recipient address rejected: %s", failed[0].address,
		                      failed[0].reason));
		virtual_alias_failures_free(failed, count);
		queue_envelope_free(out);
		return -1;
	}
	if (bcc_wanted(&s->cfg->bcc) && bcc_add(&s->cfg->bcc, env, out) != 0) {
		log_warn("%s: a sender_bcc_maps or recipient_bcc_maps table cannot be read",
		         session_client(s));
		refusal_set(why, 451, "4.3.0", xstrdup("Error: temporary lookup failure"));
		queue_envelope_free(out);
		return -1;
	}
	return 0;
}

/* out becomes the envelope that is queued: s->env with its addresses
 * rewritten by canonical mapping and masquerading (canonical.h), then
 * expanded as above (smtpd checked each recipient at RCPT, but the tables
 * may have changed since, and milters may have added recipients); the
 * blind copies are looked up with the rewritten addresses, as in Postfix.
 * With receive_override_options no_address_mappings, s->env as it is. 0,
 * or -1 with the reason in *why (out is then empty). */
static int mapped_envelope(struct session *s, const struct queue_envelope *env,
                           struct queue_envelope *out, struct refusal *why)
{
	if ((s->cfg->receive_options & RECEIVE_NO_ADDRESS_MAPPINGS) ||
	    !canonical_wanted(s->cfg->canonical,
	                      CANONICAL_ENVELOPE_SENDER | CANONICAL_ENVELOPE_RECIPIENT))
		return expand_envelope(s, env, out, why);
	struct queue_envelope mapped;
	const char *error = "";
	if (canonical_rewrite_envelope(s->cfg->canonical, env, &mapped, &error) != 0) {
		log_warn("%s: address rewriting: %s", session_client(s), error);
		refusal_set(why, 451, "4.3.0", xstrdup("Error: temporary lookup failure"));
		return -1;
	}
	int rc = expand_envelope(s, &mapped, out, why);
	queue_envelope_free(&mapped);
	return rc;
}

/* The envelope as the access tables and policy servers left it at RCPT:
 * REDIRECT's address in place of every recipient (and no content filter:
 * REDIRECT wins over FILTER, as in Postfix), BCC's address added with
 * NOTIFY=NEVER; both are mapped and expanded like the others. */
int queued_envelope(struct session *s, struct queue_envelope *out, struct refusal *why)
{
	if (s->access_redirect == NULL && s->access_bcc == NULL)
		return mapped_envelope(s, &s->env, out, why);
	struct queue_envelope env;
	envelope_redirect_copy(&env, &s->env, s->access_redirect, s->access_bcc);
	int rc = mapped_envelope(s, &env, out, why);
	queue_envelope_free(&env);
	return rc;
}

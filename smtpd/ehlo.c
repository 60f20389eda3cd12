/*
 * smtpd's HELO and EHLO: the client's name (a new one starts the session
 * over), and for EHLO the list of extensions offered, less those that
 * smtpd_discard_ehlo_keywords names.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtpd/smtpd.h"
#include "util/alloc.h"

void cmd_ehlo(struct session *s, const char *arg, bool extended)
{
	if (*arg == '\0') {
		reply(s, 501, "5.5.4", "Syntax: %s hostname", extended ? "EHLO" : "HELO");
		session_error(s);
		return;
	}
	session_reset_transaction(s);
	free(s->helo);
	s->helo = xstrdup(arg);
	s->helo_verdict = 0;
	s->rhsbl_helo.checked = false;
	s->esmtp = extended;
	if (smtpd_milter_helo(s))
		return;
	if (!extended) {
		reply(s, 250, NULL, "%s", s->cfg->hostname);
		return;
	}
	char size[32];
	if (s->cfg->message_size_limit > 0)
		snprintf(size, sizeof(size), "SIZE %lld", s->cfg->message_size_limit);
	else
		snprintf(size, sizeof(size), "SIZE");
	const char *offered[] = {
	    "PIPELINING",
	    size,
	    s->cfg->tls && !s->tls ? "STARTTLS" : NULL,
	    auth_offered(s) ? auth_keyword(s) : NULL,
	    s->cfg->vrfy_disabled ? NULL : "VRFY",
	    s->xforward_allowed ? "XFORWARD " XFORWARD_KEYWORDS : NULL,
	    "ENHANCEDSTATUSCODES",
	    "8BITMIME",
	    "DSN",
	    "SMTPUTF8",
	    "CHUNKING",
	};
	size_t count = sizeof(offered) / sizeof(offered[0]);
	/* smtpd_discard_ehlo_keywords: left out of the reply (Postfix's). */
	for (size_t i = 0; i < count; i++) {
		if (offered[i] == NULL)
			continue;
		size_t word = strcspn(offered[i], " ");
		for (char *const *d = s->cfg->discard_ehlo_keywords; d && *d; d++) {
			if (strlen(*d) == word && strncasecmp(*d, offered[i], word) == 0) {
				offered[i] = NULL;
				break;
			}
		}
	}
	while (count > 0 && offered[count - 1] == NULL)
		count--;
	if (count == 0) {
		reply(s, 250, NULL, "%s", s->cfg->hostname);
		return;
	}
	reply_more(s, 250, NULL, "%s", s->cfg->hostname);
	for (size_t i = 0; i < count; i++) {
		if (offered[i] == NULL)
			continue;
		if (i + 1 < count)
			reply_more(s, 250, NULL, "%s", offered[i]);
		else
			reply(s, 250, NULL, "%s", offered[i]);
	}
}

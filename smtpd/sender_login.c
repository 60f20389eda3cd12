/*
 * Who may use which sender address, as Postfix's smtpd_sender_login_maps
 * with reject_sender_login_mismatch and its variants: the tables name the
 * SASL logins that own an envelope sender. The address is looked up whole,
 * without its extension, then as @domain; the first entry found lists the
 * owners (separated by commas or spaces). A login also owns the address
 * that is its own name (Postern's users log in with their address), so
 * "users send as themselves" needs no table. The null sender is never
 * refused (bounces and receipts sent by clients).
 *
 * smtpd_reject_sender_login_mismatch:
 *   no               off
 *   authenticated    a logged-in client must own the sender
 *   unauthenticated  a client not logged in may not use an owned sender
 *   yes              both
 *   known            a logged-in client may not use a sender owned by
 *                    others (one without owners is allowed)
 *
 * Refusals are Postfix's: 553 5.7.1 "<addr>: Sender address rejected: not
 * owned by user LOGIN" or "...: not logged in"; a table that cannot be
 * read answers 451 4.3.0.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/extension.h"
#include "smtpd/smtpd.h"
#include "util/alloc.h"
#include "util/str.h"

/* The owners of address from the first table entry found: 1 (in *owners),
 * 0 none listed, -1 a table could not be read. */
static int find_owners(const struct smtpd_settings *cfg, const char *address, struct str *owners)
{
	char *keys[3] = {str_lower_dup(address), NULL, NULL};
	keys[1] = extension_strip(keys[0], cfg->recipient_delimiter);
	const char *at = strrchr(keys[0], '@');
	if (at)
		keys[2] = xstrdup(at);
	int rc = 0;
	for (size_t t = 0; cfg->sender_login_maps[t] && rc == 0; t++)
		for (size_t k = 0; k < 3 && rc == 0; k++)
			if (keys[k])
				rc = policy_table_value(cfg->sender_login_maps[t], keys[k], owners);
	for (size_t k = 0; k < 3; k++)
		free(keys[k]);
	return rc;
}

/* Whether login is one of the owners (a list of names separated by commas
 * or white space), or is the address itself (without its extension). */
static bool owns(const struct smtpd_settings *cfg, const char *login, const char *owners,
                 const char *address)
{
	char *base = extension_strip(address, cfg->recipient_delimiter);
	bool own = strcasecmp(login, address) == 0 || (base && strcasecmp(login, base) == 0);
	free(base);
	for (const char *p = owners; !own && *p;) {
		p += strspn(p, ", \t");
		size_t n = strcspn(p, ", \t");
		own = n > 0 && strlen(login) == n && strncasecmp(login, p, n) == 0;
		p += n;
	}
	return own;
}

int sender_login_check_rcpt(struct session *s)
{
	const struct smtpd_settings *cfg = s->cfg;
	const char *sender = s->env.sender;
	if (cfg->sender_login_mode == SENDER_LOGIN_OFF || *sender == '\0')
		return 0;
	const char *login = s->auth_user;
	bool check_auth = cfg->sender_login_mode != SENDER_LOGIN_UNAUTHENTICATED;
	bool check_unauth = cfg->sender_login_mode == SENDER_LOGIN_UNAUTHENTICATED ||
	                    cfg->sender_login_mode == SENDER_LOGIN_BOTH;
	if (login ? !check_auth : !check_unauth)
		return 0;
	struct str owners = STR_INIT;
	int found = 0;
	if (cfg->sender_login_maps)
		found = find_owners(cfg, sender, &owners);
	int rc = 0;
	if (found < 0) {
		reply(s, 451, "4.3.0",
		      "<%.254s>: Sender address rejected: Temporary lookup failure", sender);
		rc = -1;
	} else if (login == NULL) {
		if (found == 1) {
			reply(s, 553, "5.7.1", "<%.254s>: Sender address rejected: not logged in",
			      sender);
			rc = -1;
		}
	} else if (!owns(cfg, login, found == 1 ? str_cstr(&owners) : "", sender) &&
	           (found == 1 || cfg->sender_login_mode != SENDER_LOGIN_KNOWN)) {
		reply(s, 553, "5.7.1",
		      "<%.254s>: Sender address rejected: not owned by user %.200s", sender, login);
		rc = -1;
	}
	str_free(&owners);
	return rc;
}

/*
 * Where the mail of a name goes when nothing expands it further, for the
 * expansion of a local recipient (expand.c): a system user's mailbox, in
 * Postfix's order the transport mailbox_transport_maps or
 * mailbox_transport names (pass.c), the user's mailbox_command
 * (mailbox_command.c), else home_mailbox (a Maildir or an mbox file) or
 * mail_spool_directory/USER; a name that is nobody's goes to
 * fallback_transport_maps or fallback_transport (pass.c), else is
 * forwarded to the luser_relay address (luser.c), else is bounced. A
 * transport gets the queue file's recipient itself when the name is the
 * recipient's own local part; else it delivers to NAME@DOMAIN in its place.
 */
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "local/expand.h"
#include "local/local.h"
#include "mail/mailbox.h"
#include "table/table_cache.h"
#include "util/alloc.h"
#include "util/str.h"

/* ---- other transports ---- */

/* Whether name is the recipient's own local part (with or without its
 * extension): only then is its mailbox the queue file's recipient, which
 * can be handed to another delivery agent as it is. */
static bool own_name(const struct expansion *ex, const char *name)
{
	return strcmp(name, ex->rcpt.local) == 0 || strcmp(name, ex->rcpt.user) == 0;
}

/* The mail of name goes to the transport value (from param): passed to
 * that agent (pass.c) as the recipient itself, or, for a name that an
 * alias or a .forward gave, as name@domain (deliver_to), as Postfix's
 * local hands on the address it reached. */
static void pass_or_forward(struct expansion *ex, const char *param, const char *value,
                            const char *name, const char *sender, const char *what)
{
	(void)sender;
	struct local_result r = {0};
	struct local_pass_rcpt pass = *ex->pass;
	char *address = NULL;
	if (!own_name(ex, name))
		pass.deliver_to = address = xasprintf("%s@%s", name, ex->domain);
	local_pass(ex->conf, ex->msg, param, value, &pass, &r);
	outcome_result(ex, what, &r);
	free(address);
}

/* name is neither an alias nor a system user: fallback_transport_maps
 * (by the name), fallback_transport, else luser_relay (forwarded to), else
 * a bounce, as in Postfix. */
void deliver_unknown(struct expansion *ex, const char *name, const char *sender)
{
	const char *fallback = conf_get(ex->conf, "fallback_transport");
	const char *param = "fallback_transport";
	const char *luser = conf_get_raw(ex->conf, "luser_relay");
	char *key = xasprintf("unknown:%s", name);
	if (!first_time(ex, key)) {
		free(key);
		return;
	}
	/* fallback_transport_maps, by the name, before fallback_transport. */
	char *const *maps = conf_get_list(ex->conf, "fallback_transport_maps");
	struct str mapped = STR_INIT;
	for (size_t i = 0; maps && maps[i]; i++) {
		const char *error;
		int rc = table_cache_lookup(maps[i], name, false, &mapped, &error);
		if (rc < 0) {
			char *text = xasprintf("fallback_transport_maps: %s", error);
			outcome(ex, name, "deferred", "4.3.0", text);
			free(text);
			str_free(&mapped);
			free(key);
			return;
		}
		if (rc == 1 && mapped.len > 0) {
			fallback = str_cstr(&mapped);
			param = "fallback_transport_maps";
			break;
		}
	}
	if (fallback[0] != '\0') {
		char *what = xasprintf("unknown user %s via %s", name, fallback);
		pass_or_forward(ex, param, fallback, name, sender, what);
		free(what);
	} else if (luser[0] != '\0') {
		bool own = own_name(ex, name);
		char *recipient = xasprintf("%s@%s", name, ex->domain);
		char delimiter[2] = {
		    own && ex->rcpt.extension ? ex->rcpt.local[strlen(ex->rcpt.user)] : '\0'};
		struct local_luser attrs = {
		    .user = own ? ex->rcpt.user : name,
		    .local = own ? ex->rcpt.local : name,
		    .extension = own ? ex->rcpt.extension : NULL,
		    .domain = ex->domain,
		    .recipient = own ? ex->address : recipient,
		    .delimiter = delimiter,
		};
		char *address = local_luser_expand(ex->conf, luser, &attrs);
		if (address[0] == '\0' || address[0] == '@' || local_has_control_chars(address) ||
		    strpbrk(address, " \t,<>") != NULL) {
			char *text =
			    xasprintf("luser_relay = %s: not an address: \"%s\"", luser, address);
			outcome(ex, name, "deferred", "4.3.5", text);
			free(text);
		} else if (strchr(address, '@') == NULL) {
			char *qualified = xasprintf("%s@%s", address, ex->domain);
			forward_add(ex, sender, qualified);
			free(qualified);
		} else {
			forward_add(ex, sender, address);
		}
		free(address);
		free(recipient);
	} else {
		outcome(ex, name, "bounced", "5.1.1", "user unknown");
	}
	str_free(&mapped);
	free(key);
}

/* ---- mailboxes ---- */

/* The mailbox_command instead of the mailbox: as the user, or as
 * default_privs for root (never as root). */
static void deliver_mailbox_command(struct expansion *ex, const struct passwd *pw, const char *name,
                                    const struct local_headers *h, struct local_result *r)
{
	struct owner o = {.kind = CTX_FORWARD};
	const char *error = "";
	if (owner_for_user(ex->conf, pw, &o, &error) != 0) {
		char *text = xasprintf("mailbox_command of %s: %s", pw->pw_name, error);
		local_result_set(r, "deferred", "4.3.0", text);
		free(text);
	} else {
		local_deliver_mailbox_command(ex->conf, ex->msg, &ex->rcpt, name, pw, &o.creds, h,
		                              r);
	}
	owner_free(&o);
}

/* The mailbox of pw, which name led to. */
void deliver_mailbox(struct expansion *ex, const struct passwd *pw, const char *name,
                     const char *sender)
{
	char *key = xasprintf("mailbox:%s", pw->pw_name);
	if (!first_time(ex, key)) {
		free(key);
		return;
	}
	/* root's own mailbox is the one thing written as root */
	struct local_creds creds = {pw->pw_uid, pw->pw_gid, pw->pw_name, (gid_t)-1, true};
	struct local_headers h = {sender, ex->address};
	struct local_result r = {0};
	struct mailbox_location loc = {0};
	const char *why = "";
	char *transport = NULL, *error = NULL;
	const char *param = NULL;
	int via =
	    local_mailbox_transport(ex->svc, ex->conf, own_name(ex, name) ? ex->rcpt.user : name,
	                            &transport, &param, &error);
	if (via != 0) {
		/* as Postfix: before mailbox_command and the mailbox */
		char *what = via > 0 ? xasprintf("mailbox of %s via %s", pw->pw_name, transport)
		                     : xasprintf("mailbox of %s", pw->pw_name);
		if (via > 0)
			pass_or_forward(ex, param, transport, name, sender, what);
		else
			outcome(ex, what, "deferred", "4.3.0", error);
		free(what);
		free(transport);
		free(error);
		free(key);
		return;
	}
	if (conf_get_raw(ex->conf, "mailbox_command")[0] != '\0') {
		deliver_mailbox_command(ex, pw, name, &h, &r);
	} else if (mailbox_system(ex->conf, pw, &loc, &why) != 0) {
		local_result_set(&r, "deferred", "4.3.0", why);
	} else if (loc.format == MAILBOX_MAILDIR) {
		struct local_maildir where = {loc.base, loc.subdirs, loc.path, -1, false};
		local_deliver_maildir(ex->msg, &creds, &where, &h, false, &r);
	} else {
		/* In a shared spool (root:mail 1777 or 2775) the user writes with
		 * the spool's group, as mail readers' dotlock helpers do. */
		struct stat st;
		if (loc.spool && stat(loc.spool, &st) == 0 && (st.st_mode & S_IWGRP) &&
		    st.st_gid != pw->pw_gid)
			creds.extra_gid = st.st_gid;
		struct local_mbox mbox = {
		    .path = loc.path,
		    .mailbox = true,
		    .dotlock_required = true,
		    .lock_attempts = (int)conf_get_int(ex->conf, "deliver_lock_attempts"),
		    .lock_delay_ms = conf_get_time(ex->conf, "deliver_lock_delay") * 1000,
		};
		local_deliver_mbox(ex->msg, &creds, &mbox, &h, &r);
	}
	mailbox_location_free(&loc);
	char *what =
	    xasprintf("mailbox%s of %s",
	              conf_get_raw(ex->conf, "mailbox_command")[0] ? "_command" : "", pw->pw_name);
	outcome_result(ex, what, &r);
	free(what);
	free(key);
}

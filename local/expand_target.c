/*
 * The targets of an alias, a ~/.forward or an :include: file, for the
 * expansion of a local recipient (expand.c), and whose privileges they
 * get (an owner: a system user, or default_privs in place of root; in an
 * unprivileged instance, ourselves). An address in a local domain is
 * expanded again (expand_alias.c), one in a virtual mailbox domain goes to
 * that mailbox, any other is forwarded; under an owner- alias, local
 * members are forwarded too. |command and /file targets are delivered as
 * the owner when allow_mail_to_commands and allow_mail_to_files allow it
 * for that kind of expansion; :include: is read in expand_forward.c.
 */
#include <ctype.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "local/expand.h"
#include "local/local.h"
#include "mail/aliases.h"
#include "util/alloc.h"
#include "util/privs.h"
#include "util/str.h"

/* ---- owners ---- */

void owner_free(struct owner *o)
{
	free(o->user);
	free(o->home);
	free(o->sender);
}

/* Fill o's identity from a passwd entry. */
static void owner_from_pw(struct owner *o, const struct passwd *pw)
{
	o->creds = (struct local_creds){pw->pw_uid, pw->pw_gid, NULL, (gid_t)-1, false};
	o->user = xstrdup(pw->pw_name);
	o->home = xstrdup(pw->pw_dir ? pw->pw_dir : "/");
	o->creds.user = o->user;
}

/* The identity for the commands and files of the system user pw: pw, or
 * default_privs for root. 0 or -1 with *error_r. */
int owner_for_user(const struct conf *conf, const struct passwd *pw, struct owner *o,
                   const char **error_r)
{
	if (pw->pw_uid != 0) {
		owner_from_pw(o, pw);
		return 0;
	}
	return owner_for_uid(conf, 0, o, error_r);
}

/* The identity for files and commands of something owned by uid: that
 * user, or default_privs for root. In an unprivileged instance: ourselves.
 * 0 or -1 with *error_r. */
int owner_for_uid(const struct conf *conf, uid_t uid, struct owner *o, const char **error_r)
{
	if (!privs_are_root())
		uid = getuid();
	struct passwd *pw = NULL;
	if (uid != 0 || !privs_are_root())
		pw = getpwuid(uid);
	else
		pw = getpwnam(conf_get(conf, "default_privs"));
	if (pw == NULL && !privs_are_root()) {
		o->creds = (struct local_creds){getuid(), getgid(), NULL, (gid_t)-1, false};
		o->user = xstrdup("");
		o->home = xstrdup("/");
		return 0;
	}
	if (pw == NULL) {
		*error_r = uid == 0 ? "default_privs names no user" : "owner has no passwd entry";
		return -1;
	}
	if (pw->pw_uid == 0 && privs_are_root()) {
		*error_r = "default_privs must not be root";
		return -1;
	}
	owner_from_pw(o, pw);
	return 0;
}

static bool allowed(const struct conf *conf, const char *param, enum context_kind kind)
{
	static const char *const names[] = {"alias", "forward", "include"};
	return str_list_contains_nocase(conf_get_list(conf, param), names[kind]);
}

/* ---- targets ---- */

static void handle_address(struct expansion *ex, const char *value, const struct owner *o)
{
	bool noalias = value[0] == '\\';
	char *addr = xstrdup(noalias ? value + 1 : value);
	for (char *p = addr; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	char *at = strrchr(addr, '@');
	const char *domain = at ? at + 1 : NULL;
	if (at)
		*at = '\0';
	if (addr[0] == '\0' || local_has_control_chars(addr) || (domain && domain[0] == '\0')) {
		char *text = xasprintf("bad address in expansion: %s", value);
		outcome(ex, value, "bounced", "5.1.3", text);
		free(text);
	} else if (domain == NULL ||
	           str_list_contains_nocase(conf_get_list(ex->conf, "mydestination"), domain)) {
		if (!noalias && strcmp(o->sender, ex->msg->sender) != 0 && !chain_has(ex, addr)) {
			/* Under an owner- alias, local members go out as a new message
			 * from the owner too, so that their failures (unknown user,
			 * full mailbox) are reported to the owner by the usual bounce. */
			char *qualified = xasprintf("%s@%s", addr, domain ? domain : ex->domain);
			forward_add(ex, o->sender, qualified);
			free(qualified);
		} else {
			expand_name(ex, addr, o, noalias);
		}
	} else {
		if (at)
			*at = '@';
		if (str_list_contains_nocase(conf_get_list(ex->conf, "virtual_mailbox_domains"),
		                             domain)) {
			char *key = xasprintf("virtual:%s", addr);
			if (first_time(ex, key)) {
				struct local_result r = {0};
				local_deliver_virtual(ex->svc, ex->conf, ex->msg, addr, &r);
				outcome_result(ex, addr, &r);
			}
			free(key);
		} else {
			forward_add(ex, o->sender, addr);
		}
	}
	free(addr);
}

static void handle_command(struct expansion *ex, const char *command, const struct owner *o)
{
	char *what = xasprintf("|%s", command);
	char *key = xasprintf("command:%ld:%s", (long)o->creds.uid, command);
	if (!allowed(ex->conf, "allow_mail_to_commands", o->kind)) {
		outcome(ex, what, "bounced", "5.7.1",
		        "mail to command is restricted (allow_mail_to_commands)");
	} else if (first_time(ex, key)) {
		struct local_command cmd = {
		    .command = command,
		    .home = o->home,
		    .user = o->user,
		    .shell = "/bin/sh",
		    .rcpt = &ex->rcpt,
		    .filter = conf_get(ex->conf, "command_expansion_filter"),
		    .time_limit_ms = conf_get_time(ex->conf, "command_time_limit") * 1000,
		};
		struct local_headers h = {o->sender, ex->address};
		struct local_result r = {0};
		local_deliver_command(ex->msg, &o->creds, &cmd, &h, &r);
		outcome_result(ex, what, &r);
	}
	free(key);
	free(what);
}

static void handle_file(struct expansion *ex, const char *path, const struct owner *o)
{
	char *key = xasprintf("file:%s", path);
	if (!allowed(ex->conf, "allow_mail_to_files", o->kind)) {
		outcome(ex, path, "bounced", "5.7.1",
		        "mail to file is restricted (allow_mail_to_files)");
	} else if (first_time(ex, key)) {
		struct local_mbox mbox = {
		    .path = path,
		    .dotlock_required = false,
		    .lock_attempts = (int)conf_get_int(ex->conf, "deliver_lock_attempts"),
		    .lock_delay_ms = conf_get_time(ex->conf, "deliver_lock_delay") * 1000,
		};
		struct local_headers h = {o->sender, ex->address};
		struct local_result r = {0};
		local_deliver_mbox(ex->msg, &o->creds, &mbox, &h, &r);
		outcome_result(ex, path, &r);
	}
	free(key);
}

void handle_targets(struct expansion *ex, const struct alias_target *targets, size_t count,
                    const struct owner *o)
{
	for (size_t i = 0; i < count; i++) {
		switch (targets[i].type) {
		case ALIAS_ADDRESS:
			handle_address(ex, targets[i].value, o);
			break;
		case ALIAS_COMMAND:
			handle_command(ex, targets[i].value, o);
			break;
		case ALIAS_FILE:
			handle_file(ex, targets[i].value, o);
			break;
		case ALIAS_INCLUDE:
			handle_include(ex, targets[i].value, o);
			break;
		}
	}
}

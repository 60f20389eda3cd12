/*
 * mailbox_command, as Postfix's local has it: a program (procmail,
 * maildrop, dovecot-lda) that a system user's mail is piped into instead
 * of being written into the mailbox. expand.c chooses it in place of
 * home_mailbox and mail_spool_directory, after aliases and ~/.forward;
 * the |commands of aliases and .forward files and virtual mailboxes never
 * use it.
 *
 * The command runs as command.c runs every command: as the user
 * (default_privs for root, as Postfix does), in the user's home
 * directory (or /), with the message after a From_ line, Return-Path and
 * Delivered-To, with its exit status read as sysexits(3). Its environment
 * describes the user (HOME, USER, LOGNAME, SHELL: the user's login shell)
 * and the recipient: the one local was asked to deliver to when the name
 * that led here is its own (RECIPIENT user+ext@domain, LOCAL user+ext,
 * EXTENSION ext), else the name an alias or .forward gave (name@domain, no
 * extension). As in Postfix, the command text is taken as written, without
 * $name expansion: "$EXTENSION" is shell syntax, expanded by /bin/sh from
 * the environment (where the value went through command_expansion_filter).
 */
#include <paths.h>
#include <stdlib.h>
#include <string.h>

#include "local/local.h"
#include "util/alloc.h"

void local_deliver_mailbox_command(const struct conf *conf, const struct local_message *msg,
                                   const struct local_recipient *rcpt, const char *name,
                                   const struct passwd *pw, const struct local_creds *creds,
                                   const struct local_headers *h, struct local_result *result)
{
	bool own = strcmp(name, rcpt->local) == 0 || strcmp(name, rcpt->user) == 0;
	char *address = own ? NULL : xasprintf("%s@%s", name, rcpt->domain);
	struct local_recipient named = {
	    .address = address,
	    .local = name,
	    .user = name,
	    .domain = rcpt->domain,
	    .extension = NULL,
	    .original = rcpt->original,
	};
	struct local_command cmd = {
	    .command = conf_get_raw(conf, "mailbox_command"),
	    .home = pw->pw_dir,
	    .user = pw->pw_name,
	    .shell = pw->pw_shell && pw->pw_shell[0] ? pw->pw_shell : _PATH_BSHELL,
	    .rcpt = own ? rcpt : &named,
	    .filter = conf_get(conf, "command_expansion_filter"),
	    .time_limit_ms = conf_get_time(conf, "command_time_limit") * 1000,
	};
	local_deliver_command(msg, creds, &cmd, h, result);
	free(address);
}

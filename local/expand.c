/*
 * The expansion of one recipient of a local domain (local_deliver_local):
 * its driver, and the bookkeeping all its steps share (expand.h): the
 * recipient's result, the duplicate check, the chain of names being
 * expanded that finds loops, and the addresses to forward, queued at the
 * end one copy per envelope sender. The steps themselves are in
 * expand_alias.c, expand_target.c, expand_forward.c and expand_mailbox.c.
 *
 * The local part is looked up in alias_maps. An alias's targets are
 * handled in order: an address in a local domain is expanded again
 * (nested aliases), one in a virtual mailbox domain goes to that mailbox,
 * any other is forwarded in a new queue file (forward.c); |command and
 * /file deliveries run with the privileges of the aliases table's owner
 * (default_privs when that is root); :include: files are read with the
 * current privileges and their own targets run as the file's owner (the
 * current owner when root owns it). A name that is not an alias is a
 * system user: its ~/.forward (forward_path), read as the user, is
 * expanded the same way with the user's privileges; without one the mail
 * goes, in Postfix's order, to the transport mailbox_transport_maps or
 * mailbox_transport names (pass.c), to the user's mailbox_command
 * (mailbox_command.c), else into the user's mailbox (home_mailbox:
 * Maildir, mbox file, or mail_spool_directory/USER). A name that is
 * neither goes to the transport fallback_transport_maps or
 * fallback_transport names (pass.c), else is forwarded to the
 * luser_relay address (luser.c, forward.c), else is bounced.
 *
 * A transport gets the recipient itself (the queue file's address at its
 * index) when the mailbox or unknown name is the recipient's own local
 * part, with or without its extension. When an alias or a .forward led to
 * the name, the request names the queue file's recipient and asks the
 * agent to deliver to NAME@DOMAIN in its place (deliver_to), as Postfix's
 * local hands on the address it reached; the agent's result is the
 * recipient's.
 *
 * Loops: an alias that names itself ("root: root, admin") or a .forward
 * that names its user means that user's mailbox; any longer cycle (a: b,
 * b: a), an include cycle or nesting deeper than MAX_DEPTH bounces with
 * 5.4.6. The same mailbox, command, file or forwarded address is delivered
 * to once per recipient however many ways lead to it.
 *
 * owner-NAME: when an alias NAME has an owner-NAME alias, the copies made
 * for NAME carry owner-NAME@domain as their envelope sender (Return-Path),
 * and its address members, local ones included, are forwarded in a new
 * message from that sender: their delivery errors then go to the list
 * owner, not the author. (Its commands and files are delivered here, and
 * their errors go to the author.)
 *
 * DSN: the addresses an alias, .forward or :include: forwards to keep the
 * recipient's DSN parameters (forward.c: local_forward_dsn_init), except
 * under an owner- alias, whose mail is a new submission by the list owner
 * and carries none (RFC 3461 section 6.2.7.1).
 *
 * The recipient's result is the worst of all its deliveries (deferred,
 * then bounced, then delivered); each delivery is logged on its own.
 *
 * A verify request (verify.c) takes every one of these steps, reading
 * .forward and :include: files as a delivery does; only the deliveries
 * themselves report what they would do instead of doing it. Several
 * destinations make one reason: "aliased to" (or "forwards to", for a
 * .forward) and the list of them.
 */
#include <stdlib.h>
#include <string.h>

#include "local/expand.h"
#include "local/local.h"
#include "mail/aliases.h"
#include "mail/extension.h"
#include "util/alloc.h"
#include "util/log.h"
#include "util/str.h"

/* ---- results ---- */

static int rank(const char *state)
{
	return strcmp(state, "deferred") == 0 ? 3 : strcmp(state, "bounced") == 0 ? 2 : 1;
}

/* Keep the worst outcome (true if this one is it); log this one. */
bool outcome(struct expansion *ex, const char *what, const char *state, const char *status,
             const char *reason)
{
	log_info("%s: %s<%s> %s: %s (%s)", ex->msg->queue_id, ex->msg->verify ? "verify " : "",
	         ex->address, what, state, reason);
	ex->outcomes++;
	if (ex->msg->verify && rank(state) == 1)
		local_verify_list_add(&ex->verify_to, what);
	if (!ex->have_result || rank(state) > rank(ex->result->state)) {
		local_result_set(ex->result,
		                 rank(state) == 3   ? "deferred"
		                 : rank(state) == 2 ? "bounced"
		                                    : "delivered",
		                 status, reason);
		ex->have_result = true;
		return true;
	}
	return false;
}

void outcome_result(struct expansion *ex, const char *what, struct local_result *r)
{
	if (outcome(ex, what, r->state, r->status, r->reason))
		local_result_take_agent(ex->result, r); /* a pass's relay, for qmgr */
	local_result_free(r);
}

/* True the first time key is seen in this expansion. */
bool first_time(struct expansion *ex, const char *key)
{
	for (size_t i = 0; i < ex->done_count; i++)
		if (strcmp(ex->done[i], key) == 0)
			return false;
	ex->done = xreallocarray(ex->done, ex->done_count + 1, sizeof(*ex->done));
	ex->done[ex->done_count++] = xstrdup(key);
	return true;
}

/* ---- loops ---- */

bool chain_has(const struct expansion *ex, const char *key)
{
	for (int i = 0; i < ex->depth; i++)
		if (strcmp(ex->chain[i], key) == 0)
			return true;
	return false;
}

/* Describe the chain plus key for a loop message. */
char *chain_text(const struct expansion *ex, const char *key)
{
	struct str s = STR_INIT;
	for (int i = 0; i < ex->depth; i++)
		str_printf(&s, "%s -> ", ex->chain[i]);
	str_append_cstr(&s, key);
	return str_steal(&s);
}

/* Push key onto the chain: false (after a bounce) if too deep. */
bool chain_push(struct expansion *ex, const char *key)
{
	if (ex->depth > MAX_DEPTH) {
		outcome(ex, key, "bounced", "5.4.6",
		        "mail forwarding loop: expansion nested too deeply");
		return false;
	}
	ex->chain[ex->depth++] = key;
	return true;
}

/* ---- forwards ---- */

void forward_add(struct expansion *ex, const char *sender, const char *address)
{
	for (size_t i = 0; i < ex->fwd_count; i++)
		if (strcmp(ex->fwd[i].address, address) == 0)
			return;
	ex->fwd = xreallocarray(ex->fwd, ex->fwd_count + 1, sizeof(*ex->fwd));
	ex->fwd[ex->fwd_count].sender = xstrdup(sender);
	ex->fwd[ex->fwd_count].address = xstrdup(address);
	ex->fwd_count++;
}

/* Queue one copy per envelope sender for the addresses to forward. */
static void forward_all(struct expansion *ex)
{
	struct local_forward_dsn alias_dsn, list_dsn;
	local_forward_dsn_init(&alias_dsn, ex->msg, ex->address, false);
	local_forward_dsn_init(&list_dsn, ex->msg, ex->address, true);
	bool *sent = xcalloc(ex->fwd_count + 1, sizeof(bool));
	for (size_t i = 0; i < ex->fwd_count; i++) {
		if (sent[i])
			continue;
		char **rcpts = xcalloc(ex->fwd_count, sizeof(char *));
		size_t n = 0;
		for (size_t j = i; j < ex->fwd_count; j++)
			if (!sent[j] && strcmp(ex->fwd[j].sender, ex->fwd[i].sender) == 0) {
				rcpts[n++] = ex->fwd[j].address;
				sent[j] = true;
			}
		/* a new sender: an owner- list's own submission */
		bool list = strcmp(ex->fwd[i].sender, ex->msg->sender) != 0;
		struct local_result r = {0};
		local_forward(ex->conf, ex->msg, ex->fwd[i].sender, rcpts, n, ex->address,
		              list ? &list_dsn : &alias_dsn, &r);
		if (ex->msg->verify) {
			/* the addresses themselves, for the reason */
			struct str labels = STR_INIT;
			for (size_t k = 0; k < n; k++)
				local_verify_list_add(&labels, rcpts[k]);
			outcome_result(ex, str_cstr(&labels), &r);
			str_free(&labels);
		} else {
			char *what = xasprintf("forward to %zu address%s", n, n == 1 ? "" : "es");
			outcome_result(ex, what, &r);
			free(what);
		}
		free(rcpts);
	}
	free(sent);
	local_forward_dsn_free(&alias_dsn);
	local_forward_dsn_free(&list_dsn);
}

void local_deliver_local(struct local_service *svc, const struct conf *conf,
                         const struct local_message *msg, const char *local_part,
                         const char *address, const struct local_pass_rcpt *rcpt,
                         struct local_result *result)
{
	const char *at = strrchr(address, '@');
	struct expansion ex = {
	    .svc = svc,
	    .conf = conf,
	    .msg = msg,
	    .address = address,
	    .domain = at ? at + 1 : conf_get(conf, "myhostname"),
	    .pass = rcpt,
	    .result = result,
	    .verify_to = STR_INIT,
	};
	/* user+ext: the alias user+ext if there is one, else user (alias or user) */
	const char *name = local_part;
	char *base = extension_strip(local_part, conf_get(conf, "recipient_delimiter"));
	const char *extension = base ? local_part + strlen(base) + 1 : NULL;
	ex.rcpt = (struct local_recipient){
	    .address = address,
	    .local = local_part,
	    .user = base ? base : local_part,
	    /* as Postfix's: an extension with a '/' is none */
	    .extension = extension && !strchr(extension, '/') ? extension : NULL,
	    .domain = ex.domain,
	    .original = local_original_recipient(msg, address),
	};
	if (base) {
		struct alias_target *targets = NULL;
		size_t count = 0, table = 0;
		const char *error;
		int rc = alias_lookup(&ex, local_part, &targets, &count, &table, &error);
		if (rc == 1)
			alias_targets_free(targets, count);
		else if (rc == 0)
			name = base; /* on an error, expand_name meets it again and defers */
	}
	expand_name(&ex, name, NULL, false);
	free(base);
	if (ex.fwd_count > 0)
		forward_all(&ex);
	if (!ex.have_result)
		local_result_set(result, "bounced", "5.1.1", "alias expands to nothing");
	else if (strcmp(result->state, "delivered") == 0 && ex.outcomes > 1) {
		if (msg->verify) {
			local_verify_delivered(result, "%s %s",
			                       ex.verify_via ? ex.verify_via : "delivers to",
			                       str_cstr(&ex.verify_to));
		} else {
			char *text = xasprintf("delivered to %zu destinations", ex.outcomes);
			local_result_set(result, "delivered", "2.0.0", text);
			free(text);
		}
		result->expanded = true; /* RFC 3464 "expanded" for a SUCCESS request */
	}
	for (size_t i = 0; i < ex.done_count; i++)
		free(ex.done[i]);
	free(ex.done);
	for (size_t i = 0; i < ex.fwd_count; i++) {
		free(ex.fwd[i].sender);
		free(ex.fwd[i].address);
	}
	free(ex.fwd);
	str_free(&ex.verify_to);
}

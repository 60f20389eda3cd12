/*
 * What happens to one recipient of a local domain: aliases, the user's
 * ~/.forward, :include: files, and finally the mailbox.
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
 * neither goes to fallback_transport (pass.c), else is forwarded to the
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
#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "local/local.h"
#include "mail/aliases.h"
#include "mail/aliases_db.h"
#include "mail/extension.h"
#include "mail/mailbox.h"
#include "table/table_cache.h"
#include "util/alloc.h"
#include "util/log.h"
#include "util/privs.h"
#include "util/str.h"

#define MAX_DEPTH 20
#define FILE_READ_TIMEOUT_MS (60 * 1000)

enum context_kind { CTX_ALIAS, CTX_FORWARD, CTX_INCLUDE };

/* Whose privileges the targets of one alias, .forward or include get. */
struct owner {
	enum context_kind kind;
	struct local_creds creds;
	char *user; /* owned; creds.user points here */
	char *home; /* owned */
	char *sender;
};

struct forward_rcpt {
	char *sender;
	char *address;
};

struct expansion {
	struct local_service *svc;
	const struct conf *conf;
	const struct local_message *msg;
	const char *address;                /* the recipient, lower-cased */
	const char *domain;                 /* its domain, or myhostname */
	const struct local_pass_rcpt *pass; /* as the queue file has it */
	struct local_recipient rcpt;        /* the same, for commands */
	struct local_result *result;
	bool have_result;
	char **done; /* keys of deliveries made */
	size_t done_count;
	struct forward_rcpt *fwd;
	size_t fwd_count;
	const char *chain[MAX_DEPTH + 2];
	int depth;
	size_t outcomes; /* deliveries made (and forwards queued) */
	/* verify: how the recipient expands (NULL: it is not an alias or a
	 * .forward) and the destinations that would be delivered to */
	const char *verify_via;
	struct str verify_to;
};

static void expand_name(struct expansion *ex, const char *name, const struct owner *parent,
                        bool noalias);

/* ---- results ---- */

static int rank(const char *state)
{
	return strcmp(state, "deferred") == 0 ? 3 : strcmp(state, "bounced") == 0 ? 2 : 1;
}

/* Keep the worst outcome (true if this one is it); log this one. */
static bool outcome(struct expansion *ex, const char *what, const char *state, const char *status,
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

static void outcome_result(struct expansion *ex, const char *what, struct local_result *r)
{
	if (outcome(ex, what, r->state, r->status, r->reason))
		local_result_take_agent(ex->result, r); /* a pass's relay, for qmgr */
	local_result_free(r);
}

/* True the first time key is seen in this expansion. */
static bool first_time(struct expansion *ex, const char *key)
{
	for (size_t i = 0; i < ex->done_count; i++)
		if (strcmp(ex->done[i], key) == 0)
			return false;
	ex->done = xreallocarray(ex->done, ex->done_count + 1, sizeof(*ex->done));
	ex->done[ex->done_count++] = xstrdup(key);
	return true;
}

static bool has_control_chars(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* ---- owners ---- */

static void owner_free(struct owner *o)
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

static int owner_for_uid(const struct conf *conf, uid_t uid, struct owner *o, const char **error_r);

/* The identity for the commands and files of the system user pw: pw, or
 * default_privs for root. 0 or -1 with *error_r. */
static int owner_for_user(const struct conf *conf, const struct passwd *pw, struct owner *o,
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
static int owner_for_uid(const struct conf *conf, uid_t uid, struct owner *o, const char **error_r)
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

/* ---- alias tables ---- */

/* Open what is not open yet; a missing table file counts as empty. */
static int open_alias_maps(struct local_service *svc, const struct conf *conf, const char **error_r)
{
	char *const *specs = conf_get_list(conf, "alias_maps");
	size_t n = 0;
	while (specs && specs[n])
		n++;
	if (!svc->alias_maps_opened) {
		svc->alias_maps = xcalloc(n + 1, sizeof(*svc->alias_maps));
		svc->alias_map_count = n;
		svc->alias_maps_opened = true;
	}
	for (size_t i = 0; i < svc->alias_map_count; i++) {
		if (svc->alias_maps[i] != NULL)
			continue;
		struct stat st;
		if (table_spec_stat(specs[i], &st) != 0 && errno == ENOENT)
			continue; /* not built yet: no aliases there */
		svc->alias_maps[i] = table_open(specs[i], error_r);
		if (svc->alias_maps[i] == NULL)
			return -1;
	}
	return 0;
}

/* 1 found (targets, and the table's index), 0 not an alias, -1 error. */
static int alias_lookup(struct expansion *ex, const char *name, struct alias_target **targets,
                        size_t *count, size_t *table_r, const char **error_r)
{
	if (open_alias_maps(ex->svc, ex->conf, error_r) != 0)
		return -1;
	for (size_t i = 0; i < ex->svc->alias_map_count; i++) {
		struct table *t = ex->svc->alias_maps[i];
		if (t == NULL)
			continue;
		int rc = aliases_db_lookup(t, name, targets, count, error_r);
		if (rc != 0) {
			*table_r = i;
			return rc;
		}
	}
	return 0;
}

/* ---- reading a .forward or :include: file as its reader ---- */

struct read_job {
	const char *path;
};

static void read_child(void *arg, int report_fd)
{
	const struct read_job *job = arg;
	struct ipc_rec *rec = ipc_rec_new("result");
	FILE *f = fopen(job->path, "re");
	struct stat st;
	struct str text = STR_INIT;
	const char *problem = NULL;
	int err = 0;
	if (f == NULL) {
		err = errno;
		problem = strerror(errno);
	} else if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		problem = "not a regular file";
	} else {
		char buf[8192];
		size_t n;
		while ((n = fread(buf, 1, sizeof(buf), f)) > 0 && text.len <= LOCAL_READ_MAX)
			str_append(&text, buf, n);
		if (ferror(f))
			problem = "read error";
		else if (text.len > LOCAL_READ_MAX)
			problem = "file too large";
	}
	ipc_rec_add_str(rec, "state", problem ? "deferred" : "delivered");
	ipc_rec_add_str(rec, "status", problem ? "4.3.0" : "2.0.0");
	ipc_rec_add_str(rec, "reason", problem ? problem : "read");
	ipc_rec_add_int(rec, "missing", err == ENOENT || err == ENOTDIR);
	if (!problem) {
		ipc_rec_add_int(rec, "uid", (int64_t)st.st_uid);
		ipc_rec_add_int(rec, "mode", (int64_t)st.st_mode);
		ipc_rec_add_data(rec, "data", text.data ? text.data : "", text.len);
	}
	(void)ipc_write(report_fd, rec, 10000);
	ipc_rec_free(rec);
	str_free(&text);
	if (f)
		fclose(f);
}

/* Read path as creds. 1 read (text, owner uid, mode), 0 missing, -1 with
 * a reason in *reason (malloc'd). */
static int read_as(const struct local_creds *creds, const char *path, struct str *text,
                   uid_t *uid_r, mode_t *mode_r, char **reason)
{
	struct read_job job = {path};
	const char *error = "";
	struct ipc_rec *rec =
	    local_run_child(creds, FILE_READ_TIMEOUT_MS, read_child, &job, &error);
	const char *state = rec ? ipc_rec_get_str(rec, "state") : NULL;
	size_t len = 0;
	const char *data = rec ? ipc_rec_get_data(rec, "data", &len) : NULL;
	int64_t uid = 0, mode = 0, missing = 0;
	bool have_ids =
	    rec && ipc_rec_get_int(rec, "uid", &uid) && ipc_rec_get_int(rec, "mode", &mode);
	if (rec)
		(void)ipc_rec_get_int(rec, "missing", &missing);
	int rc;
	if (state && strcmp(state, "delivered") == 0 && data && have_ids) {
		str_clear(text);
		str_append(text, data, len);
		*uid_r = (uid_t)uid;
		*mode_r = (mode_t)mode;
		rc = 1;
	} else if (missing) {
		rc = 0;
	} else {
		const char *why = rec ? ipc_rec_get_str(rec, "reason") : error;
		*reason = xasprintf("cannot read %s: %s", path, why ? why : "failed");
		rc = -1;
	}
	ipc_rec_free(rec);
	return rc;
}

/* ---- targets ---- */

static void handle_targets(struct expansion *ex, const struct alias_target *targets, size_t count,
                           const struct owner *o);

static bool chain_has(const struct expansion *ex, const char *key)
{
	for (int i = 0; i < ex->depth; i++)
		if (strcmp(ex->chain[i], key) == 0)
			return true;
	return false;
}

/* Describe the chain plus key for a loop message. */
static char *chain_text(const struct expansion *ex, const char *key)
{
	struct str s = STR_INIT;
	for (int i = 0; i < ex->depth; i++)
		str_printf(&s, "%s -> ", ex->chain[i]);
	str_append_cstr(&s, key);
	return str_steal(&s);
}

/* Push key onto the chain: false (after a bounce) if too deep. */
static bool chain_push(struct expansion *ex, const char *key)
{
	if (ex->depth > MAX_DEPTH) {
		outcome(ex, key, "bounced", "5.4.6",
		        "mail forwarding loop: expansion nested too deeply");
		return false;
	}
	ex->chain[ex->depth++] = key;
	return true;
}

static void forward_add(struct expansion *ex, const char *sender, const char *address)
{
	for (size_t i = 0; i < ex->fwd_count; i++)
		if (strcmp(ex->fwd[i].address, address) == 0)
			return;
	ex->fwd = xreallocarray(ex->fwd, ex->fwd_count + 1, sizeof(*ex->fwd));
	ex->fwd[ex->fwd_count].sender = xstrdup(sender);
	ex->fwd[ex->fwd_count].address = xstrdup(address);
	ex->fwd_count++;
}

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
	if (addr[0] == '\0' || has_control_chars(addr) || (domain && domain[0] == '\0')) {
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

/* Parse a .forward or include text and hand its targets on; -1 after a
 * deferral for a syntax error. */
static int expand_list(struct expansion *ex, const char *path, const struct str *text,
                       const struct owner *o)
{
	struct alias_entry entry = {0};
	struct diag_list diags;
	diag_list_init(&diags);
	int rc = aliases_parse_list(&entry, path, str_cstr(text), text->len, &diags);
	if (rc != 0) {
		char *reason = xasprintf("syntax error: %s", diags.items[0].text);
		log_warn("%s: <%s>: %s", ex->msg->queue_id, ex->address, reason);
		outcome(ex, path, "deferred", "4.3.0", reason);
		free(reason);
	} else if (entry.target_count > 0) {
		handle_targets(ex, entry.targets, entry.target_count, o);
	}
	diag_list_free(&diags);
	alias_entry_clear(&entry);
	return rc;
}

static void handle_include(struct expansion *ex, const char *path, const struct owner *parent)
{
	char *key = xasprintf(":include:%s", path);
	if (chain_has(ex, key)) {
		char *loop = chain_text(ex, key);
		char *text = xasprintf("mail forwarding loop: %s", loop);
		outcome(ex, key, "bounced", "5.4.6", text);
		free(text);
		free(loop);
		free(key);
		return;
	}
	if (!first_time(ex, key) || !chain_push(ex, key)) {
		free(key);
		return;
	}
	struct str text = STR_INIT;
	uid_t uid = 0;
	mode_t mode = 0;
	char *reason = NULL;
	int rc = read_as(&parent->creds, path, &text, &uid, &mode, &reason);
	if (rc <= 0) {
		if (rc == 0)
			reason = xasprintf("cannot read %s: no such file", path);
		outcome(ex, key, "deferred", "4.3.0", reason);
	} else {
		struct owner o = {.kind = CTX_INCLUDE, .sender = xstrdup(parent->sender)};
		const char *error = "";
		if (uid != 0 && privs_are_root()) {
			if (owner_for_uid(ex->conf, uid, &o, &error) != 0) {
				reason = xasprintf("owner of %s: %s", path, error);
				outcome(ex, key, "deferred", "4.3.0", reason);
				rc = -1;
			}
		} else {
			o.creds = parent->creds;
			o.user = xstrdup(parent->user);
			o.home = xstrdup(parent->home);
			o.creds.user = o.user;
		}
		if (rc > 0)
			(void)expand_list(ex, path, &text, &o);
		owner_free(&o);
	}
	free(reason);
	str_free(&text);
	ex->depth--;
	free(key);
}

static void handle_targets(struct expansion *ex, const struct alias_target *targets, size_t count,
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
static void deliver_unknown(struct expansion *ex, const char *name, const char *sender)
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
		if (address[0] == '\0' || address[0] == '@' || has_control_chars(address) ||
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
static void deliver_mailbox(struct expansion *ex, const struct passwd *pw, const char *name,
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

/* The forward_path of pw: $home and $user replaced (a fresh string). */
static char *forward_file(const struct conf *conf, const struct passwd *pw)
{
	/* $home and $user are ours; other $names are main.conf's */
	const char *p = conf_get_raw(conf, "forward_path");
	struct str s = STR_INIT;
	while (*p) {
		if (strncmp(p, "$home", 5) == 0 || strncmp(p, "${home}", 7) == 0) {
			str_append_cstr(&s, pw->pw_dir);
			p += p[1] == '{' ? 7 : 5;
		} else if (strncmp(p, "$user", 5) == 0 || strncmp(p, "${user}", 7) == 0) {
			str_append_cstr(&s, pw->pw_name);
			p += p[1] == '{' ? 7 : 5;
		} else {
			str_append_char(&s, *p++);
		}
	}
	char *path = conf_expand(conf, str_cstr(&s));
	str_free(&s);
	return path;
}

/* A system user: .forward (unless noforward) or the mailbox. */
static void deliver_user(struct expansion *ex, const char *name, const char *sender, bool noforward)
{
	errno = 0;
	struct passwd *pw = getpwnam(name);
	if (pw == NULL && errno == 0 && strcmp(name, "postmaster") == 0)
		pw = getpwnam("root");
	if (pw == NULL) {
		if (errno != 0 && errno != ENOENT && errno != ESRCH)
			outcome(ex, name, "deferred", "4.3.0", "user database unavailable");
		else
			deliver_unknown(ex, name, sender);
		return;
	}
	struct passwd user = *pw;
	user.pw_name = xstrdup(pw->pw_name);
	user.pw_dir = xstrdup(pw->pw_dir ? pw->pw_dir : "");
	user.pw_shell = xstrdup(pw->pw_shell ? pw->pw_shell : "");
	user.pw_passwd = user.pw_gecos = NULL; /* getpw* may reuse their storage */
	char *fkey = xasprintf("~%s", user.pw_name);
	char *path = NULL;
	bool forwarded = false;
	if (!noforward && !chain_has(ex, fkey) && user.pw_dir[0] == '/' &&
	    conf_get_raw(ex->conf, "forward_path")[0] != '\0') {
		path = forward_file(ex->conf, &user);
		struct local_creds creds = {user.pw_uid, user.pw_gid, user.pw_name, (gid_t)-1,
		                            true};
		struct str text = STR_INIT;
		uid_t uid;
		mode_t mode;
		char *reason = NULL;
		int rc = read_as(&creds, path, &text, &uid, &mode, &reason);
		if (rc < 0) {
			outcome(ex, path, "deferred", "4.3.0", reason);
			forwarded = true;
		} else if (rc == 1 && ((uid != user.pw_uid && uid != 0) || (mode & 022))) {
			log_warn("%s: ignoring %s: not owned by %s or writable by others",
			         ex->msg->queue_id, path, user.pw_name);
		} else if (rc == 1 && chain_push(ex, fkey)) {
			struct owner o = {.kind = CTX_FORWARD, .sender = xstrdup(sender)};
			const char *error = "";
			if (owner_for_user(ex->conf, &user, &o, &error) != 0)
				o = (struct owner){CTX_FORWARD,
				                   {0, 0, NULL, (gid_t)-1, false},
				                   xstrdup(""),
				                   xstrdup("/"),
				                   o.sender};
			/* root's .forward: commands and files as default_privs; with no
			 * usable default_privs they are refused (uid 0 without
			 * allow_root) */
			struct alias_entry probe = {0};
			struct diag_list diags;
			diag_list_init(&diags);
			/* An empty .forward means the mailbox. */
			(void)aliases_parse_list(&probe, path, str_cstr(&text), text.len, &diags);
			forwarded = probe.target_count > 0 || diag_has_errors(&diags);
			diag_list_free(&diags);
			alias_entry_clear(&probe);
			if (forwarded && ex->verify_via == NULL)
				ex->verify_via = "forwards to";
			if (forwarded)
				(void)expand_list(ex, path, &text, &o);
			owner_free(&o);
			ex->depth--;
		} else if (rc == 1) {
			forwarded = true; /* too deep: bounced already */
		}
		free(reason);
		str_free(&text);
	}
	if (!forwarded)
		deliver_mailbox(ex, &user, name, sender);
	free(path);
	free(fkey);
	free(user.pw_name);
	free(user.pw_dir);
	free(user.pw_shell);
}

/* The owner-NAME sender for an alias NAME, or NULL. */
static char *owner_sender(struct expansion *ex, const char *name)
{
	char *owner_name = xasprintf("owner-%s", name);
	struct alias_target *targets = NULL;
	size_t count = 0, table = 0;
	const char *error;
	char *sender = NULL;
	if (strlen(owner_name) <= TABLE_MAX_KEY &&
	    alias_lookup(ex, owner_name, &targets, &count, &table, &error) == 1) {
		sender = xasprintf("%s@%s", owner_name, ex->domain);
		alias_targets_free(targets, count);
	}
	free(owner_name);
	return sender;
}

static void expand_name(struct expansion *ex, const char *name, const struct owner *parent,
                        bool noalias)
{
	const char *sender = parent ? parent->sender : ex->msg->sender;
	if (noalias) {
		deliver_user(ex, name, sender, true);
		return;
	}
	if (chain_has(ex, name)) {
		if (ex->depth > 0 && strcmp(ex->chain[ex->depth - 1], name) == 0) {
			/* "root: root, admin": root's own mailbox (or .forward) */
			deliver_user(ex, name, sender, false);
		} else {
			char *loop = chain_text(ex, name);
			char *text = xasprintf("mail forwarding loop: %s", loop);
			outcome(ex, name, "bounced", "5.4.6", text);
			free(text);
			free(loop);
		}
		return;
	}
	struct alias_target *targets = NULL;
	size_t count = 0, table = 0;
	const char *error = "";
	int rc = alias_lookup(ex, name, &targets, &count, &table, &error);
	if (rc < 0) {
		char *text = xasprintf("alias_maps look-up failed: %s", error);
		outcome(ex, name, "deferred", "4.3.0", text);
		free(text);
		return;
	}
	if (rc == 0) {
		/* a .forward of this user may name the user again: the mailbox */
		deliver_user(ex, name, sender, false);
		return;
	}
	char *key = xasprintf("alias:%s", name);
	struct owner o = {.kind = CTX_ALIAS};
	struct stat st;
	const char *spec = table_spec(ex->svc->alias_maps[table]);
	if (first_time(ex, key) && chain_push(ex, name)) {
		if (table_spec_stat(spec, &st) != 0) {
			outcome(ex, name, "deferred", "4.3.0", "cannot stat the aliases table");
		} else if (owner_for_uid(ex->conf, st.st_uid, &o, &error) != 0) {
			char *text = xasprintf("aliases table owner: %s", error);
			outcome(ex, name, "deferred", "4.3.0", text);
			free(text);
		} else {
			o.sender = owner_sender(ex, name);
			if (o.sender == NULL)
				o.sender = xstrdup(sender);
			if (ex->verify_via == NULL)
				ex->verify_via = "aliased to";
			handle_targets(ex, targets, count, &o);
		}
		ex->depth--;
	}
	owner_free(&o);
	free(key);
	alias_targets_free(targets, count);
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

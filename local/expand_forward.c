/*
 * The files that expand a local recipient (expand.c): a system user's
 * ~/.forward (forward_path), read as the user, whose targets get the
 * user's privileges (default_privs for root's), and :include: files, read
 * with the current privileges, whose targets run as the file's owner (the
 * current owner when root owns it). A file is read in a child with a time
 * limit and at most LOCAL_READ_MAX bytes, and its text is parsed as an
 * alias's list of targets (expand_target.c). A .forward owned by neither
 * its user nor root, or writable by others, is ignored; an empty one means
 * the mailbox. A system user without one gets its mailbox, a name that is
 * no user goes where unknown names go (expand_mailbox.c).
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conf/diag.h"
#include "local/expand.h"
#include "local/local.h"
#include "mail/aliases.h"
#include "util/alloc.h"
#include "util/ipc.h"
#include "util/log.h"
#include "util/privs.h"
#include "util/str.h"

#define FILE_READ_TIMEOUT_MS (60 * 1000)

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

/* ---- :include: ---- */

void handle_include(struct expansion *ex, const char *path, const struct owner *parent)
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

/* ---- ~/.forward ---- */

/* The forward_path of pw: $home and $user are the user's, other $names
 * main.conf parameters (a fresh string). */
static char *forward_file(const struct conf *conf, const struct passwd *pw)
{
	const struct var_value vars[] = {{"home", pw->pw_dir}, {"user", pw->pw_name}};
	return local_expand(conf, conf_get_raw(conf, "forward_path"), vars,
	                    sizeof(vars) / sizeof(vars[0]));
}

/* A system user: .forward (unless noforward) or the mailbox. */
void deliver_user(struct expansion *ex, const char *name, const char *sender, bool noforward)
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

/*
 * Where a user's mail is (see mailbox.h): virtual users, system users and
 * the lookup readers use.
 */
#include "mail/mailbox.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mail/extension.h"
#include "util/alloc.h"
#include "util/privs.h"
#include "util/str.h"

enum mailbox_domain mailbox_domain_kind(const struct conf *conf, const char *domain)
{
	if (domain &&
	    str_list_contains_nocase(conf_get_list(conf, "virtual_mailbox_domains"), domain))
		return MAILBOX_DOMAIN_VIRTUAL;
	if (domain == NULL ||
	    str_list_contains_nocase(conf_get_list(conf, "mydestination"), domain))
		return MAILBOX_DOMAIN_LOCAL;
	return MAILBOX_DOMAIN_OTHER;
}

bool mailbox_safe_component(const char *s)
{
	return *s != '\0' && *s != '.' && strchr(s, '/') == NULL;
}

void mailbox_location_free(struct mailbox_location *loc)
{
	free(loc->base);
	free(loc->subdirs);
	free(loc->maildir);
	free(loc->path);
	free(loc->spool);
	memset(loc, 0, sizeof(*loc));
}

/* A Maildir location base/subdirs/maildir. */
static void set_maildir(struct mailbox_location *loc, const char *base, char *subdirs,
                        char *maildir)
{
	loc->format = MAILBOX_MAILDIR;
	loc->base = xstrdup(base);
	loc->subdirs = subdirs;
	loc->maildir = maildir;
	loc->path = *subdirs ? xasprintf("%s/%s/%s", base, subdirs, maildir)
	                     : xasprintf("%s/%s", base, maildir);
}

/* privs_lookup of the virtual mailbox owner, remembered for the life of
 * the process (keyed by the name): a delivery agent looks it up for every
 * message, and reading the passwd database each time costs more than the
 * delivery's own file work. Processes end after max_use requests and on a
 * reload, which is when a changed owner is seen (as with Postfix's). */
static int owner_lookup(const char *spec, uid_t *uid_r, gid_t *gid_r, const char **why_r)
{
	static char *cached_spec;
	static uid_t cached_uid;
	static gid_t cached_gid;
	if (cached_spec == NULL || strcmp(cached_spec, spec) != 0) {
		uid_t uid;
		gid_t gid;
		if (privs_lookup(spec, &uid, &gid, why_r) != 0)
			return -1; /* failures are not remembered */
		free(cached_spec);
		cached_spec = xstrdup(spec);
		cached_uid = uid;
		cached_gid = gid;
	}
	*uid_r = cached_uid;
	*gid_r = cached_gid;
	return 0;
}

int mailbox_virtual(const struct conf *conf, const char *local, const char *domain, bool privileged,
                    struct mailbox_location *loc, const char **why_r)
{
	memset(loc, 0, sizeof(*loc));
	if (privileged) {
		if (owner_lookup(conf_get(conf, "virtual_mailbox_owner"), &loc->uid, &loc->gid,
		                 why_r) != 0)
			return -1;
	} else {
		loc->uid = getuid();
		loc->gid = getgid();
	}
	set_maildir(loc, conf_get(conf, "virtual_mailbox_base"), xasprintf("%s/%s", domain, local),
	            xstrdup(MAILBOX_VIRTUAL_MAILDIR));
	return 0;
}

int mailbox_virtual_lookup(struct table *maps, const char *delimiter, const char *address,
                           struct str *value, char **local_r, const char **error_r)
{
	*local_r = NULL;
	const char *key = address;
	int found = table_lookup(maps, address, value, error_r);
	char *base = found == 0 ? extension_strip(address, delimiter) : NULL;
	if (base) {
		found = table_lookup(maps, base, value, error_r);
		key = base;
	}
	if (found == 1) {
		const char *at = strrchr(key, '@');
		*local_r = at ? xstrndup(key, (size_t)(at - key)) : xstrdup(key);
	}
	free(base);
	return found;
}

int mailbox_system(const struct conf *conf, const struct passwd *pw, struct mailbox_location *loc,
                   const char **why_r)
{
	memset(loc, 0, sizeof(*loc));
	loc->uid = pw->pw_uid;
	loc->gid = pw->pw_gid;
	const char *home_mailbox = conf_get(conf, "home_mailbox");
	size_t hm_len = strlen(home_mailbox);
	if (hm_len > 0 && (pw->pw_dir == NULL || pw->pw_dir[0] != '/')) {
		*why_r = "user has no usable home directory";
		return -1;
	}
	if (hm_len > 0 && home_mailbox[hm_len - 1] == '/') {
		set_maildir(loc, pw->pw_dir, xstrdup(""), xstrndup(home_mailbox, hm_len - 1));
	} else if (hm_len > 0) {
		loc->format = MAILBOX_MBOX;
		loc->path = xasprintf("%s/%s", pw->pw_dir, home_mailbox);
	} else {
		loc->format = MAILBOX_MBOX;
		loc->spool = xstrdup(conf_get(conf, "mail_spool_directory"));
		loc->path = xasprintf("%s/%s", loc->spool, pw->pw_name);
	}
	return 0;
}

int mailbox_find(const struct conf *conf, const char *user, bool privileged,
                 struct mailbox_location *loc, const char **why_r)
{
	memset(loc, 0, sizeof(*loc));
	const char *at = strrchr(user, '@');
	char *local = at ? xstrndup(user, (size_t)(at - user)) : xstrdup(user);
	const char *domain = at ? at + 1 : NULL;
	int rc = -1;
	if (!mailbox_safe_component(local) || (domain && !mailbox_safe_component(domain))) {
		*why_r = "unsafe mailbox name";
	} else {
		switch (mailbox_domain_kind(conf, domain)) {
		case MAILBOX_DOMAIN_VIRTUAL:
			rc = mailbox_virtual(conf, local, domain, privileged, loc, why_r);
			break;
		case MAILBOX_DOMAIN_LOCAL: {
			struct passwd *pw = getpwnam(local);
			if (pw == NULL)
				*why_r = "no such system user";
			else
				rc = mailbox_system(conf, pw, loc, why_r);
			break;
		}
		case MAILBOX_DOMAIN_OTHER:
			*why_r = "the user's domain is not delivered here";
			break;
		}
	}
	free(local);
	if (rc == 0 && loc->format != MAILBOX_MAILDIR) {
		*why_r = "the mailbox is an mbox file (home_mailbox), not a Maildir";
		rc = -1;
	} else if (rc == 0 && privileged && loc->uid == 0) {
		*why_r = "mailboxes owned by root are not served";
		rc = -1;
	}
	if (rc != 0)
		mailbox_location_free(loc);
	return rc;
}

int mailbox_make_dirs(const char *base, const char *subdirs, struct str *path, const char **error_r)
{
	struct stat st;
	str_set(path, base);
	if (stat(base, &st) != 0) {
		*error_r = strerror(errno);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		*error_r = "not a directory";
		return -1;
	}
	const char *p = subdirs;
	while (*p != '\0') {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		str_append_char(path, '/');
		str_append(path, p, len);
		if (mkdir(str_cstr(path), 0700) != 0 && errno != EEXIST) {
			*error_r = strerror(errno);
			return -1;
		}
		p += len;
		if (*p == '/')
			p++;
	}
	return 0;
}

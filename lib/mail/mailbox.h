/*
 * Where a user's mail is: the one answer shared by local (which writes
 * it) and pop3d and imapd (which serve it), so that readers look where
 * delivery puts the mail.
 *
 *   - virtual user local@domain (domain in virtual_mailbox_domains): the
 *     Maildir $virtual_mailbox_base/DOMAIN/LOCAL/Maildir/, owned by
 *     virtual_mailbox_owner; local checks the address in
 *     virtual_mailbox_maps first, user+ext@domain being user@domain's
 *     unless it has an entry of its own (recipient_delimiter);
 *   - system user (no domain, or one in mydestination): home_mailbox below
 *     the home directory (a Maildir when it ends in '/', else an mbox
 *     file), or with an empty home_mailbox the mbox file
 *     $mail_spool_directory/USER; owned by the user.
 */
#ifndef POSTERN_MAIL_MAILBOX_H
#define POSTERN_MAIL_MAILBOX_H

#include <pwd.h>
#include <stdbool.h>
#include <sys/types.h>

#include "conf/conf.h"
#include "table/table.h"
#include "util/str.h"

/* The Maildir's name below a virtual user's directory. */
#define MAILBOX_VIRTUAL_MAILDIR "Maildir"

enum mailbox_domain { MAILBOX_DOMAIN_VIRTUAL, MAILBOX_DOMAIN_LOCAL, MAILBOX_DOMAIN_OTHER };

/* Which kind of domain (NULL: none, a local user) this host serves. */
enum mailbox_domain mailbox_domain_kind(const struct conf *conf, const char *domain);

/* A name that is safe as one path component (not empty, no '/', no leading '.'). */
bool mailbox_safe_component(const char *s);

enum mailbox_format { MAILBOX_MAILDIR, MAILBOX_MBOX };

struct mailbox_location {
	enum mailbox_format format;
	uid_t uid; /* the owner */
	gid_t gid;
	/* A Maildir is base/subdirs/maildir: base must exist, subdirs are
	 * created if missing. NULL for an mbox. */
	char *base;
	char *subdirs; /* "domain/user" or "" */
	char *maildir;
	char *path;  /* the whole path of the Maildir or the mbox file */
	char *spool; /* an mbox in mail_spool_directory: that directory, else NULL */
};

void mailbox_location_free(struct mailbox_location *loc);

/* The Maildir of the virtual user local@domain (both safe components,
 * see mailbox_safe_component). Owned by virtual_mailbox_owner when
 * privileged, else by the caller. 0, or -1 with *why_r (the owner
 * lookup's error). The owner's look-up is remembered for the life of the
 * process (a failed one is not). */
int mailbox_virtual(const struct conf *conf, const char *local, const char *domain, bool privileged,
                    struct mailbox_location *loc, const char **why_r);

/* Look up the lower-cased address local@domain in virtual_mailbox_maps
 * (maps), then its base without the extension (delimiter: a
 * recipient_delimiter). 1 when found, with its value in *value and the
 * mailbox's local part (fresh) in *local_r; 0 if unknown; -1 with *error_r. */
int mailbox_virtual_lookup(struct table *maps, const char *delimiter, const char *address,
                           struct str *value, char **local_r, const char **error_r);

/* The mailbox of the system user pw, as home_mailbox says. 0, or -1 with
 * *why_r. */
int mailbox_system(const struct conf *conf, const struct passwd *pw, struct mailbox_location *loc,
                   const char **why_r);

/* For the readers (pop3d, imapd): the Maildir of a canonical user name
 * ("user" or "user@domain") as delivery writes it. Refuses unsafe names,
 * domains not served here, unknown system users, mboxes, and (when
 * privileged) mailboxes owned by root. 0, or -1 with *why_r. */
int mailbox_find(const struct conf *conf, const char *user, bool privileged,
                 struct mailbox_location *loc, const char **why_r);

/* Create subdirs ("a/b" or "") below the existing directory base, one
 * component at a time (mode 0700), as a Maildir location's are; *path is
 * then base/subdirs (or as far as it got). 0, or -1 with *error_r. */
int mailbox_make_dirs(const char *base, const char *subdirs, struct str *path,
                      const char **error_r);

#endif

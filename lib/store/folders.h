/*
 * Mail folders (IMAP mailboxes) beside INBOX, in Dovecot's default
 * Maildir++ layout, so that mail moved over from Dovecot keeps its folders.
 *
 * The root Maildir is INBOX. Folder names are UTF-8 with '/' as the
 * hierarchy separator; "INBOX" in any case is the root, and a leading
 * "inbox/" is taken as "INBOX/". Folder NAME is the Maildir ROOT/.DIR,
 * where DIR is each component of NAME in IMAP modified UTF-7 (util/mutf7.h)
 * joined by '.': "Work/Ärger" is ROOT/.Work.&AMQ-rger. A folder's
 * inferiors are separate directories (ROOT/.Work.&AMQ-rger.2024), and a
 * parent need not exist for its child to. Each folder holds Dovecot's
 * empty "maildirfolder" marker and, once opened by store.h, its own index.
 *
 * Names that cannot map both ways are refused: empty names or components
 * (so no leading, trailing or doubled '/'), a '.' in a component (it is
 * the separator on disk, so "..", "." and "a.b" cannot escape the root or
 * alias another folder), control characters (C0, DEL, C1), malformed
 * UTF-8, and names whose directory name would pass NAME_MAX.
 *
 * Subscriptions are ROOT/subscriptions in Dovecot's format: a first line
 * "V\t2", an empty line, then one line per folder holding its on-disk name
 * (modified UTF-7) with the components separated by a tab instead of '.'
 * ("Work\t&AMQ-rger"; INBOX is "INBOX"). Files without that header
 * (Dovecot's version 1: the on-disk name with '.' as is) are read too and
 * keep their version when changed; a new file is version 2. Changes are
 * serialised with flock(2) on ROOT/postern-subscriptions.lock and written
 * atomically (util/file_replace.h). Renaming and deleting folders leave
 * subscriptions alone, as IMAP asks.
 *
 * On -1, errno tells why (besides *error_r, which names the path):
 * EINVAL the name cannot be mapped, EEXIST the target exists, EPERM the
 * operation is not possible on INBOX, ENOTEMPTY the folder holds
 * directories of another program; other values come from the system.
 */
#ifndef POSTERN_STORE_FOLDERS_H
#define POSTERN_STORE_FOLDERS_H

#include <stdbool.h>
#include <stddef.h>

/* Longest folder name taken, in bytes of UTF-8 (the on-disk name must
 * also fit in NAME_MAX). */
#define FOLDERS_NAME_MAX 1000
#define FOLDERS_MARKER_NAME "maildirfolder"
#define FOLDERS_SUBSCRIPTIONS_NAME "subscriptions"
#define FOLDERS_SUBSCRIPTIONS_LOCK_NAME "postern-subscriptions.lock"

struct folders_list {
	char **names; /* UTF-8 folder names */
	size_t count, cap;
	/* Entries that were left out, one message each naming the path and
	 * why (a directory whose name does not decode, a subscription line
	 * that names no valid folder), for the caller to log. */
	char **skipped;
	size_t skipped_count, skipped_cap;
};

void folders_list_free(struct folders_list *list);

/* The canonical form of a folder name ("INBOX" for any case of it, and
 * "INBOX/" leading its inferiors) into *canonical_r (caller frees): what
 * to compare names by. 0, or -1 (EINVAL) with *error_r. */
int folders_name_canonical(const char *name, char **canonical_r, const char **error_r);

/* Every folder: "INBOX" first, then the directories ROOT/.X that are
 * Maildirs (have cur/), sorted by name. Directories whose names do not
 * decode to a valid name (or collide with INBOX) are put in
 * list->skipped. Appends to list; 0 or -1 with *error_r. */
int folders_list(const char *root, struct folders_list *list, const char **error_r);

/* The directory of a folder (root itself for INBOX) into *path_r (caller
 * frees), whether it exists or not. 0, or -1 (EINVAL) with *error_r. */
int folders_path(const char *root, const char *name, char **path_r, const char **error_r);

/* Create a folder: its Maildir (store/maildir.h) and the maildirfolder
 * marker. The root Maildir is made too if missing (its parent must
 * exist). 0, or -1 with *error_r: EEXIST when the folder (or INBOX) is
 * there already, for IMAP's [ALREADYEXISTS]. */
int folders_create(const char *root, const char *name, const char **error_r);

/* Delete a folder: its messages, index, marker and the directories (not
 * its inferiors, which are other directories). The directory is first
 * renamed out of sight, so that the folder vanishes at once and may be
 * created again. 1 deleted, 0 no such folder, -1 with *error_r: EPERM for
 * INBOX, ENOTEMPTY when it holds directories other than cur/ new/ tmp/
 * (or those hold directories): then nothing is removed. */
int folders_delete(const char *root, const char *name, const char **error_r);

/* Rename a folder and all its inferiors (ROOT/.OLD and ROOT/.OLD.* become
 * ROOT/.NEW and ROOT/.NEW.*), never replacing a directory. 1 renamed, 0
 * no such folder (ROOT/.OLD is missing), -1 with *error_r: EPERM renaming
 * INBOX, EEXIST when NEW (or INBOX, or where an inferior would go) exists,
 * EINVAL for bad names or NEW inside OLD. When a rename fails midway the
 * ones done are undone. */
int folders_rename(const char *root, const char *old_name, const char *new_name,
                   const char **error_r);

/* The subscribed folder names, in file order without duplicates (a
 * missing file: none). Lines that name no valid folder go to
 * list->skipped. Appends to list; 0 or -1 with *error_r. */
int folders_subscriptions_read(const char *root, struct folders_list *list, const char **error_r);

/* Subscribe to a folder (on) or unsubscribe (!on); the folder need not
 * exist. 1 changed, 0 it already was so, -1 with *error_r. */
int folders_subscribe(const char *root, const char *name, bool on, const char **error_r);

#endif

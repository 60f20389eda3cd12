/*
 * Dropping privileges for good: optional chroot, then setgroups, setgid and
 * setuid, each verified afterwards (real, effective and saved ids, the
 * supplementary group list, and that root cannot be regained).
 */
#ifndef POSTERN_UTIL_PRIVS_H
#define POSTERN_UTIL_PRIVS_H

#include <stdbool.h>
#include <sys/types.h>

/* Look up a user ("name" or "name:group"); fills uid, gid (the group's when
 * given, else the user's primary group). 0 or -1 with *error_r. */
int privs_lookup(const char *spec, uid_t *uid_r, gid_t *gid_r, const char **error_r);

/* chroot to chroot_dir (NULL or "" for none, then chdir "/"), then become
 * uid/gid with no supplementary groups. Refuses uid 0 unless allow_root.
 * Must be called as root. 0 or -1 with *error_r (the process must then exit). */
int privs_drop(uid_t uid, gid_t gid, const char *chroot_dir, bool allow_root, const char **error_r);

/* True if running with root privileges (euid 0). */
bool privs_are_root(void);

#endif

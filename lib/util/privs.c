/*
 * Dropping privileges for good, and checking that it worked: user and group
 * look-ups (names or numeric ids), then chroot, setgroups, setresgid and
 * setresuid, each verified afterwards. Error messages are built in one
 * static buffer, valid until the next call into this module.
 */
#include "util/privs.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/alloc.h"

/* The look-up buffer starts here and doubles on ERANGE up to the limit. */
#define PRIVS_LOOKUP_BUF_START 1024
#define PRIVS_LOOKUP_BUF_MAX (1024 * 1024)

static char privs_error[512];

static const char *format_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static const char *format_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(privs_error, sizeof(privs_error), fmt, ap);
	va_end(ap);
	return privs_error;
}

/* A decimal id that fits uid_t/gid_t and is not (id_t)-1. */
static bool parse_id(const char *s, unsigned long *id_r)
{
	if (*s < '0' || *s > '9')
		return false;
	for (const char *p = s; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	errno = 0;
	unsigned long v = strtoul(s, NULL, 10);
	if (errno != 0 || v >= UINT32_MAX)
		return false;
	*id_r = v;
	return true;
}

/* "Not found" as the various NSS back-ends report it. */
static bool is_not_found(int err)
{
	return err == 0 || err == ENOENT || err == ESRCH || err == EBADF || err == EPERM;
}

/* getpwnam_r (name) or getpwuid_r (name == NULL): 1 found, 0 not, -1 error. */
static int get_passwd(const char *name, uid_t uid, uid_t *uid_r, gid_t *gid_r, int *err_r)
{
	struct passwd pw, *found = NULL;
	size_t size = PRIVS_LOOKUP_BUF_START;
	char *buf = NULL;
	int err;
	do {
		buf = xrealloc(buf, size);
		err = name ? getpwnam_r(name, &pw, buf, size, &found)
		           : getpwuid_r(uid, &pw, buf, size, &found);
		size *= 2;
	} while (err == ERANGE && size <= PRIVS_LOOKUP_BUF_MAX);
	if (found) {
		*uid_r = pw.pw_uid;
		*gid_r = pw.pw_gid;
	}
	free(buf);
	*err_r = err;
	return found ? 1 : is_not_found(err) ? 0 : -1;
}

static int get_group(const char *name, gid_t *gid_r, int *err_r)
{
	struct group gr, *found = NULL;
	size_t size = PRIVS_LOOKUP_BUF_START;
	char *buf = NULL;
	int err;
	do {
		buf = xrealloc(buf, size);
		err = getgrnam_r(name, &gr, buf, size, &found);
		size *= 2;
	} while (err == ERANGE && size <= PRIVS_LOOKUP_BUF_MAX);
	if (found)
		*gid_r = gr.gr_gid;
	free(buf);
	*err_r = err;
	return found ? 1 : is_not_found(err) ? 0 : -1;
}

/* A user name, else a numeric uid (whose passwd entry, if any, gives the
 * primary group; without one, need_group says a group must be given). */
static int lookup_user(const char *user, uid_t *uid_r, gid_t *gid_r, bool *need_group_r,
                       const char **error_r)
{
	int err;
	unsigned long id;
	*need_group_r = false;
	int found = get_passwd(user, 0, uid_r, gid_r, &err);
	if (found == 0 && parse_id(user, &id)) {
		*uid_r = (uid_t)id;
		found = get_passwd(NULL, (uid_t)id, uid_r, gid_r, &err);
		if (found == 0) {
			*need_group_r = true;
			return 0;
		}
	}
	if (found < 0) {
		*error_r = format_error("looking up user %s: %s", user, strerror(err));
		return -1;
	}
	if (found == 0) {
		*error_r = format_error("unknown user %s", user);
		return -1;
	}
	return 0;
}

static int lookup_group(const char *group, gid_t *gid_r, const char **error_r)
{
	int err;
	unsigned long id;
	int found = get_group(group, gid_r, &err);
	if (found == 0 && parse_id(group, &id)) {
		*gid_r = (gid_t)id;
		return 0;
	}
	if (found < 0) {
		*error_r = format_error("looking up group %s: %s", group, strerror(err));
		return -1;
	}
	if (found == 0) {
		*error_r = format_error("unknown group %s", group);
		return -1;
	}
	return 0;
}

int privs_lookup(const char *spec, uid_t *uid_r, gid_t *gid_r, const char **error_r)
{
	char *user = xstrdup(spec);
	char *group = strchr(user, ':');
	if (group)
		*group++ = '\0';
	uid_t uid = 0;
	gid_t gid = 0;
	bool need_group = false;
	int rc = -1;
	if (*user == '\0')
		*error_r = format_error("empty user name in \"%s\"", spec);
	else if (group && *group == '\0')
		*error_r = format_error("empty group name in \"%s\"", spec);
	else if (lookup_user(user, &uid, &gid, &need_group, error_r) != 0)
		;
	else if (group && lookup_group(group, &gid, error_r) != 0)
		;
	else if (!group && need_group)
		*error_r = format_error("user id %s has no passwd entry: give a group too "
		                        "(%s:group)",
		                        user, user);
	else
		rc = 0;
	if (rc == 0) {
		*uid_r = uid;
		*gid_r = gid;
	}
	free(user);
	return rc;
}

bool privs_are_root(void)
{
	return geteuid() == 0;
}

static int enter_chroot(const char *dir, const char **error_r)
{
	if (chdir(dir) != 0 || chroot(".") != 0 || chdir("/") != 0) {
		*error_r = format_error("chroot %s: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

static int set_ids(uid_t uid, gid_t gid, const char **error_r)
{
	if (setgroups(1, &gid) != 0) {
		*error_r = format_error("setgroups %lu: %s", (unsigned long)gid, strerror(errno));
		return -1;
	}
	if (setresgid(gid, gid, gid) != 0) {
		*error_r = format_error("setresgid %lu: %s", (unsigned long)gid, strerror(errno));
		return -1;
	}
	if (setresuid(uid, uid, uid) != 0) {
		*error_r = format_error("setresuid %lu: %s", (unsigned long)uid, strerror(errno));
		return -1;
	}
	return 0;
}

/* Real, effective and saved ids, the supplementary groups (none, or only
 * gid), and that root cannot be regained. */
static int verify_ids(uid_t uid, gid_t gid, const char **error_r)
{
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid, groups[2];
	if (getresuid(&ruid, &euid, &suid) != 0 || ruid != uid || euid != uid || suid != uid) {
		*error_r = format_error("after the privilege drop the user ids are not all %lu",
		                        (unsigned long)uid);
		return -1;
	}
	if (getresgid(&rgid, &egid, &sgid) != 0 || rgid != gid || egid != gid || sgid != gid) {
		*error_r = format_error("after the privilege drop the group ids are not all %lu",
		                        (unsigned long)gid);
		return -1;
	}
	int n = getgroups(2, groups);
	for (int i = 0; i < n; i++)
		if (groups[i] != gid)
			n = -1;
	if (n < 0) {
		*error_r = "after the privilege drop supplementary groups remain";
		return -1;
	}
	if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		*error_r = "after the privilege drop root privileges could be regained";
		return -1;
	}
	return 0;
}

int privs_drop(uid_t uid, gid_t gid, const char *chroot_dir, bool allow_root, const char **error_r)
{
	if (uid == 0 && !allow_root) {
		*error_r = "refusing to drop privileges to uid 0 (root is not allowed here)";
		return -1;
	}
	if (chroot_dir && *chroot_dir && enter_chroot(chroot_dir, error_r) != 0)
		return -1;
	if (set_ids(uid, gid, error_r) != 0)
		return -1;
	return verify_ids(uid, gid, error_r);
}

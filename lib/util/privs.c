/*
 * Dropping privileges for good, and checking that it worked.
 */
#include "util/privs.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/alloc.h"

static char privs_error[512];

static const char *fail(const char *fmt, const char *arg, int err)
{
	if (err)
		snprintf(privs_error, sizeof(privs_error), fmt, arg, strerror(err));
	else
		snprintf(privs_error, sizeof(privs_error), fmt, arg, "");
	return privs_error;
}

static bool all_digits(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

int privs_lookup(const char *spec, uid_t *uid_r, gid_t *gid_r, const char **error_r)
{
	char *user = xstrdup(spec);
	char *group = strchr(user, ':');
	if (group)
		*group++ = '\0';
	char buf[16384];
	int rc = -1;
	struct passwd pw, *pwp = NULL;
	if (all_digits(user)) {
		*uid_r = (uid_t)strtoul(user, NULL, 10);
		if (getpwuid_r(*uid_r, &pw, buf, sizeof(buf), &pwp) == 0 && pwp)
			*gid_r = pw.pw_gid;
		else if (group == NULL) {
			*error_r = fail("user %s: no such user id (give a group too)", user, 0);
			goto out;
		}
	} else {
		if (getpwnam_r(user, &pw, buf, sizeof(buf), &pwp) != 0 || pwp == NULL) {
			*error_r = fail("no such user: %s%s", user, 0);
			goto out;
		}
		*uid_r = pw.pw_uid;
		*gid_r = pw.pw_gid;
	}
	if (group) {
		struct group gr, *grp = NULL;
		if (all_digits(group)) {
			*gid_r = (gid_t)strtoul(group, NULL, 10);
		} else if (getgrnam_r(group, &gr, buf, sizeof(buf), &grp) == 0 && grp) {
			*gid_r = gr.gr_gid;
		} else {
			*error_r = fail("no such group: %s%s", group, 0);
			goto out;
		}
	}
	rc = 0;
out:
	free(user);
	return rc;
}

bool privs_are_root(void)
{
	return geteuid() == 0;
}

int privs_drop(uid_t uid, gid_t gid, const char *chroot_dir, bool allow_root, const char **error_r)
{
	if (uid == 0 && !allow_root) {
		*error_r = "refusing to run as root (the service's unpriv column must say n)";
		return -1;
	}
	if (chroot_dir && *chroot_dir) {
		if (chdir(chroot_dir) != 0 || chroot(".") != 0 || chdir("/") != 0) {
			*error_r = fail("chroot %s: %s", chroot_dir, errno);
			return -1;
		}
	}
	if (uid == 0 && gid == 0)
		return 0; /* staying root, as master.conf said */
	if (setgroups(1, &gid) != 0) {
		*error_r = fail("setgroups%s: %s", "", errno);
		return -1;
	}
	if (setresgid(gid, gid, gid) != 0) {
		*error_r = fail("setresgid%s: %s", "", errno);
		return -1;
	}
	if (setresuid(uid, uid, uid) != 0) {
		*error_r = fail("setresuid%s: %s", "", errno);
		return -1;
	}
	/* Verify: every id is what was asked, and root cannot be regained. */
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	if (getresuid(&ru, &eu, &su) != 0 || ru != uid || eu != uid || su != uid ||
	    getresgid(&rg, &eg, &sg) != 0 || rg != gid || eg != gid || sg != gid) {
		*error_r = "privilege drop did not take effect";
		return -1;
	}
	gid_t groups[4];
	int n = getgroups(4, groups);
	if (n < 0 || n > 1 || (n == 1 && groups[0] != gid)) {
		*error_r = "supplementary groups remain after the privilege drop";
		return -1;
	}
	if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		*error_r = "root privileges could be regained after the drop";
		return -1;
	}
	return 0;
}

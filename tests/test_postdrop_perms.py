"""The set-gid postdrop: master, started as root, makes
$daemon_directory/postdrop group setgid_group (postern-drop) and mode 2755,
as Postfix's set-permissions does, so that a user other than root can
submit mail with sendmail. It refuses a symbolic link, anything but a
regular file, and anything a user other than root could have written. A
master that is not root changes nothing (everything runs as one user there
and postdrop needs no privilege).

The end-to-end test runs sendmail as nobody the way an installed Postern
is used: without -C (postdrop, being set-gid, honours only the built-in
configuration directory for users other than root), in a private mount
namespace where that directory is the test instance's etc/."""

import grp
import os
import pwd
import re
import shutil
import stat
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import BIN, IS_ROOT, InstanceTestCase, wait_for  # noqa: E402
from test_sendmail import EX_TEMPFAIL, LocalSubmission  # noqa: E402

GROUP = "postern-drop"
SETUP_FAILED = 111  # exit status of the namespace script when it cannot set up

# Make /etc/postern (the built-in config dir, $3) show the instance's etc/
# ($2) in a private mount namespace, then run the rest as nobody. When the
# directory does not exist, its parent is covered by an overlay (on a
# tmpfs at $1) in which it is made: nothing changes outside the namespace.
NAMESPACE_SCRIPT = r'''
scratch=$1 etc=$2 confdir=$3 uid=$4 gid=$5
shift 5
fail() { echo "namespace setup: $*" >&2; exit %d; }
if [ ! -d "$confdir" ]; then
	parent=$(dirname "$confdir")
	mount -t tmpfs -o mode=0700 tmpfs "$scratch" || fail "tmpfs on $scratch"
	mkdir "$scratch/upper" "$scratch/work" || fail mkdir
	mount -t overlay overlay \
		-o "lowerdir=$parent,upperdir=$scratch/upper,workdir=$scratch/work" "$parent" ||
		fail "overlay on $parent"
	mkdir "$confdir" || fail "mkdir $confdir"
fi
mount --bind "$etc" "$confdir" || fail "bind $etc on $confdir"
exec setpriv --reuid="$uid" --regid="$gid" --clear-groups "$@"
''' % SETUP_FAILED


def builtin_config_dir():
    """The configuration directory compiled into the programs (master's
    usage message names it)."""
    result = subprocess.run([os.path.join(BIN, "master"), "-h"], capture_output=True,
                            text=True, timeout=30)
    found = re.search(r"\(default (/\S+)\)", result.stderr)
    return found.group(1) if found else "/etc/postern"


def not_searchable_by_others(path):
    """The first directory on the way to path that others may not search."""
    path = os.path.abspath(path)
    parts = path.split(os.sep)
    for i in range(2, len(parts) + 1):
        d = os.sep.join(parts[:i]) or os.sep
        if not os.stat(d).st_mode & stat.S_IXOTH:
            return d
    return None


def log_count(inst, text):
    """How often the instance's log file (not master's copy on its standard
    error, which Instance.read_log adds) holds text."""
    with open(inst.logfile, errors="replace") as f:
        return f.read().count(text)


def mode_owner_group(path):
    st = os.lstat(path)
    return stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid


class PostdropPermissionsTest(LocalSubmission, InstanceTestCase):
    def own_daemon_directory(self, base):
        """A daemon_directory of the test's own in base, root-owned mode
        0755, holding a fresh mode-0755 copy of postdrop; services run from
        BIN by absolute path. Returns (directory, postdrop path)."""
        libexec = os.path.join(base, "libexec")
        os.makedirs(libexec, mode=0o755)
        os.chmod(libexec, 0o755)
        postdrop = os.path.join(libexec, "postdrop")
        shutil.copyfile(os.path.join(BIN, "postdrop"), postdrop)
        os.chmod(postdrop, 0o755)
        return libexec, postdrop

    def instance_with_own_postdrop(self, services=(), params=None):
        inst = self.instance(params=params, services=list(services), start=False)
        libexec, postdrop = self.own_daemon_directory(inst.base)
        inst.params["daemon_directory"] = libexec
        inst.write_config()
        return inst, libexec, postdrop

    def sendmail_as_nobody(self, *args, data=b""):
        """The instance's sendmail run by nobody as on an installed system:
        no -C, the built-in configuration directory being the instance's."""
        nobody = pwd.getpwnam("nobody")
        scratch = os.path.join(self.inst.base, "ns")
        os.makedirs(scratch, exist_ok=True)
        cmd = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
               NAMESPACE_SCRIPT, "sh", scratch, self.inst.etc, builtin_config_dir(),
               str(nobody.pw_uid), str(nobody.pw_gid),
               self.inst.program("sendmail")] + list(args)
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}
        for name in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if name in os.environ:
                env[name] = os.environ[name]
        result = subprocess.run(cmd, input=data, capture_output=True, timeout=60, env=env)
        if result.returncode == SETUP_FAILED:
            self.skipTest("cannot give nobody a private mount namespace: %s"
                          % result.stderr.decode(errors="replace").strip())
        return result

    @unittest.skipUnless(IS_ROOT, "needs root: only a master started as root makes postdrop "
                         "set-gid, and the test switches to the user nobody")
    def test_nobody_submits_through_the_set_gid_postdrop(self):
        for tool in ("unshare", "setpriv", "mount"):
            if not shutil.which(tool):
                self.skipTest("needs %s" % tool)
        probe = subprocess.run(["unshare", "--mount", "true"], capture_output=True, timeout=30)
        if probe.returncode != 0:
            self.skipTest("cannot make a mount namespace: %s"
                          % probe.stderr.decode(errors="replace").strip())
        try:
            drop_gid = grp.getgrnam(GROUP).gr_gid
            nobody = pwd.getpwnam("nobody")
        except KeyError as e:
            self.skipTest("needs the group %s and the user nobody (scripts/create-users.sh): %s"
                          % (GROUP, e))
        blocked = not_searchable_by_others(BIN)
        if blocked:
            self.skipTest("nobody cannot reach the programs in %s: %s is not searchable by "
                          "others" % (BIN, blocked))
        pickup = "pickup unix n - n 60 1 %s" % os.path.join(os.path.abspath(BIN), "pickup")
        self.inst, libexec, postdrop = self.instance_with_own_postdrop(services=[pickup])
        self.assertEqual(mode_owner_group(postdrop), (0o755, 0, 0))
        self.inst.start()
        # Installed-like: root's, group postern-drop, set-gid, and master said so.
        self.assertEqual(mode_owner_group(postdrop), (0o2755, 0, drop_gid))
        self.inst.wait_log("%s: set group %s and mode 2755 (was gid 0, mode 0755)"
                           % (postdrop, GROUP))
        self.assertEqual(mode_owner_group(self.queue_dir("maildrop")),
                         (0o1730, pwd.getpwnam("postern").pw_uid, drop_gid))

        # Without the set-gid bit an ordinary user cannot write maildrop/ ...
        os.chmod(postdrop, 0o755)
        result = self.sendmail_as_nobody("-i", "bob@example.test",
                                         data=b"Subject: token-refused\n\nbody\n")
        self.assertEqual(result.returncode, EX_TEMPFAIL, result.stderr)
        self.assertIn(b"Permission denied (this postdrop is not set-gid; see sendmail(1))",
                      result.stderr)
        # ... and a reload puts it back, like a start.
        self.inst.mailctl("reload", check=True)
        wait_for(lambda: mode_owner_group(postdrop) == (0o2755, 0, drop_gid),
                 what="postdrop set-gid again")
        self.assertEqual(log_count(self.inst, "%s: set group %s and mode 2755"
                                   % (postdrop, GROUP)), 2)

        result = self.sendmail_as_nobody("-i", "bob@example.test",
                                         data=b"Subject: token-nobody\n\nbody\n")
        # A sanitizer build's leak check cannot work in a set-id process; it
        # runs at exit, once the message is safe, and changes the status.
        if b"LeakSanitizer" not in result.stderr:
            self.assertEqual(result.returncode, 0, result.stderr)
        qid, env, rcpts, content = self.wait_queued("token-nobody")
        self.assertEqual(env["sender"], "nobody@mx.example.test")
        self.assertEqual(self.addresses(rcpts), ["bob@example.test"])
        self.assertIn(b"(Postern, from userid %d)" % nobody.pw_uid, content)
        self.assertRegex(self.header(content, "From")[0], r"<nobody@mx\.example\.test>$")
        self.inst.wait_log("%s: uid=%d from=<nobody@mx.example.test>" % (qid, nobody.pw_uid))
        self.assertNotIn(b"token-refused", b"".join(c for _, _, c in self.queued().values()))

        # -f: the envelope sender the user asks for, as with Postfix.
        result = self.sendmail_as_nobody("-i", "-f", "alerts@example.test", "bob@example.test",
                                         data=b"Subject: token-nobody-f\n\nbody\n")
        if b"LeakSanitizer" not in result.stderr:
            self.assertEqual(result.returncode, 0, result.stderr)
        _, env, _, content = self.wait_queued("token-nobody-f")
        self.assertEqual(env["sender"], "alerts@example.test")
        self.assertIn(b"(Postern, from userid %d)" % nobody.pw_uid, content)

    @unittest.skipUnless(IS_ROOT, "needs root: only a master started as root changes postdrop")
    def test_refuses_what_a_user_could_have_written(self):
        try:
            drop_gid = grp.getgrnam(GROUP).gr_gid
        except KeyError:
            self.skipTest("needs the group %s (scripts/create-users.sh)" % GROUP)
        inst, libexec, postdrop = self.instance_with_own_postdrop()
        real = os.path.join(inst.base, "postdrop.real")
        os.rename(postdrop, real)
        os.symlink(real, postdrop)
        inst.start()

        def refused(why, count=1):
            inst.wait_log("%s is not made set-gid %s: %s" % (postdrop, GROUP, why),
                          count=count)

        refused("it is a symbolic link")
        self.assertTrue(os.path.islink(postdrop))
        self.assertEqual(mode_owner_group(real), (0o755, 0, 0))

        os.unlink(postdrop)
        os.mkdir(postdrop, 0o755)
        inst.mailctl("reload", check=True)
        refused("it is not a regular file")
        self.assertEqual(mode_owner_group(postdrop), (0o755, 0, 0))
        os.rmdir(postdrop)

        os.link(real, postdrop)
        inst.mailctl("reload", check=True)
        refused("it has more than one link")
        os.unlink(real)

        os.chown(postdrop, pwd.getpwnam("nobody").pw_uid, 0)
        inst.mailctl("reload", check=True)
        refused("it is not owned by root")
        os.chown(postdrop, 0, 0)

        os.chmod(postdrop, 0o775)
        inst.mailctl("reload", check=True)
        refused("it is writable by group or others")
        os.chmod(postdrop, 0o755)

        os.chmod(libexec, 0o777)
        inst.mailctl("reload", check=True)
        refused("its directory belongs to a user other than root or is writable")
        self.assertEqual(mode_owner_group(postdrop), (0o755, 0, 0))
        os.chmod(libexec, 0o755)

        # Once nothing is wrong, the next reload does it.
        inst.mailctl("reload", check=True)
        inst.wait_log("%s: set group %s and mode 2755" % (postdrop, GROUP))
        self.assertEqual(mode_owner_group(postdrop), (0o2755, 0, drop_gid))
        self.assertEqual(log_count(inst, "set group %s" % GROUP), 1)

    @unittest.skipUnless(IS_ROOT, "needs root: only a master started as root changes postdrop")
    def test_build_tree_postdrop_is_made_set_gid_at_start(self):
        try:
            drop_gid = grp.getgrnam(GROUP).gr_gid
        except KeyError:
            self.skipTest("needs the group %s (scripts/create-users.sh)" % GROUP)
        postdrop = os.path.join(os.path.abspath(BIN), "postdrop")
        bin_st, file_st = os.stat(os.path.abspath(BIN)), os.lstat(postdrop)
        if bin_st.st_uid != 0 or bin_st.st_mode & 0o022 or file_st.st_uid != 0:
            self.skipTest("%s is not root's: master rightly leaves it alone" % postdrop)
        inst = self.instance()  # daemon_directory is the build tree
        self.assertEqual(mode_owner_group(postdrop), (0o2755, 0, drop_gid),
                         inst.read_log())

    @unittest.skipIf(IS_ROOT, "needs a master that is not root")
    def test_unprivileged_master_changes_nothing(self):
        pickup = "pickup unix n - n 60 1 %s" % os.path.join(os.path.abspath(BIN), "pickup")
        self.inst, libexec, postdrop = self.instance_with_own_postdrop(services=[pickup])
        before = mode_owner_group(postdrop)
        self.inst.start()
        self.inst.wait_log("privilege separation is off")
        self.assertEqual(mode_owner_group(postdrop), before)
        self.assertNotIn("set-gid", self.inst.read_log())
        self.assertNotIn("mode 2755", self.inst.read_log())
        # The user's own sendmail works as before: postdrop is not set-id.
        self.send_ok("bob@example.test", data=b"Subject: token-unprivileged\n\nbody\n")
        _, env, _, _ = self.wait_queued("token-unprivileged")
        self.assertEqual(env["sender"], "%s@mx.example.test" % pwd.getpwuid(os.getuid()).pw_name)


if __name__ == "__main__":
    unittest.main()

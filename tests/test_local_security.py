"""local: what a local user or a remote sender could try against local
delivery, and what a crash or a full disk must not do. Mailboxes in a
shared spool that another user made (owned by someone else, a symlink, a
hard link, a FIFO, a device), /file targets that are symlinks, hard
links or executable, the descriptors and environment a |command gets,
the privileges of .forward and :include: targets, recipient names meant
as paths, and a Maildir on a full disk. As in Postfix's local(8):
refusals of a mailbox defer (nothing is written, the mail stays queued),
an executable /file target bounces.
Recipients are handed to local over private/local as qmgr does; system
users are created by the test (as root) and removed afterwards."""

import grp
import os
import pwd
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import IS_ROOT  # noqa: E402
from test_aliases import LocalBase  # noqa: E402

# What Postfix's local exports to a command (and PATH); nothing else.
COMMAND_ENV = {"PATH", "HOME", "USER", "LOGNAME", "SHELL", "SENDER", "RECIPIENT", "LOCAL",
               "DOMAIN", "EXTENSION", "ORIGINAL_RECIPIENT", "CLIENT_HOSTNAME",
               "CLIENT_ADDRESS", "CLIENT_HELO", "CLIENT_PROTOCOL", "SASL_USERNAME"}


@unittest.skipUnless(IS_ROOT, "needs root to create system users")
class SpoolMailboxTest(LocalBase):
    """A mail spool every user may write (1777, as some systems have it):
    another user can make the file that is someone's mailbox."""
    PARAMS = {"home_mailbox": ""}

    def setUp(self):
        super().setUp()
        self.spool_dir = os.path.join(self.base, "var-mail")
        os.mkdir(self.spool_dir)
        os.chown(self.spool_dir, 0, grp.getgrnam("mail").gr_gid)
        os.chmod(self.spool_dir, 0o1777)
        self.inst.params["mail_spool_directory"] = self.spool_dir
        self.inst.write_config()
        self.victim = self.add_user("v")
        self.attacker = self.add_user("x")
        self.inst.start()
        self.box = os.path.join(self.spool_dir, self.victim)

    def attacker_file(self, path, mode=0o666):
        with open(path, "w"):
            pass
        x = self.users["x"]
        os.chown(path, x.pw_uid, x.pw_gid)
        os.chmod(path, mode)

    def test_mailbox_owned_by_another_user_is_not_written(self):
        # Postfix's strict_mailbox_ownership: the mail would go where the
        # file's owner reads it.
        self.attacker_file(self.box)
        res = self.deliver([self.victim])
        self.assertEqual((res[0]["state"], res[0]["status"]), ("deferred", "4.2.0"), res)
        self.assertIn("not owned by", res[0]["reason"])
        self.assertEqual(os.path.getsize(self.box), 0)
        self.assertFalse(os.path.exists(self.box + ".lock"))
        # Once it is the recipient's own, it is delivered to.
        v = self.users["v"]
        os.chown(self.box, v.pw_uid, v.pw_gid)
        res = self.deliver([self.victim])
        self.assertEqual(res[0]["state"], "delivered", res)
        self.assertGreater(os.path.getsize(self.box), 0)

    def test_mailbox_symlink_and_hard_link_are_not_followed(self):
        target = os.path.join(self.users["x"].pw_dir, "stolen")
        self.attacker_file(target)
        os.symlink(target, self.box)
        res = self.deliver([self.victim])
        self.assertEqual(res[0]["state"], "deferred", res)
        self.assertEqual(os.path.getsize(target), 0)
        os.unlink(self.box)
        # A hard link to a file of the victim's (made by the victim's own
        # earlier delivery, say) that the attacker can read elsewhere.
        own = os.path.join(self.spool_dir, "kept")
        with open(own, "w"):
            pass
        v = self.users["v"]
        os.chown(own, v.pw_uid, v.pw_gid)
        os.link(own, self.box)
        res = self.deliver([self.victim])
        self.assertEqual(res[0]["state"], "deferred", res)
        self.assertIn("more than one link", res[0]["reason"])
        self.assertEqual(os.path.getsize(own), 0)

    def test_mailbox_that_is_a_fifo_does_not_hold_the_delivery(self):
        # Opening a FIFO for writing waits for a reader: without one the
        # delivery would hang until its time limit (10 minutes), holding
        # the dot lock and a delivery process.
        os.mkfifo(self.box, 0o666)
        x = self.users["x"]
        os.chown(self.box, x.pw_uid, x.pw_gid)
        os.chmod(self.box, 0o666)
        start = time.monotonic()
        res = self.deliver([self.victim])
        self.assertEqual(res[0]["state"], "deferred", res)
        self.assertLess(time.monotonic() - start, 20)
        self.assertFalse(os.path.exists(self.box + ".lock"))

    def test_mailbox_that_is_a_device_is_not_written(self):
        # Postfix: "destination ... is not a regular file". Only a /file
        # target may be a device (/dev/null).
        os.mknod(self.box, 0o666 | 0o020000, os.makedev(1, 3))  # /dev/null's
        v = self.users["v"]
        os.chown(self.box, v.pw_uid, v.pw_gid)
        res = self.deliver([self.victim])
        self.assertNotEqual(res[0]["state"], "delivered", res)
        self.assertIn("not a regular file", res[0]["reason"])


@unittest.skipUnless(IS_ROOT, "needs root to create system users")
class TargetTest(LocalBase):
    PARAMS = {"allow_mail_to_commands": "alias, forward, include", "recipient_delimiter": "+"}

    def setUp(self):
        super().setUp()
        self.u1 = self.add_user("a")
        self.u2 = self.add_user("b")
        self.inst.start()

    def test_executable_file_target_bounces(self):
        # Postfix's local delivers only to non-executable files: mail
        # appended to a script could be run.
        owner = self.users["a"]
        exe = os.path.join(self.out, "script")
        with open(exe, "w") as f:
            f.write("#!/bin/sh\n")
        os.chown(exe, owner.pw_uid, owner.pw_gid)
        os.chmod(exe, 0o744)
        plain = os.path.join(self.out, "plain")
        self.write_aliases("exe: %s\nplain: %s\n" % (exe, plain), owner=owner)
        res = self.deliver(["exe", "plain"])
        self.assertEqual((res[0]["state"], res[0]["status"]), ("bounced", "5.7.1"), res)
        self.assertIn("executable", res[0]["reason"])
        with open(exe) as f:
            self.assertEqual(f.read(), "#!/bin/sh\n")
        self.assertEqual(res[1]["state"], "delivered", res)

    def test_file_target_symlink_hard_link_and_device(self):
        owner = self.users["a"]
        other = os.path.join(self.users["b"].pw_dir, "other")
        with open(other, "w"):
            pass
        os.chmod(other, 0o666)
        link = os.path.join(self.out, "link")
        os.symlink(other, link)
        hard = os.path.join(self.out, "hard")
        mine = os.path.join(self.out, "mine")
        with open(mine, "w"):
            pass
        os.chown(mine, owner.pw_uid, owner.pw_gid)
        os.link(mine, hard)
        self.write_aliases("sym: %s\nhard: %s\nnull: /dev/null\n" % (link, hard), owner=owner)
        res = self.deliver(["sym", "hard", "null"])
        self.assertEqual(res[0]["state"], "deferred", res)
        self.assertEqual(os.path.getsize(other), 0)
        self.assertEqual(res[1]["state"], "deferred", res)
        self.assertEqual(os.path.getsize(mine), 0)
        self.assertEqual(res[2]["state"], "delivered", res)

    def test_command_gets_no_descriptors_and_only_its_environment(self):
        owner = self.users["a"]
        self.write_aliases('cmd: "|ls -l /proc/self/fd/ > %s/fds; env > %s/env"\n'
                           % (self.out, self.out), owner=owner)
        res = self.deliver(["cmd+ext"])
        self.assertEqual(res[0]["state"], "delivered", res)
        with open(os.path.join(self.out, "fds")) as f:
            lines = [line.split(" -> ") for line in f.read().splitlines() if " -> " in line]
        fds = {int(left.split()[-1]): right for left, right in lines}
        # 0 (the message), 1 (this file), 2 (output kept for the reason),
        # and the directory ls reads; no queue file, socket or pipe of local's.
        extra = {fd: target for fd, target in fds.items()
                 if fd > 2 and not target.startswith("/proc/")}
        self.assertEqual(extra, {}, fds)
        with open(os.path.join(self.out, "env")) as f:
            env = dict(line.split("=", 1) for line in f.read().splitlines() if "=" in line)
        self.assertLessEqual(set(env) - {"PWD", "SHLVL", "_", "OLDPWD"}, COMMAND_ENV, env)
        self.assertEqual(env["USER"], self.u1)
        self.assertEqual(env["LOGNAME"], self.u1)
        self.assertEqual(env["HOME"], self.users["a"].pw_dir)
        self.assertEqual(env["EXTENSION"], "ext")
        self.assertEqual(env["LOCAL"], "cmd+ext")
        self.assertEqual(env["SENDER"], "bob@remote.test")

    def test_include_targets_run_as_the_file_owner(self):
        # A root-owned table: the :include: is read as default_privs, and
        # its |command runs as the include file's owner, with that user's
        # groups and none of root's.
        a = self.users["a"]
        inc = os.path.join(self.base, "a.inc")
        with open(inc, "w") as f:
            f.write('"|id > %s/id-inc"\n' % self.out)
        os.chown(inc, a.pw_uid, a.pw_gid)
        os.chmod(inc, 0o644)
        self.write_aliases("inc: :include:%s\n" % inc)
        res = self.deliver(["inc"])
        self.assertEqual(res[0]["state"], "delivered", res)
        with open(os.path.join(self.out, "id-inc")) as f:
            ids = f.read()
        self.assertIn("uid=%d(" % a.pw_uid, ids)
        self.assertIn("gid=%d(" % a.pw_gid, ids)
        self.assertNotIn("(root)", ids)
        self.assertEqual(os.stat(os.path.join(self.out, "id-inc")).st_uid, a.pw_uid)

    def test_forward_of_another_owner_is_ignored(self):
        # A .forward that another user owns (or that others may write) is
        # not the user's word: the mailbox is used.
        a, b = self.users["a"], self.users["b"]
        fwd = os.path.join(a.pw_dir, ".forward")
        with open(fwd, "w") as f:
            f.write('"|id -u > %s/stolen"\n' % self.out)
        os.chown(fwd, b.pw_uid, b.pw_gid)
        res = self.deliver([self.u1])
        self.assertEqual(res[0]["state"], "delivered", res)
        self.assertFalse(os.path.exists(os.path.join(self.out, "stolen")))
        self.assertEqual(len(self.maildir("a")), 1)
        os.chown(fwd, a.pw_uid, a.pw_gid)
        os.chmod(fwd, 0o666)
        res = self.deliver([self.u1])
        self.assertFalse(os.path.exists(os.path.join(self.out, "stolen")))
        self.assertEqual(len(self.maildir("a")), 2)

    def test_recipient_names_that_look_like_paths_or_commands(self):
        # A remote sender's local part is only ever a name to look up: it
        # never becomes a file, a command or a path below the mailbox.
        names = ['"|touch %s/pwned"' % self.out, '"/%s/pwned"' % self.out.strip("/"),
                 "%s+../../../%s/pwned" % (self.u1, self.out.strip("/")),
                 "../" + self.u1, "x" * 600]
        res = self.deliver([n + "@mx.example.test" for n in names])
        self.assertEqual([r["state"] for r in res],
                         ["bounced", "bounced", "delivered", "bounced", "bounced"], res)
        self.assertFalse(os.path.exists(os.path.join(self.out, "pwned")))
        self.assertEqual(os.listdir(self.out), [])
        self.assertEqual(len(self.maildir("a")), 1)
        maildir = os.path.join(self.users["a"].pw_dir, "Maildir")
        self.assertEqual(sorted(os.listdir(maildir)), ["cur", "new", "tmp"])


@unittest.skipUnless(IS_ROOT, "needs root to mount a small file system")
class MaildirFullDiskTest(LocalBase):
    """A Maildir on a full disk: the recipient is deferred (not bounced)
    and nothing is left in tmp/ or new/."""

    def setUp(self):
        super().setUp()
        self.u1 = self.add_user("f")
        home = self.users["f"].pw_dir
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs",
                                  home], capture_output=True, timeout=30)
        if mounted.returncode != 0:
            self.skipTest("cannot mount a tmpfs: %s" % mounted.stderr)
        self.addCleanup(subprocess.run, ["umount", "-l", home], capture_output=True, timeout=30)
        f = self.users["f"]
        os.chown(home, f.pw_uid, f.pw_gid)
        self.inst.start()

    def test_full_disk_defers_and_leaves_nothing(self):
        res = self.deliver([self.u1])
        self.assertEqual(res[0]["state"], "delivered", res)
        big = "Subject: big\r\n\r\n" + ("y" * 70 + "\r\n") * 1500  # about 100 KiB
        res = self.deliver([self.u1], message=big)
        self.assertEqual((res[0]["state"], res[0]["status"]), ("deferred", "4.2.0"), res)
        self.assertIn("No space left", res[0]["reason"])
        maildir = os.path.join(self.users["f"].pw_dir, "Maildir")
        self.assertEqual(len(os.listdir(os.path.join(maildir, "new"))), 1)
        self.assertEqual(os.listdir(os.path.join(maildir, "tmp")), [])


if __name__ == "__main__":
    unittest.main()

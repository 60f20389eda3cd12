"""mailq for every user, as with Postfix. The queue directories are
mail_owner's alone, so `mailctl queue list --mailq` (mailq, sendmail -bp)
run by another user asks the showq service (public/showq, running as
mail_owner) through the set-gid postdrop -p, the one program that may
enter public/; root and mail_owner read the queue themselves, so theirs
works while master is down, and a user's says the mail system is down
(exit status 69, EX_UNAVAILABLE, as Postfix's postqueue).

showq itself is checked with a raw client that sends it junk: it reads
nothing and sends the listing that `mailctl queue list --mailq` prints.
The user test runs mailq as nobody the way an installed Postern is used
(see test_postdrop_perms.py): without -C, in a private mount namespace
where the built-in configuration directory is the instance's etc/."""

import grp
import os
import pwd
import shutil
import socket
import stat
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import BIN, IS_ROOT, InstanceTestCase, read_record  # noqa: E402
from test_postdrop_perms import (GROUP, NAMESPACE_SCRIPT, SETUP_FAILED,  # noqa: E402
                                 builtin_config_dir, mode_owner_group,
                                 not_searchable_by_others)

EX_UNAVAILABLE = 69
ARRIVAL = 1700000000


def showq_service():
    return "showq unix n - n - - %s" % os.path.join(os.path.abspath(BIN), "showq")


class MailqUserTest(InstanceTestCase):
    def queue_message(self, inst, sender, rcpts, queue="incoming"):
        """A queue file written by the library's queue writer, mail_owner's
        as if smtpd had written it. Returns its id."""
        cmd = [inst.program("svc_queue_writer"), "-s", sender, "-a", str(ARRIVAL), "-q", queue,
               "-m", "Subject: mailq-user\r\n\r\nbody\r\n"]
        for rcpt in rcpts:
            cmd += ["-r", rcpt]
        result = subprocess.run(cmd + [inst.spool], capture_output=True, timeout=30)
        self.assertEqual(result.returncode, 0, result.stderr)
        qid = result.stdout.decode().strip()
        if IS_ROOT:
            owner = pwd.getpwnam("postern")
            os.chown(os.path.join(inst.spool, queue, qid), owner.pw_uid, owner.pw_gid)
        return qid

    def direct_listing(self, inst):
        """What `mailctl queue list --mailq` prints when it reads the queue."""
        result = subprocess.run([inst.program("mailctl"), "-c", inst.etc, "queue", "list",
                                 "--mailq"], capture_output=True, timeout=30)
        self.assertEqual(result.returncode, 0, result.stderr)
        return result.stdout

    def ask_showq(self, inst, junk=b""):
        """The records showq sends on one connection: (name, attrs) up to
        and including "end" or "error"."""
        records = []
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(20)
            s.connect(os.path.join(inst.spool, "public", "showq"))
            try:
                s.sendall(junk)
            except (BrokenPipeError, ConnectionResetError):
                pass  # showq may be done (and gone) before the junk is
            while not records or records[-1][0] == "text":
                records.append(read_record(s))
        return records

    def test_showq_sends_the_listing_and_reads_nothing(self):
        inst = self.instance(services=[showq_service()])
        if IS_ROOT:
            # Like public/pickup: a socket anyone may use, in a directory
            # only mail_owner and the setgid_group may enter.
            self.assertEqual(stat.S_IMODE(os.stat(os.path.join(inst.spool, "public")).st_mode),
                             0o710)
        records = self.ask_showq(inst)
        self.assertEqual(records, [("text", {"data": b"Mail queue is empty\n"}), ("end", {})])

        qid = self.queue_message(inst, "alice@example.org",
                                 ["bob@example.net", "carol\x1b[2J@example.net"])
        held = self.queue_message(inst, "", ["postmaster@example.test"], queue="hold")
        # A client that talks (or sends a request of some other service)
        # gets the same listing: showq reads nothing.
        junk = b"\x00\x00\x00\x05\x04auth" + b"GET / HTTP/1.0\r\n" * 512
        records = self.ask_showq(inst, junk=junk)
        self.assertEqual(records[-1], ("end", {}))
        self.assertTrue(all(name == "text" for name, _ in records[:-1]), records)
        listing = b"".join(attrs["data"] for _, attrs in records[:-1])
        self.assertEqual(listing, self.direct_listing(inst))
        text = listing.decode()
        self.assertRegex(text, r"(?m)^%s  +\d+ .* alice@example\.org\n {41}bob@example\.net\n"
                               r" {41}carol\?\[2J@example\.net\n" % qid)
        self.assertRegex(text, r"(?m)^%s! +\d+ .* MAILER-DAEMON\n {41}postmaster@example\.test\n"
                         % held)
        self.assertTrue(text.endswith("-- 1 Kbytes in 2 Requests.\n"), text)

    @unittest.skipUnless(IS_ROOT, "needs root: the queue must belong to mail_owner, postdrop "
                         "must be made set-gid by a root master, and the test runs mailq as "
                         "nobody")
    def test_nobody_lists_the_queue_through_showq(self):
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
            owner = pwd.getpwnam("postern")
        except KeyError as e:
            self.skipTest("needs the group %s and the users postern and nobody "
                          "(scripts/create-users.sh): %s" % (GROUP, e))
        blocked = not_searchable_by_others(BIN)
        if blocked:
            self.skipTest("nobody cannot reach the programs in %s: %s is not searchable by "
                          "others" % (BIN, blocked))

        # daemon_directory: root's, holding a fresh postdrop that master
        # makes set-gid postern-drop; showq runs from the build tree.
        inst = self.instance(services=[showq_service()], start=False)
        libexec = os.path.join(inst.base, "libexec")
        os.makedirs(libexec, mode=0o755)
        os.chmod(libexec, 0o755)
        postdrop = os.path.join(libexec, "postdrop")
        shutil.copyfile(os.path.join(BIN, "postdrop"), postdrop)
        os.chmod(postdrop, 0o755)
        inst.params["daemon_directory"] = libexec
        inst.write_config()
        inst.start()
        self.assertEqual(mode_owner_group(postdrop), (0o2755, 0, drop_gid))
        for queue in ("incoming", "active", "deferred", "hold"):
            self.assertEqual(mode_owner_group(os.path.join(inst.spool, queue)),
                             (0o700, owner.pw_uid, owner.pw_gid))

        qid = self.queue_message(inst, "alice@example.org", ["bob@example.net"])

        def as_nobody(program, *args):
            scratch = os.path.join(inst.base, "ns")
            os.makedirs(scratch, exist_ok=True)
            cmd = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                   NAMESPACE_SCRIPT, "sh", scratch, inst.etc, builtin_config_dir(),
                   str(nobody.pw_uid), str(nobody.pw_gid), inst.program(program)] + list(args)
            env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}
            for name in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
                if name in os.environ:
                    env[name] = os.environ[name]
            result = subprocess.run(cmd, capture_output=True, timeout=60, env=env)
            if result.returncode == SETUP_FAILED:
                self.skipTest("cannot give nobody a private mount namespace: %s"
                              % result.stderr.decode(errors="replace").strip())
            return result

        # nobody may not read the queue, yet mailq and -bp list it: the
        # same listing root gets from the directories.
        expected = self.direct_listing(inst)
        self.assertIn(qid.encode(), expected)
        for program, args in (("mailq", ()), ("sendmail", ("-bp",))):
            result = as_nobody(program, *args)
            self.assertEqual((result.returncode, result.stdout), (0, expected),
                             result.stderr.decode(errors="replace"))

        # With master down, nobody is told so (as Postfix's postqueue says
        # it, with its exit status) ...
        inst.stop()
        for program, args in (("mailq", ()), ("sendmail", ("-bp",))):
            result = as_nobody(program, *args)
            self.assertEqual(result.returncode, EX_UNAVAILABLE, result.stderr)
            self.assertIn(b"Queue report unavailable - mail system is down", result.stderr)
            self.assertEqual(result.stdout, b"")
        # ... while root still reads the queue itself.
        result = subprocess.run([inst.program("mailq"), "-C", inst.etc], capture_output=True,
                                timeout=60)
        self.assertEqual((result.returncode, result.stdout), (0, expected), result.stderr)


if __name__ == "__main__":
    unittest.main()

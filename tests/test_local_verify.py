"""local: address verification requests (deliver with verify = 1), as qmgr
sends them for reject_unverified_recipient and sendmail -bv. Each
recipient is resolved as a delivery would resolve it - a system user's
mailbox, a virtual mailbox, aliases to lists, commands, files and other
domains, :include:, ~/.forward, unknown users, alias loops, a .forward
with a syntax error - and local answers what would happen, while nothing
is written, run or queued: the whole test directory is compared before
and after. Bounces and deferrals are the ones a delivery gets. On the same
connection, a request without verify (or with verify = 0) still delivers.
Runs as root (with a system user the test creates) or as a normal user
(then the system user is the one running the test)."""

import os
import pwd
import socket
import struct
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import (IS_ROOT, InstanceTestCase, add_test_user,  # noqa: E402
                          decode_record, encode_record, wait_for)
from test_local import LOCAL_SERVICE, deliver_request, queue_active  # noqa: E402

MESSAGE = "From: bob@remote.test\r\nSubject: probe\r\n\r\nhello there\r\n"
SENDER = "bob@remote.test"


class VerifyTest(InstanceTestCase):
    def setUp(self):
        self.inst = self.instance(start=False, services=[LOCAL_SERVICE])
        base = self.base = self.inst.base
        self.vbase = self.inst.add_vmail(["alice@example.test", "carol@example.test"])
        self.spool_mail = os.path.join(base, "mail")
        self.out = os.path.join(base, "out")
        self.fwd_dir = os.path.join(base, "fwd")
        for d, mode in ((self.spool_mail, 0o1777), (self.out, 0o1777), (self.fwd_dir, 0o755)):
            os.mkdir(d)
            os.chmod(d, mode)
        if IS_ROOT:
            self.user = add_test_user(self, "pstvfy", os.path.join(base, "home-vfy"))
        else:
            self.user = pwd.getpwuid(os.getuid()).pw_name
            if self.user != self.user.lower():
                self.skipTest("the user's name has capitals (local parts are lower-cased)")
        self.pw = pwd.getpwnam(self.user)
        self.mbox = os.path.join(self.spool_mail, self.user)
        self.forward = os.path.join(self.fwd_dir, self.user + ".forward")
        self.include = os.path.join(base, "list.inc")
        with open(self.include, "w") as f:
            f.write("# members\n%s\nfar2@remote.test\n" % self.user)
        os.chmod(self.include, 0o644)
        self.inst.params.update({
            "virtual_mailbox_domains": "example.test",
            "mydestination": "mx.example.test, localhost",
            # system users' mailboxes in a spool of the test's own
            "home_mailbox": "",
            "mail_spool_directory": self.spool_mail,
            "forward_path": self.fwd_dir + "/$user.forward",
            "recipient_delimiter": "+",
            "command_time_limit": "5s",
            "deliver_lock_delay": "1s",
        })
        self.inst.write_config()
        self.write_aliases(
            "list: %(u)s, carol@example.test, far@remote.test\n"
            "cmd: \"|echo ran >> %(out)s/cmd-ran\"\n"
            "file: %(out)s/box\n"
            "far: far@remote.test\n"
            "inc: :include:%(inc)s\n"
            "loop1: loop2\nloop2: loop3\nloop3: loop1\n"
            "fwd: %(u)s\n" % {"u": self.user, "out": self.out, "inc": self.include})
        self.inst.start()

    def write_aliases(self, text):
        path = os.path.join(self.inst.etc, "aliases")
        with open(path, "w") as f:
            f.write(text)
        if IS_ROOT:
            os.chown(path, 0, 0)
        rc = self.inst.mailctl("alias", "rebuild")
        self.assertEqual(rc.returncode, 0, rc.stderr)

    def write_forward(self, text, mode=0o644):
        with open(self.forward, "w") as f:
            f.write(text)
        if IS_ROOT:
            os.chown(self.forward, self.pw.pw_uid, self.pw.pw_gid)
        os.chmod(self.forward, mode)

    def qualified(self, rcpts):
        return [r if "@" in r else r + "@mx.example.test" for r in rcpts]

    def queue(self, rcpts):
        return queue_active(self.inst, self.qualified(rcpts), SENDER, MESSAGE)

    def request(self, qid, rcpts, verify=None, sock=None):
        results, done = deliver_request(self.inst.spool, qid, self.qualified(rcpts), SENDER,
                                        timeout=60, verify=verify, sock=sock)
        self.assertTrue(done, "no \"done\" from local")
        return [results[i] for i in range(len(rcpts))]

    def snapshot(self):
        """Everything under the test directory but the logs and the
        instance's sockets and pid files: path -> (type, size, mtime, mode,
        owner)."""
        skip = {os.path.join(self.base, "log"), os.path.join(self.inst.spool, "private"),
                os.path.join(self.inst.spool, "public"), os.path.join(self.inst.spool, "pid")}
        found = {}
        for top, dirs, files in os.walk(self.base):
            dirs[:] = [d for d in dirs if os.path.join(top, d) not in skip]
            for name in dirs + files:
                path = os.path.join(top, name)
                st = os.lstat(path)
                found[path] = (st.st_mode, st.st_size, st.st_mtime_ns, st.st_uid)
        return found

    def verify(self, rcpts, expect):
        """A verify request for rcpts; expect: one (state, status, reason
        fragment) per recipient. Asserts that nothing on disk changed."""
        qid = self.queue(rcpts)
        before = self.snapshot()
        res = self.request(qid, rcpts, verify=1)
        for r, (state, status, reason) in zip(res, expect):
            self.assertEqual((r["state"], r["status"]), (state, status), res)
            self.assertIn(reason, r["reason"], res)
            self.assertNotIn("\n", r["reason"])
            self.assertLessEqual(len(r["reason"]), 400)
        self.assertEqual(self.snapshot(), before, "a verify request changed the disk")
        self.assertFalse(os.path.exists(os.path.join(self.out, "cmd-ran")))
        self.assertEqual(os.listdir(os.path.join(self.inst.spool, "incoming")), [])
        return qid, res

    def same_as_delivery(self, qid, rcpts, verified):
        """A real delivery of the same recipients gives the same results
        (for bounces and deferrals, which write nothing)."""
        res = self.request(qid, rcpts)
        self.assertEqual([(r["state"], r["status"], r["reason"]) for r in res],
                         [(r["state"], r["status"], r["reason"]) for r in verified])

    def test_mailboxes(self):
        rcpts = [self.user, self.user.upper() + "+ext@localhost", "alice@example.test",
                 "Alice+tag@Example.Test"]
        self.verify(rcpts, [("delivered", "2.0.0", "delivers to mailbox")] * 2 +
                    [("delivered", "2.0.0", "delivers to maildir")] * 2)
        self.assertFalse(os.path.exists(self.mbox))
        self.assertFalse(os.path.exists(os.path.join(self.vbase, "example.test", "alice")))
        log = self.inst.read_log()
        self.assertIn("verify <%s@mx.example.test>" % self.user, log)

    def test_aliases(self):
        rcpts = ["list", "cmd", "file", "far", "inc", "fwd"]
        self.verify(rcpts, [
            ("delivered", "2.0.0", "aliased to mailbox of %s, carol@example.test, "
             "far@remote.test" % self.user),
            ("delivered", "2.0.0", "delivers to command: echo ran >> %s/cmd-ran" % self.out),
            ("delivered", "2.0.0", "delivers to file: %s/box" % self.out),
            ("delivered", "2.0.0", "forwards to far@remote.test"),
            ("delivered", "2.0.0", "aliased to mailbox of %s, far2@remote.test" % self.user),
            ("delivered", "2.0.0", "delivers to mailbox"),
        ])
        self.assertFalse(os.path.exists(os.path.join(self.out, "box")))
        self.assertFalse(os.path.exists(self.mbox))
        self.assertFalse(os.path.exists(os.path.join(self.vbase, "example.test", "carol")))

    def test_long_reason_is_cut(self):
        many = ", ".join("member%02d@remote.test" % i for i in range(60))
        self.write_aliases("big: %s, %s\nbigfar: %s\n" % (self.user, many, many))
        qid, res = self.verify(["big", "bigfar"], [
            ("delivered", "2.0.0", "aliased to mailbox of %s, member00@remote.test, "
             % self.user),
            ("delivered", "2.0.0", "forwards to member00@remote.test, member01@remote.test")])
        for r in res:
            self.assertTrue(r["reason"].endswith("..."), r)
            self.assertGreater(len(r["reason"]), 300, r)

    def test_forward_file(self):
        self.write_forward("# keep a copy\n\\%s, fwd@remote.test\n\"|echo ran >> %s/cmd-ran\"\n"
                           "%s/fwd-box\n" % (self.user, self.out, self.out))
        self.verify([self.user, "fwd"], [
            ("delivered", "2.0.0", "forwards to mailbox of %s, |echo ran >> %s/cmd-ran, "
             "%s/fwd-box, fwd@remote.test" % (self.user, self.out, self.out)),
            ("delivered", "2.0.0", "aliased to mailbox of %s, |echo ran >> %s/cmd-ran, "
             "%s/fwd-box, fwd@remote.test" % (self.user, self.out, self.out)),
        ])
        self.assertFalse(os.path.exists(os.path.join(self.out, "fwd-box")))
        self.assertFalse(os.path.exists(self.mbox))
        # A .forward that forwards to one address.
        self.write_forward("elsewhere@remote.test\n")
        self.verify([self.user], [("delivered", "2.0.0", "forwards to elsewhere@remote.test")])

    def test_forward_syntax_error_deferred(self):
        self.write_forward("%s, \"unterminated\n" % self.user)
        qid, res = self.verify([self.user], [("deferred", "4.3.0", "syntax error")])
        self.assertIn(".forward:1:", res[0]["reason"])
        self.same_as_delivery(qid, [self.user], res)

    @unittest.skipUnless(IS_ROOT, "needs root to read as another user")
    def test_forward_read_as_the_user(self):
        # root could read it; the user cannot: deferred as in a delivery,
        # so the .forward was read as the user.
        self.write_forward("fwd@remote.test\n", mode=0o000)
        qid, res = self.verify([self.user], [("deferred", "4.3.0", "Permission denied")])
        self.assertIn("cannot read %s" % self.forward, res[0]["reason"])
        self.same_as_delivery(qid, [self.user], res)

    @unittest.skipUnless(IS_ROOT, "needs root's .forward")
    def test_command_as_root_refused_as_in_delivery(self):
        # root's .forward commands run as default_privs; with none usable
        # they would run as root, which a delivery refuses: so does verify.
        self.inst.reload(params={"default_privs": "nosuchprivs-vfy"})
        with open(os.path.join(self.fwd_dir, "root.forward"), "w") as f:
            f.write("\"|echo ran >> %s/cmd-ran\"\n" % self.out)
        qid = self.queue(["root"])
        wait_for(lambda: self.request(qid, ["root"], verify=1)[0]["state"] == "deferred",
                 timeout=15, what="default_privs changed")
        qid, res = self.verify(["root"], [
            ("deferred", "4.3.0", "cannot change to user id 0: refusing to deliver as root")])
        self.same_as_delivery(qid, ["root"], res)

    def test_bounces(self):
        rcpts = ["nosuchuser-vfy", "loop1", "nobody@example.test", "someone@elsewhere.test",
                 "@mx.example.test"]
        qid, res = self.verify(rcpts, [
            ("bounced", "5.1.1", "user unknown"),
            ("bounced", "5.4.6", "mail forwarding loop: loop1 -> loop2 -> loop3 -> loop1"),
            ("bounced", "5.1.1", "user unknown"),
            ("bounced", "5.1.2", "not a local destination"),
            ("bounced", "5.1.3", "bad address syntax"),
        ])
        self.same_as_delivery(qid, rcpts, res)

    def test_mail_to_files_restricted_as_in_delivery(self):
        with open(self.include, "a") as f:
            f.write("%s/inc-box\n" % self.out)
        qid, res = self.verify(["inc"], [("bounced", "5.7.1", "allow_mail_to_files")])
        self.same_as_delivery(qid, ["inc"], res)

    def test_mailbox_command(self):
        self.inst.reload(params={"mailbox_command": "echo ran >> %s/cmd-ran" % self.out})
        qid = self.queue([self.user])

        def switched():
            res = self.request(qid, [self.user], verify=1)
            return "delivers to command" in res[0]["reason"]
        wait_for(switched, timeout=15, what="mailbox_command in use")
        self.verify([self.user], [("delivered", "2.0.0",
                                   "delivers to command: echo ran >> %s/cmd-ran" % self.out)])

    def written(self):
        """How many copies the mailbox, the command, the file, the forward
        and the virtual mailbox got."""
        def count(path):
            try:
                with open(path, "rb") as f:
                    return f.read().count(b"\nSubject: probe\n")
            except FileNotFoundError:
                return 0
        try:
            with open(os.path.join(self.out, "cmd-ran")) as f:
                ran = f.read().count("ran\n")
        except FileNotFoundError:
            ran = 0
        new = os.path.join(self.vbase, "example.test", "alice", "Maildir", "new")
        return (count(self.mbox), ran, count(os.path.join(self.out, "box")),
                len(os.listdir(os.path.join(self.inst.spool, "incoming"))),
                len(os.listdir(new)) if os.path.isdir(new) else 0)

    def test_flag_is_per_request_on_one_connection(self):
        rcpts = [self.user, "cmd", "file", "far", "alice@example.test"]
        qid = self.queue(rcpts)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(60)
        s.connect(os.path.join(self.inst.spool, "private", "local"))
        try:
            # verify, deliver (no attribute), verify, deliver (verify = 0)
            for verify, copies in ((1, 0), (None, 1), (1, 1), (0, 2)):
                before = self.snapshot()
                res = self.request(qid, rcpts, verify=verify, sock=s)
                self.assertEqual([r["state"] for r in res], ["delivered"] * 5, (verify, res))
                self.assertEqual(self.written(), (copies,) * 5, verify)
                if verify == 1:
                    self.assertEqual(self.snapshot(), before)
                    self.assertEqual([r["reason"].split(" ")[0] for r in res],
                                     ["delivers"] * 3 + ["forwards", "delivers"], res)
                else:
                    self.assertEqual(res[0]["reason"], "delivered to mailbox", res)
                    self.assertTrue(res[3]["reason"].startswith("forwarded as "), res)
        finally:
            s.close()

    def test_verify_message_in_a_plain_request(self):
        # A queue file marked as a verify message (a probe) is only ever
        # verified, even if the request forgets to say so.
        qid = self.queue([self.user, "cmd"])
        path = os.path.join(self.inst.spool, "active", qid)
        with open(path, "rb") as f:
            data = f.read()
        magic = b"POSTERN-QUEUE 1\n"
        self.assertTrue(data.startswith(magic))
        (length,) = struct.unpack(">I", data[len(magic):len(magic) + 4])
        name, env = decode_record(data[len(magic) + 4:len(magic) + 4 + length])
        self.assertEqual(name, "envelope")
        env["verify"] = "probe"
        with open(path, "wb") as f:
            f.write(magic + encode_record(name, list(env.items())) +
                    data[len(magic) + 4 + length:])
        before = self.snapshot()
        res = self.request(qid, [self.user, "cmd"])
        self.assertEqual([(r["state"], r["reason"]) for r in res],
                         [("delivered", "delivers to mailbox"),
                          ("delivered", "delivers to command: echo ran >> %s/cmd-ran"
                           % self.out)])
        self.assertEqual(self.snapshot(), before)
        self.inst.wait_log("%s: deliver request without verify for a verify message" % qid)

    def test_malformed_verify_not_answered(self):
        qid = self.queue([self.user])
        for value in ("1", 2, -1):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(10)
            s.connect(os.path.join(self.inst.spool, "private", "local"))
            s.sendall(encode_record("deliver", [
                ("queue_id", qid), ("queue_name", "active"), ("sender", SENDER),
                ("rcpt", self.user + "@mx.example.test"), ("index", 0), ("verify", value)]))
            self.assertEqual(s.recv(10), b"")
            s.close()
        self.assertFalse(os.path.exists(self.mbox))
        res = self.request(qid, [self.user], verify=1)
        self.assertEqual(res[0]["reason"], "delivers to mailbox")


if __name__ == "__main__":
    unittest.main()

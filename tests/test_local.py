"""local: delivery into virtual and system users' Maildirs with Return-Path
and Delivered-To, unknown users, forwarding loops, non-local domains,
unwritable mailboxes (deferred) and the qmgr protocol (one result per
recipient, then done), spoken directly over private/local."""

import os
import pwd
import shutil
import socket
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import (IS_ROOT, InstanceTestCase, add_test_user,  # noqa: E402
                          encode_record, read_record, wait_for)

LOCAL_SERVICE = "local unix - n n - - local"
MESSAGE = "From: bob@remote.test\r\nSubject: hi\r\n\r\nhello there\r\n"


def queue_active(inst, rcpts, sender, message):
    """Write a message straight into inst's active queue; its queue id."""
    cmd = [inst.program("svc_queue_writer"), "-s", sender, "-m", message, "-q", "active"]
    for r in rcpts:
        cmd += ["-r", r]
    result = subprocess.run(cmd + [inst.spool], capture_output=True, text=True, timeout=30,
                            check=True)
    return result.stdout.strip()


def deliver_request(spool, queue_id, rcpts, sender, timeout=30, verify=None, sock=None):
    """Send local one deliver request as qmgr does (the recipients at
    indexes 0...); return ({index: result attrs}, whether "done" came).
    verify: None sends no verify attribute, else its value (1: a verify
    request). sock: a connection to keep using (left open), else a new
    one is made and closed."""
    attrs = [("queue_id", queue_id), ("queue_name", "active"), ("sender", sender)]
    for i, r in enumerate(rcpts):
        attrs += [("rcpt", r), ("index", i)]
    if verify is not None:
        attrs.append(("verify", verify))
    s = sock
    if s is None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(os.path.join(spool, "private", "local"))
    s.sendall(encode_record("deliver", attrs))
    results, done = {}, False
    try:
        while not done:
            name, rec = read_record(s)
            if name == "result":
                results[rec["index"]] = rec
            elif name == "done":
                done = True
            else:
                raise AssertionError("unexpected record %r" % name)
    except EOFError:
        pass
    finally:
        if sock is None:
            s.close()
    return results, done


class LocalTest(InstanceTestCase):
    def setUp(self):
        self.inst = self.instance(start=False, services=[LOCAL_SERVICE])
        self.vbase = os.path.join(self.inst.base, "vmail")
        os.mkdir(self.vbase, 0o755)
        if IS_ROOT:
            vmail = pwd.getpwnam("vmail")
            os.chown(self.vbase, vmail.pw_uid, vmail.pw_gid)
        self.inst.params.update({
            "virtual_mailbox_domains": "example.test",
            "virtual_mailbox_base": self.vbase,
            "mydestination": "mx.example.test, localhost",
        })
        self.inst.write_config()
        for user in ("alice@example.test", "carol@example.test"):
            subprocess.run([self.inst.program("mailctl"), "-c", self.inst.etc, "user", "add",
                            user], input="pw\n", text=True, capture_output=True, timeout=60,
                           check=True)
        self.inst.start()

    def queue(self, rcpts, sender="bob@remote.test", message=MESSAGE):
        return queue_active(self.inst, rcpts, sender, message)

    def deliver(self, queue_id, rcpts, sender="bob@remote.test"):
        """Send one request; return ({index: result attrs}, saw_done)."""
        return deliver_request(self.inst.spool, queue_id, rcpts, sender)

    def maildir_messages(self, maildir):
        new = os.path.join(maildir, "new")
        return [open(os.path.join(new, n), "rb").read() for n in sorted(os.listdir(new))]

    def test_virtual_delivery(self):
        qid = self.queue(["alice@example.test"])
        results, done = self.deliver(qid, ["alice@example.test"])
        self.assertTrue(done)
        self.assertEqual(results[0]["state"], "delivered", results)
        self.assertEqual(results[0]["status"], "2.0.0")
        maildir = os.path.join(self.vbase, "example.test", "alice", "Maildir")
        msgs = self.maildir_messages(maildir)
        self.assertEqual(len(msgs), 1)
        self.assertTrue(msgs[0].startswith(
            b"Return-Path: <bob@remote.test>\nDelivered-To: alice@example.test\n"
            b"From: bob@remote.test\n"), msgs[0])
        self.assertTrue(msgs[0].endswith(b"\nhello there\n"))
        for sub in ("tmp", "cur"):
            self.assertEqual(os.listdir(os.path.join(maildir, sub)), [])
        if IS_ROOT:
            vmail = pwd.getpwnam("vmail")
            for path in (maildir, os.path.join(maildir, "new", os.listdir(maildir + "/new")[0])):
                self.assertEqual(os.stat(path).st_uid, vmail.pw_uid)
        # The result went to "qmgr" (this test), which logs it: local does not.
        self.assertNotIn("%s: to=<alice@example.test>, relay=local, status=" % qid,
                         self.inst.read_log())

    def test_null_sender_and_several_recipients(self):
        rcpts = ["alice@example.test", "nobody-here@example.test", "Carol@Example.Test",
                 "someone@elsewhere.test"]
        qid = self.queue(rcpts, sender="")
        results, done = self.deliver(qid, rcpts, sender="")
        self.assertTrue(done)
        self.assertEqual([results[i]["state"] for i in range(4)],
                         ["delivered", "bounced", "delivered", "bounced"])
        self.assertEqual(results[1]["status"], "5.1.1")
        self.assertIn("user unknown", results[1]["reason"])
        self.assertEqual(results[3]["status"], "5.1.2")
        self.assertIn("not a local destination", results[3]["reason"])
        carol = self.maildir_messages(
            os.path.join(self.vbase, "example.test", "carol", "Maildir"))
        self.assertTrue(carol[0].startswith(
            b"Return-Path: <>\nDelivered-To: carol@example.test\n"))
        self.assertNotIn("%s: to=<nobody-here@example.test>, relay=local, status=" % qid,
                         self.inst.read_log())

    def test_loop(self):
        message = "Delivered-To: other@example.test\r\ndelivered-to:  <ALICE@example.test>\r\n" \
                  "Subject: loop\r\n\r\nbody\r\n"
        qid = self.queue(["alice@example.test", "carol@example.test"], message=message)
        results, done = self.deliver(qid, ["alice@example.test", "carol@example.test"])
        self.assertTrue(done)
        self.assertEqual(results[0]["state"], "bounced")
        self.assertEqual(results[0]["status"], "5.4.6")
        self.assertIn("mail forwarding loop", results[0]["reason"])
        self.assertEqual(results[1]["state"], "delivered")
        # A Delivered-To line in the body is not a loop.
        message = "Subject: x\r\n\r\nDelivered-To: alice@example.test\r\n"
        qid = self.queue(["alice@example.test"], message=message)
        results, _ = self.deliver(qid, ["alice@example.test"])
        self.assertEqual(results[0]["state"], "delivered")
        # Nor in a message without headers; a folded header is one.
        for message, state in (("\r\nDelivered-To: alice@example.test\r\n", "delivered"),
                               ("X: y\r\nDelivered-To:\r\n alice@example.test\r\n", "bounced"),
                               ("Delivered-To: alice@example.test.other\r\n\r\n", "delivered")):
            qid = self.queue(["alice@example.test"], message=message)
            results, _ = self.deliver(qid, ["alice@example.test"])
            self.assertEqual(results[0]["state"], state, message)

    def test_unwritable_mailbox_deferred(self):
        qid = self.queue(["alice@example.test"])
        self.assertEqual(self.deliver(qid, ["alice@example.test"])[0][0]["state"], "delivered")
        maildir = os.path.join(self.vbase, "example.test", "alice", "Maildir")
        os.chmod(maildir, 0o000)
        try:
            qid = self.queue(["alice@example.test"])
            results, done = self.deliver(qid, ["alice@example.test"])
        finally:
            os.chmod(maildir, 0o700)
        self.assertTrue(done)
        self.assertEqual(results[0]["state"], "deferred", results)
        self.assertTrue(results[0]["status"].startswith("4."), results)
        self.assertIn("Permission denied", results[0]["reason"])
        self.assertNotIn("%s: to=<alice@example.test>, relay=local, status=" % qid,
                         self.inst.read_log())

    def test_missing_queue_file_and_mismatch(self):
        results, done = self.deliver("0006412F3A1B2C4D", ["alice@example.test"])
        self.assertTrue(done)
        self.assertEqual(results[0]["state"], "deferred")
        self.assertEqual(results[0]["status"], "4.3.0")
        # A recipient that is not the queue file's recipient at that index.
        qid = self.queue(["alice@example.test"])
        results, _ = self.deliver(qid, ["carol@example.test"])
        self.assertEqual(results[0]["state"], "deferred")
        self.assertEqual(os.path.exists(os.path.join(self.vbase, "example.test", "carol")),
                         False)
        # A malformed request gets no answer, and the service keeps working.
        for junk in (b"\x00\x00\x00\x02\x00x", encode_record("hello", [("a", 1)]),
                     encode_record("deliver", [("queue_id", "../../etc/passwd"),
                                               ("queue_name", "active")])):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(10)
            s.connect(os.path.join(self.inst.spool, "private", "local"))
            s.sendall(junk)
            self.assertEqual(s.recv(10), b"")
            s.close()
        results, _ = self.deliver(qid, ["alice@example.test"])
        self.assertEqual(results[0]["state"], "delivered")

    def test_qmgr_gone_abandons_delivery(self):
        # qmgr sends its request and dies before local gets to it: nobody
        # would record a delivery, so local makes none (the restarted qmgr
        # delivers it once), then serves the next request as usual.
        qid = self.queue(["alice@example.test"])
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(os.path.join(self.inst.spool, "private", "local"))
        s.sendall(encode_record("deliver", [("queue_id", qid), ("queue_name", "active"),
                                            ("rcpt", "alice@example.test"), ("index", 0)]))
        s.close()
        self.inst.wait_log("%s: queue manager went away; delivery stopped" % qid)
        maildir = os.path.join(self.vbase, "example.test", "alice", "Maildir")
        self.assertFalse(os.path.exists(maildir) and os.listdir(os.path.join(maildir, "new")))
        results, done = self.deliver(qid, ["alice@example.test"])
        self.assertTrue(done)
        self.assertEqual(results[0]["state"], "delivered", results)
        self.assertEqual(len(self.maildir_messages(maildir)), 1)
        self.assertEqual(os.listdir(os.path.join(maildir, "tmp")), [])

    @unittest.skipUnless(IS_ROOT, "needs root to create a system user")
    def test_system_user(self):
        home = os.path.join(self.inst.base, "home-local")
        name = add_test_user(self, "pstlocal", home)
        user = pwd.getpwnam(name)
        rcpts = [name + "@mx.example.test", name.upper(), "nosuchuser@localhost"]
        qid = self.queue(rcpts)
        results, done = self.deliver(qid, rcpts)
        self.assertTrue(done)
        self.assertEqual(results[0]["state"], "delivered", results)
        self.assertEqual(results[1]["state"], "delivered", results)
        self.assertEqual(results[2]["state"], "bounced")
        self.assertEqual(results[2]["status"], "5.1.1")
        maildir = os.path.join(home, "Maildir")
        msgs = self.maildir_messages(maildir)
        self.assertEqual(len(msgs), 2)
        self.assertIn(b"Delivered-To: %s@mx.example.test\n" % name.encode(), msgs[0] + msgs[1])
        for path in [maildir] + [os.path.join(maildir, d) for d in ("new", "cur", "tmp")] + \
                [os.path.join(maildir, "new", n) for n in os.listdir(maildir + "/new")]:
            st = os.stat(path)
            self.assertEqual((st.st_uid, st.st_gid), (user.pw_uid, user.pw_gid), path)
        # A home the user cannot write: deferred, never written as root.
        shutil.rmtree(maildir)
        os.chmod(home, 0o555)
        os.chown(home, 0, 0)
        qid = self.queue([name])
        results, _ = self.deliver(qid, [name])
        self.assertEqual(results[0]["state"], "deferred", results)
        self.assertFalse(os.path.exists(maildir))


if __name__ == "__main__":
    unittest.main()

"""Blind carbon copies, as Postfix's always_bcc, sender_bcc_maps and
recipient_bcc_maps: mail received by smtpd (smtplib) and by pickup
(sendmail) is queued with the copies' addresses added as recipients with
NOTIFY=NEVER, each once; the tables are looked up with the address and
then @domain; a table that cannot be read makes smtpd answer 451 and
pickup keep the drop file; mailctl check opens the tables."""

import os
import smtplib
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import InstanceTestCase, free_port, wait_for  # noqa: E402
from test_sendmail import PICKUP, read_queue_file, wakeup  # noqa: E402


class BccTest(InstanceTestCase):
    def setUp(self):
        self.port = free_port()
        self.inst = self.instance(params={
            "mydestination": "mx.example.test",
            "relay_domains": "relay.test archive.test",
            "mynetworks": "192.0.2.0/24",
            "smtpd_peername_lookup": "no",
            "always_bcc": "archive@archive.test",
        }, services=["127.0.0.1:%d inet n - n - - smtpd" % self.port, PICKUP], start=False)
        for name, text in (("sender_bcc", "boss@outside.test  boss-copy@mx.example.test\n"),
                           ("recipient_bcc", "@relay.test  <relay-copy@mx.example.test>\n")):
            path = os.path.join(self.inst.etc, name)
            with open(path, "w") as f:
                f.write(text)
            self.inst.mailctl("map", "build", path, check=True)
            self.inst.params[name + "_maps"] = "lmdb:%s.lmdb" % path
        self.inst.write_config()
        self.inst.start()

    def queued(self, token):
        def find():
            d = os.path.join(self.inst.spool, "incoming")
            for name in os.listdir(d):
                env, rcpts, content = read_queue_file(os.path.join(d, name))
                if token in content:
                    return [(r["address"], r["notify"]) for r in rcpts]
            return None
        return wait_for(find, what="queue file with %r" % token)

    def send(self, sender, rcpts, token):
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as c:
            return c.sendmail(sender, rcpts, "Subject: %s\r\n\r\nbody\r\n" % token)

    def test_smtpd_copies(self):
        self.send("Boss@Outside.test", ["a@relay.test", "b@relay.test"], "token-s1")
        self.assertEqual(self.queued(b"token-s1"), [
            ("a@relay.test", ""), ("b@relay.test", ""),
            ("boss-copy@mx.example.test", "NEVER"), ("relay-copy@mx.example.test", "NEVER"),
            ("archive@archive.test", "NEVER")])
        # A copy's address that is already a recipient is not added again.
        self.send("someone@outside.test", ["archive@archive.test"], "token-s2")
        self.assertEqual(self.queued(b"token-s2"), [("archive@archive.test", "")])

    def test_pickup_copies(self):
        result = subprocess.run([self.inst.program("sendmail"), "-C", self.inst.etc,
                                 "-f", "local@mx.example.test", "c@relay.test"],
                                input=b"Subject: token-p1\n\nbody\n", capture_output=True,
                                timeout=60)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(self.queued(b"token-p1"), [
            ("c@relay.test", ""), ("relay-copy@mx.example.test", "NEVER"),
            ("archive@archive.test", "NEVER")])

    def test_unreadable_table(self):
        os.unlink(os.path.join(self.inst.etc, "sender_bcc.lmdb"))
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as c:
            c.ehlo("client.outside.test")
            self.assertEqual(c.mail("boss@outside.test")[0], 250)
            self.assertEqual(c.rcpt("a@relay.test")[0], 250)
            with self.assertRaises(smtplib.SMTPDataError) as refused:
                c.data(b"Subject: token-u1\r\n\r\nbody\r\n")
        self.assertEqual((refused.exception.smtp_code, refused.exception.smtp_error),
                         (451, b"4.3.0 Error: temporary lookup failure"))
        self.inst.wait_log("a sender_bcc_maps or recipient_bcc_maps table cannot be read")
        result = self.inst.mailctl("check")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("sender_bcc.lmdb", result.stdout + result.stderr)
        # pickup keeps the message until the table is back.
        result = subprocess.run([self.inst.program("sendmail"), "-C", self.inst.etc,
                                 "-f", "local@mx.example.test", "c@relay.test"],
                                input=b"Subject: token-u2\n\nbody\n", capture_output=True,
                                timeout=60)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.inst.wait_log("bcc_maps table cannot be read")
        maildrop = os.path.join(self.inst.spool, "maildrop")
        self.assertEqual(len(os.listdir(maildrop)), 1)
        self.inst.mailctl("map", "build", os.path.join(self.inst.etc, "sender_bcc"),
                          check=True)
        wakeup(os.path.join(self.inst.spool, "public", "pickup"))
        self.assertEqual(self.queued(b"token-u2")[0], ("c@relay.test", ""))


if __name__ == "__main__":
    unittest.main()

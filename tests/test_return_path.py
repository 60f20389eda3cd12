#!/usr/bin/env python3
"""Return-Path and Content-Length fields in the header section of
incoming mail are removed on the way in, by smtpd and by pickup (as
Postfix's cleanup removes them), so that the only Return-Path a mailbox
shows is the one local delivery adds. Sent with smtplib and with
sendmail (pickup's streaming path), then the same with header_checks set
(smtpd's checking path and pickup's buffered path); the delivered
messages are read from the Maildir, raw and with Python's email
package."""

import email
import email.policy
import os
import re
import smtplib
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import InstanceTestCase, free_port, wait_for  # noqa: E402

DOMAIN = "example.test"

# Forged fields in several spellings, one folded over two lines; the body
# mentions them too, and keeps them. (Over SMTP the folded one also has the
# obsolete space before its colon, which sendmail takes for the body.)
FORGED = ("Return-Path: <forged@evil.test>\r\n"
          "From: someone@outside.test\r\n"
          "Content-Length: 3\r\n"
          "return-path%s:\r\n"
          " <folded@evil.test>\r\n"
          "Subject: %s\r\n"
          "RETURN-PATH:<shouting@evil.test>\r\n"
          "X-Return-Path: stays\r\n"
          "\r\n"
          "Return-Path: <in-the-body@outside.test>\r\n"
          "Content-Length: 999\r\n"
          "the end\r\n")


class ReturnPathTest(InstanceTestCase):
    PARAMS = {}

    def setUp(self):
        self.port = free_port()
        inst = self.instance(params={
            "mydestination": "mx.example.test, localhost",
            "virtual_mailbox_domains": DOMAIN,
            "mynetworks": "127.0.0.0/8",
        }, services=[
            "127.0.0.1:%d inet n - n - - smtpd" % self.port,
            "qmgr unix n - n 300 1 qmgr",
            "local unix - n n - - local",
            "pickup unix n - n 60 1 pickup",
        ], start=False)
        self.inst = inst
        self.vmail = inst.add_vmail(["bob@" + DOMAIN])
        for name, value in self.PARAMS.items():
            if "%(etc)s" in value:
                with open(os.path.join(inst.etc, "checks"), "w") as f:
                    f.write("/^X-Never-Seen:/ REJECT not here\n")
            inst.params[name] = value % {"etc": inst.etc}
        inst.write_config()
        inst.start()

    def delivered(self, subject):
        """The message with subject in bob's Maildir, raw but with LF line
        ends (whichever the Maildir file has)."""
        new = os.path.join(self.vmail, DOMAIN, "bob", "Maildir", "new")

        def find():
            for name in os.listdir(new) if os.path.isdir(new) else []:
                with open(os.path.join(new, name), "rb") as f:
                    data = f.read().replace(b"\r\n", b"\n")
                if ("Subject: %s\n" % subject).encode() in data:
                    return data
            return None
        return wait_for(find, timeout=30, what="the message " + subject)

    def check_one_return_path(self, data, sender):
        head, _, body = data.partition(b"\n\n")
        lines = head.decode().split("\n")
        named = [line for line in lines
                 if re.match(r"(?i)(return-path|content-length)[ \t]*:", line)]
        self.assertEqual(named, ["Return-Path: <%s>" % sender], head.decode())
        self.assertEqual(lines[0], "Return-Path: <%s>" % sender)
        self.assertNotIn(b"evil.test", head)
        self.assertIn("X-Return-Path: stays", lines)
        self.assertEqual(body, b"Return-Path: <in-the-body@outside.test>\n"
                               b"Content-Length: 999\nthe end\n")
        msg = email.message_from_bytes(data, policy=email.policy.default)
        self.assertEqual(msg.get_all("Return-Path"), ["<%s>" % sender])
        self.assertIsNone(msg.get_all("Content-Length"))
        self.assertEqual(msg["From"], "someone@outside.test")

    def test_smtp(self):
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as c:
            c.sendmail("alice@outside.test", ["bob@" + DOMAIN], FORGED % (" ", "by-smtp"))
        self.check_one_return_path(self.delivered("by-smtp"), "alice@outside.test")

    def test_sendmail(self):
        subprocess.run([self.inst.program("sendmail"), "-C", self.inst.etc,
                        "-f", "carol@" + DOMAIN, "bob@" + DOMAIN],
                       input=(FORGED % ("", "by-sendmail")).replace("\r\n", "\n").encode(),
                       check=True, timeout=60)
        self.check_one_return_path(self.delivered("by-sendmail"), "carol@" + DOMAIN)
        # A message that is all header.
        subprocess.run([self.inst.program("sendmail"), "-C", self.inst.etc,
                        "-f", "carol@" + DOMAIN, "bob@" + DOMAIN],
                       input=b"Subject: only-header\nReturn-Path: <forged@evil.test>",
                       check=True, timeout=60)
        data = self.delivered("only-header")
        self.assertEqual(data.count(b"Return-Path:"), 1, data)
        self.assertTrue(data.startswith(b"Return-Path: <carol@%s>\n" % DOMAIN.encode()))


class ReturnPathCheckedTest(ReturnPathTest):
    """The same with header_checks: smtpd checks the held header section,
    and pickup holds the whole message in memory."""
    PARAMS = {"header_checks": "regexp:%(etc)s/checks"}


if __name__ == "__main__":
    unittest.main(verbosity=2)

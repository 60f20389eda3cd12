"""smtp_generic_maps (Postfix's generic(5)): mail that leaves by SMTP has
its envelope sender, its recipients and the addresses in its address
header fields rewritten (display names, comments and groups kept; the
body and other fields untouched), while the same message delivered
locally keeps its original addresses. A table that cannot be opened
defers the mail instead of sending unrewritten addresses, and mailctl
check names it."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import Instance, InstanceTestCase, wait_for  # noqa: E402
from mail_peers import (SENDER_SERVICES, RecordingServer, free_port_on,  # noqa: E402
                        maildir_messages, sender_params, submit)

GENERIC = """\
# generic(5): local addresses made valid on the Internet
root@localhost.localdomain  me@example.com
@localdomain.local          office@example.com
"""

MESSAGE = (
    b"From: Charlie Root <root@localhost.localdomain>\n"
    b"To: \"Doe, Jane\" <jane@localdomain.local>,\n"
    b"  Remote Friend <friend@far.example>\n"
    b"Cc: team: a@virt.example;, other (the comment) <x@localdomain.local>\n"
    b"Reply-To: root@localhost.localdomain\n"
    b"Subject: report for root@localhost.localdomain\n"
    b"X-Origin: root@localhost.localdomain\n"
    b"\n"
    b"From: root@localhost.localdomain (a body line, not a header)\n"
    b"Write to jane@localdomain.local.\n"
)


def text_of(data):
    """A message (bytes, or text as the recording server decodes it:
    latin-1) as text with LF line ends."""
    if isinstance(data, str):
        data = data.encode("latin-1")
    return data.decode("utf-8", "replace").replace("\r\n", "\n")


def headers_of(data):
    """The header section of a message."""
    return text_of(data).split("\n\n", 1)[0]


def body_of(data):
    return text_of(data).split("\n\n", 1)[1]


class SmtpGenericMapsTest(InstanceTestCase):
    def setUp(self):
        self.port = free_port_on("127.0.0.2", "127.0.0.3")
        self.receiver = None

    def receive(self, ehlo_lines=("PIPELINING", "8BITMIME", "SIZE 100000")):
        self.receiver = RecordingServer("127.0.0.3", self.port, ehlo_lines=ehlo_lines)
        self.addCleanup(self.receiver.stop)

    def generic_table(self, inst):
        path = os.path.join(inst.etc, "generic")
        with open(path, "w") as f:
            f.write(GENERIC)
        inst.mailctl("map", "build", path, check=True)
        inst.params["smtp_generic_maps"] = "lmdb:" + path
        inst.write_config()

    def sender(self, **params):
        inst = Instance(params=sender_params(None, self.port,
                                             relayhost="[127.0.0.3]:%d" % self.port,
                                             virtual_mailbox_domains="virt.example",
                                             **params),
                        services=SENDER_SERVICES)
        self.addCleanup(inst.cleanup)
        vmail = inst.add_vmail(["a@virt.example"])
        return inst, vmail

    def test_rewritten_on_the_way_out_only(self):
        self.receive()
        inst, vmail = self.sender()
        self.generic_table(inst)
        check = inst.mailctl("check")
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        inst.start()
        submit(inst, "root@localhost.localdomain",
               ["jane@localdomain.local", "friend@far.example", "a@virt.example"], MESSAGE)
        try:
            wait_for(lambda: self.receiver.done() == 1, timeout=30, what="the relayed message")
        except AssertionError:
            print(inst.read_log())
            raise
        sent = self.receiver.messages[0]
        # The envelope: sender and the mapped recipient rewritten, the
        # unmapped one as it was.
        self.assertEqual(sent["sender"], "me@example.com")
        self.assertEqual(sorted(sent["rcpts"]), ["friend@far.example", "office@example.com"])
        mail_from = [c for c in self.receiver.commands if c.upper().startswith("MAIL FROM")]
        self.assertTrue(mail_from[0].startswith("MAIL FROM:<me@example.com>"), mail_from)
        # The header: only the addr-specs of the address fields changed.
        head = headers_of(sent["data"])
        self.assertIn("\nFrom: Charlie Root <me@example.com>\n", "\n" + head + "\n")
        self.assertIn("To: \"Doe, Jane\" <office@example.com>,\n"
                      "  Remote Friend <friend@far.example>\n", head + "\n")
        self.assertIn("Cc: team: a@virt.example;, other (the comment) <office@example.com>\n",
                      head + "\n")
        self.assertIn("Reply-To: me@example.com\n", head + "\n")
        self.assertIn("Subject: report for root@localhost.localdomain\n", head + "\n")
        self.assertIn("X-Origin: root@localhost.localdomain\n", head + "\n")
        self.assertNotIn("<root@localhost.localdomain>", head)
        # The body as it was (the recording server keeps the data without
        # its last line end).
        self.assertEqual(body_of(sent["data"]), body_of(MESSAGE).rstrip("\n"))
        # The local copy of the same message: nothing rewritten.
        wait_for(lambda: len(maildir_messages(vmail, "a@virt.example")) == 1, timeout=30,
                 what="the local delivery")
        local = maildir_messages(vmail, "a@virt.example")[0]
        local_head = headers_of(local)
        self.assertIn("From: Charlie Root <root@localhost.localdomain>\n", local_head + "\n")
        self.assertIn("To: \"Doe, Jane\" <jane@localdomain.local>,\n", local_head + "\n")
        self.assertIn("Reply-To: root@localhost.localdomain\n", local_head + "\n")
        self.assertEqual(body_of(local), body_of(MESSAGE))
        self.assertRegex(local_head, r"Return-Path: <root@localhost\.localdomain>")
        # Logs keep the original recipients.
        inst.wait_log("to=<jane@localdomain.local>, relay=127.0.0.3", timeout=10)
        inst.wait_log("to=<friend@far.example>, relay=127.0.0.3", timeout=10)

    def test_with_8bit_downgrade(self):
        """To a server without 8BITMIME the rewritten message is also
        converted to 7-bit MIME: both transformations apply."""
        self.receive(ehlo_lines=("PIPELINING",))
        inst, _ = self.sender()
        self.generic_table(inst)
        inst.start()
        message = ("From: Jürgen <root@localhost.localdomain>\n"
                   "To: friend@far.example\n"
                   "MIME-Version: 1.0\n"
                   "Content-Type: text/plain; charset=utf-8\n"
                   "Content-Transfer-Encoding: 8bit\n"
                   "\n"
                   "Grüße from root@localhost.localdomain\n").encode()
        submit(inst, "root@localhost.localdomain", ["friend@far.example"], message,
               extra_args=["-B", "8BITMIME"])
        wait_for(lambda: self.receiver.done() == 1, timeout=30, what="the relayed message")
        sent = self.receiver.messages[0]
        self.assertEqual(sent["sender"], "me@example.com")
        head = headers_of(sent["data"])
        # A header field's 8-bit text cannot be converted: it stays.
        self.assertIn("From: Jürgen <me@example.com>\n", head + "\n")
        self.assertIn("Content-Transfer-Encoding: quoted-printable", head)
        self.assertIn("Gr=C3=BC=C3=9Fe from root@localhost.localdomain", body_of(sent["data"]))

    def test_unreadable_table_defers(self):
        self.receive()
        inst, _ = self.sender()
        missing = os.path.join(inst.etc, "no-such-generic")
        inst.params["smtp_generic_maps"] = "lmdb:" + missing
        inst.write_config()
        check = inst.mailctl("check")
        self.assertNotEqual(check.returncode, 0)
        self.assertRegex(check.stdout, r"main\.conf:\d+: error: open .*no-such-generic\.lmdb")
        inst.start()
        submit(inst, "root@localhost.localdomain", ["friend@far.example"],
               b"From: root@localhost.localdomain\nSubject: x\n\nx\n")
        inst.wait_log("to=<friend@far.example>", timeout=30)
        self.assertRegex(inst.read_log(), r"to=<friend@far\.example>, .*dsn=4\.3\.0, "
                         r"status=deferred \(smtp_generic_maps: ")
        self.assertEqual(self.receiver.done(), 0)


if __name__ == "__main__":
    unittest.main()

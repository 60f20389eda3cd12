"""smtp_header_checks (Postfix's restricted header_checks for the SMTP
client): mail that leaves by SMTP has its header section edited — an
internal Received header IGNOREd, a header REPLACEd with $1, another
PREPENDed to, one WARNed about — while the same message delivered
locally, and the queue file, keep every original line. Together with
smtp_generic_maps both apply. A REJECT there is logged as unsupported
and the mail still goes; a table that cannot be read defers the mail;
mailctl check takes the parameter."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import Instance, InstanceTestCase, wait_for  # noqa: E402
from mail_peers import (SENDER_SERVICES, RecordingServer, free_port_on,  # noqa: E402
                        maildir_messages, sender_params, submit)

CHECKS = r"""# smtp_header_checks: what internal mail should not show outside
/^Received: from [^ ]*\.internal\.example/   IGNORE
/^X-Mailer: (.*)$/                         REPLACE X-Mailer: hidden ($1)
/^X-Tag:/                                  PREPEND X-Tagged: on the way out
/^X-Odd:/                                  WARN odd header going out
/^X-Stop:/                                 REJECT no
"""

MESSAGE = (
    b"Received: from laptop.internal.example (laptop.internal.example [10.0.0.7])\n"
    b"\tby mail.internal.example with ESMTPSA; Thu, 3 Dec 2026 10:00:00 +0000\n"
    b"Received: from gateway.example (gateway.example [192.0.2.1])\n"
    b"\tby mail.internal.example; Thu, 3 Dec 2026 10:00:01 +0000\n"
    b"From: root@localhost.localdomain\n"
    b"To: friend@far.example\n"
    b"Subject: report\n"
    b"X-Mailer: Secret Client 1.0\n"
    b"X-Tag: t\n"
    b"X-Odd: yes\n"
    b"X-Stop: please\n"
    b"\n"
    b"Received: from body.internal.example (a body line, not a header)\n"
    b"the end\n"
)


def text_of(data):
    if isinstance(data, str):
        data = data.encode("latin-1")
    return data.decode("utf-8", "replace").replace("\r\n", "\n")


class SmtpHeaderChecksTest(InstanceTestCase):
    def setUp(self):
        self.port = free_port_on("127.0.0.2", "127.0.0.3")
        self.receiver = RecordingServer("127.0.0.3", self.port)
        self.addCleanup(self.receiver.stop)

    def sender(self, checks=CHECKS, **params):
        inst = Instance(params=sender_params(None, self.port,
                                             relayhost="[127.0.0.3]:%d" % self.port,
                                             virtual_mailbox_domains="virt.example",
                                             **params),
                        services=SENDER_SERVICES)
        self.addCleanup(inst.cleanup)
        vmail = inst.add_vmail(["a@virt.example"])
        path = os.path.join(inst.etc, "smtp_header_checks")
        with open(path, "w") as f:
            f.write(checks)
        inst.params["smtp_header_checks"] = "regexp:" + path
        inst.write_config()
        return inst, vmail

    def test_edited_on_the_way_out_only(self):
        inst, vmail = self.sender()
        check = inst.mailctl("check")
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        inst.start()
        submit(inst, "root@localhost.localdomain", ["friend@far.example", "a@virt.example"],
               MESSAGE)
        wait_for(lambda: self.receiver.done() == 1, timeout=30, what="the relayed message")
        sent = text_of(self.receiver.messages[0]["data"])
        head, _, body = sent.partition("\n\n")
        self.assertNotIn("laptop.internal.example", head)
        self.assertIn("Received: from gateway.example (gateway.example [192.0.2.1])\n"
                      "\tby mail.internal.example;", head)
        self.assertIn("\nX-Mailer: hidden (Secret Client 1.0)\n", head)
        self.assertIn("\nX-Tagged: on the way out\nX-Tag: t\n", head)
        self.assertIn("\nX-Odd: yes\n", head)
        self.assertIn("\nX-Stop: please", head)     # REJECT: not done on the way out
        self.assertTrue(body.startswith("Received: from body.internal.example"), body)
        inst.wait_log("warning: header X-Odd: yes from local; from=<root@localhost.localdomain> "
                      "to=<friend@far.example>: odd header going out")
        inst.wait_log('smtp_header_checks: "REJECT no" is not supported on the way out; '
                      "ignored (X-Stop: please)")
        inst.wait_log("to=<friend@far.example>, relay=127.0.0.3", timeout=10)
        # The local copy (and so the queue file) kept every line.
        wait_for(lambda: maildir_messages(vmail, "a@virt.example"), timeout=30,
                 what="the local delivery")
        local = text_of(maildir_messages(vmail, "a@virt.example")[0])
        self.assertIn("laptop.internal.example", local)
        self.assertIn("X-Mailer: Secret Client 1.0\n", local)
        self.assertNotIn("X-Tagged", local)

    def test_with_generic_maps(self):
        inst, _ = self.sender()
        path = os.path.join(inst.etc, "generic")
        with open(path, "w") as f:
            f.write("root@localhost.localdomain  me@example.com\n")
        inst.mailctl("map", "build", path, check=True)
        inst.params["smtp_generic_maps"] = "lmdb:" + path
        inst.write_config()
        inst.start()
        submit(inst, "root@localhost.localdomain", ["friend@far.example"], MESSAGE)
        wait_for(lambda: self.receiver.done() == 1, timeout=30, what="the relayed message")
        head = text_of(self.receiver.messages[0]["data"]).partition("\n\n")[0]
        self.assertIn("\nFrom: me@example.com\n", head)
        self.assertIn("\nX-Mailer: hidden (Secret Client 1.0)\n", head)
        self.assertNotIn("laptop.internal.example", head)
        self.assertEqual(self.receiver.messages[0]["sender"], "me@example.com")

    def test_unreadable_table_defers(self):
        inst, _ = self.sender()
        inst.params["smtp_header_checks"] = "regexp:%s/missing" % inst.etc
        inst.write_config()
        inst.start()
        submit(inst, "root@localhost.localdomain", ["friend@far.example"], MESSAGE)
        inst.wait_log("to=<friend@far.example>", timeout=30)
        self.assertRegex(inst.read_log(), r"to=<friend@far\.example>, .*status=deferred "
                         r"\(smtp_header_checks: a table cannot be read\)")
        self.assertEqual(self.receiver.done(), 0)


if __name__ == "__main__":
    unittest.main()

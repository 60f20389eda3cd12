"""Log summarisers written for Postfix read Postern's log: Debian's
pflogsumm, told the syslog name (--syslog-name=postern), counts what a
real instance did: messages received and delivered into a Maildir, one
deferred (its relay refuses connections), one rejected at RCPT, one held
and one discarded by access tables, each with its sender and recipient."""

import os
import re
import shutil
import smtplib
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mail_peers import SENDER_SERVICES  # noqa: E402
from postern_test import InstanceTestCase, free_port, wait_for  # noqa: E402

MESSAGE = "From: %s\r\nTo: %s\r\nSubject: summary\r\n\r\nbody\r\n"


@unittest.skipUnless(shutil.which("pflogsumm"), "pflogsumm is not installed")
class PflogsummTest(InstanceTestCase):
    def setUp(self):
        self.port = free_port()
        closed = free_port()  # nothing listens there: the relay refuses
        self.inst = self.instance(params={
            "mydestination": "mx.example.test",
            "virtual_mailbox_domains": "example.test",
            "mynetworks": "127.0.0.0/8",
            "relayhost": "[127.0.0.1]:%d" % closed,
            "smtp_connect_timeout": "5s",
            "smtpd_peername_lookup": "no",
            "minimal_backoff_time": "1h",
        }, services=["127.0.0.1:%d inet n - n - - smtpd" % self.port] + SENDER_SERVICES,
            start=False)
        self.inst.params["smtpd_sender_access_maps"] = "lmdb:%s/sender.lmdb" % self.inst.etc
        self.vmail = self.inst.add_vmail(["alice@example.test"])
        path = os.path.join(self.inst.etc, "sender")
        with open(path, "w") as f:
            f.write("spam@bad.test REJECT\nhold@outside.test HOLD review\n"
                    "drop@outside.test DISCARD\n")
        self.inst.mailctl("map", "build", path, check=True)
        self.inst.start()

    def send(self, sender, rcpt):
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as c:
            return c.sendmail(sender, [rcpt], MESSAGE % (sender, rcpt))

    def test_grand_totals(self):
        for i in range(3):
            self.send("bob@outside.test", "alice@example.test")
        self.send("bob@outside.test", "carol@remote.test")  # deferred: relay down
        with self.assertRaises(smtplib.SMTPRecipientsRefused):
            self.send("spam@bad.test", "alice@example.test")
        self.send("hold@outside.test", "alice@example.test")
        self.send("drop@outside.test", "alice@example.test")
        new = os.path.join(self.vmail, "example.test", "alice", "Maildir", "new")
        wait_for(lambda: os.path.isdir(new) and len(os.listdir(new)) == 3, timeout=30,
                 what="three messages in the Maildir")
        self.inst.wait_log("status=deferred", timeout=30)
        out = subprocess.run(["pflogsumm", "--syslog-name=postern", self.inst.logfile],
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        totals = {}
        for count, what in re.findall(r"(?m)^\s+(\d+)\s+(received|delivered|deferred|bounced|"
                                      r"rejected|held|discarded)\b", out.stdout):
            totals.setdefault(what, int(count))
        # received: every message the clients sent and smtpd took (the
        # discarded one too, as Postfix counts it)
        self.assertEqual(totals, {"received": 6, "delivered": 3, "deferred": 1, "bounced": 0,
                                  "rejected": 1, "held": 1, "discarded": 1},
                         out.stdout + self.inst.read_log())
        # Per domain: three sent to example.test, one deferral to remote.test.
        self.assertRegex(out.stdout, r"(?m)^\s+3\s+\d+\s+0\s.*\sexample\.test$")
        self.assertRegex(out.stdout, r"(?m)^\s+0\s+0\s+1\s.*\sremote\.test$")
        self.assertRegex(out.stdout, r"(?m)^\s+1\s+127\.0\.0\.1\[127\.0\.0\.1\]:\d+: "
                                     r"Connection refused$")
        self.assertRegex(out.stdout, r"(?m)^\s+3\s+alice@example\.test$")


if __name__ == "__main__":
    unittest.main()

"""soft_bounce = yes, Postfix's safety net: smtpd answers 4NN (and 4.X.Y)
where it would answer 5NN; a recipient that delivery would bounce (an
unknown virtual user) is deferred with its status made 4.X.Y and stays in
the queue, and no report goes to the sender; mail from sendmail that
header_checks would return waits in the hold queue instead, and a
recipient unknown in a virtual alias domain is queued to be deferred,
not returned. Driven with
smtplib and sendmail through smtpd, pickup, qmgr and local."""

import json
import os
import smtplib
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import InstanceTestCase, free_port, wait_for  # noqa: E402

DOMAIN = "example.test"


class SoftBounceTest(InstanceTestCase):
    def setUp(self):
        self.port = free_port()
        inst = self.instance(params={
            "mydestination": "mx.example.test",
            "virtual_mailbox_domains": DOMAIN,
            "mynetworks": "192.0.2.0/24",
            "smtpd_peername_lookup": "no",
            "soft_bounce": "yes",
            "minimal_backoff_time": "1h",
            "maximal_backoff_time": "2h",
        }, services=[
            "127.0.0.1:%d inet n - n - - smtpd" % self.port,
            "qmgr unix n - n 300 1 qmgr",
            "local unix - n n - - local",
            "pickup unix n - n 60 1 pickup",
        ], start=False)
        self.inst = inst
        with open(os.path.join(inst.etc, "header_checks"), "w") as f:
            f.write("/^Subject:.*forbidden/ REJECT 5.7.1 not this\n")
        inst.params["header_checks"] = "regexp:%s/header_checks" % inst.etc
        aliases = os.path.join(inst.etc, "virtual")
        with open(aliases, "w") as f:
            f.write("info@alias.test  alice@example.test\n")
        inst.mailctl("map", "build", aliases, check=True)
        inst.params["virtual_alias_maps"] = "lmdb:%s.lmdb" % aliases
        inst.params["virtual_alias_domains"] = "alias.test"
        self.vmail = inst.add_vmail(["alice@" + DOMAIN])
        inst.start()

    def sendmail(self, rcpt, body):
        subprocess.run([self.inst.program("sendmail"), "-C", self.inst.etc,
                        "-f", "alice@" + DOMAIN, rcpt], input=body, check=True, timeout=60)

    def queue(self):
        result = self.inst.mailctl("--json", "queue", "list", check=True)
        return json.loads(result.stdout)["messages"]

    def alice_mail(self):
        new = os.path.join(self.vmail, DOMAIN, "alice", "Maildir", "new")
        return os.listdir(new) if os.path.isdir(new) else []

    def test_smtpd_answers_4nn(self):
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as c:
            c.ehlo("client.outside.test")
            self.assertEqual(c.mail("someone@outside.test")[0], 250)
            code, text = c.rcpt("nobody@" + DOMAIN)
            self.assertEqual((code, text.decode()), (
                450, "4.1.1 <nobody@example.test>: Recipient address rejected: User unknown "
                     "in virtual mailbox table"))
            code, text = c.rcpt("x@elsewhere.test")
            self.assertEqual((code, text.decode()),
                             (454, "4.7.1 <x@elsewhere.test>: Relay access denied"))
            code, text = c.docmd("FROBNICATE")
            self.assertEqual(str(code)[0], "4", text)
            self.assertEqual(c.rcpt("alice@" + DOMAIN)[0], 250)

    def test_bounce_becomes_deferral(self):
        self.sendmail("nobody@" + DOMAIN, b"Subject: lost\n\nhello\n")
        self.inst.wait_log("to=<nobody@example.test>", timeout=30)
        wait_for(lambda: self.queue() and self.queue()[0]["queue"] == "deferred",
                 what="the message deferred")
        log = self.inst.read_log()
        self.assertRegex(log, r"to=<nobody@example\.test>, relay=\S+, delay=\d+, "
                              r"dsn=4\.1\.1, status=deferred")
        self.assertNotIn("status=bounced", log)
        time.sleep(1)
        self.assertEqual(self.alice_mail(), [])  # no report to the sender

    def test_returned_local_mail_is_held(self):
        self.sendmail("alice@" + DOMAIN, b"Subject: forbidden words\n\nhello\n")
        wait_for(lambda: self.queue() and self.queue()[0]["queue"] == "hold",
                 what="the message on hold")
        self.inst.wait_log("held instead of returned (soft_bounce): soft_bounce: 5.7.1 not this")
        time.sleep(1)
        self.assertEqual(self.alice_mail(), [])


    def test_unknown_alias_from_sendmail_is_kept(self):
        self.sendmail("nobody@alias.test", b"Subject: to an alias domain\n\nhello\n")
        self.inst.wait_log("<nobody@alias.test>: ", timeout=30)
        self.inst.wait_log("kept for a later try (soft_bounce)")
        wait_for(lambda: self.queue() and self.queue()[0]["queue"] == "deferred",
                 what="the message deferred")
        self.assertRegex(self.inst.read_log(), r"to=<nobody@alias\.test>, relay=\S+, "
                                               r"delay=\d+, dsn=4\.\d\.\d+, status=deferred")
        time.sleep(1)
        self.assertEqual(self.alice_mail(), [])


if __name__ == "__main__":
    unittest.main()

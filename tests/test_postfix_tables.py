"""Table settings as a Postfix main.cf writes them: hash: (and btree:)
naming the source file whose LMDB table `mailctl map build hash:FILE`
makes, inline:{ ... } with braced entries in a list parameter, static:,
texthash: read as it is, and alias_database = hash:FILE for
`mailctl alias rebuild`; `mailctl check` accepts them all. Driven with
smtplib through smtpd, qmgr and local into virtual mailboxes."""

import json
import os
import smtplib
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import InstanceTestCase, free_port, wait_for  # noqa: E402
from mail_peers import maildir_messages  # noqa: E402

MESSAGE = "From: sender@outside.test\r\nSubject: %s\r\n\r\nbody\r\n"


class PostfixTablesTest(InstanceTestCase):
    def setUp(self):
        self.port = free_port()
        inst = self.instance(params={
            "mydestination": "mx.example.test, localhost",
            "virtual_mailbox_domains": "example.test",
            "mynetworks": "192.0.2.0/24",  # loopback clients are not trusted
        }, services=["127.0.0.1:%d inet n - n - - smtpd" % self.port,
                     "qmgr unix n - n 300 1 qmgr",
                     "local unix - n n - - local"], start=False)
        self.inst = inst
        etc = inst.etc
        inst.params.update({
            "smtpd_sender_access_maps":
                "inline:{ blocked@outside.test=REJECT, "
                "{ spammer@outside.test = 550 5.7.1 go away, spammer } }",
            "smtpd_recipient_access_maps": "hash:%s/recipient_access" % etc,
            "smtpd_client_access_maps": "static:DUNNO",
            "virtual_alias_maps": "texthash:%s/virtual, btree:%s/virtual2" % (etc, etc),
        })
        self.vmail = inst.add_vmail(["alice@example.test", "bob@example.test"], password="pw")
        self.write(etc, "recipient_access", "bob@example.test 550 5.1.1 closed mailbox\n")
        self.write(etc, "virtual", "info@example.test alice@example.test\n")
        self.write(etc, "virtual2", "sales@example.test bob@example.test\n")
        for name in ("recipient_access", "virtual2"):
            prefix = "hash:" if name == "recipient_access" else "btree:"
            result = inst.mailctl("map", "build", prefix + os.path.join(etc, name), check=True)
            self.assertIn(os.path.join(etc, name) + ".lmdb rebuilt", result.stdout)

    @staticmethod
    def write(etc, name, text):
        with open(os.path.join(etc, name), "w") as f:
            f.write(text)

    def session(self):
        c = smtplib.SMTP("127.0.0.1", self.port, timeout=30)
        c.ehlo("client.outside.test")
        return c

    def test_postfix_table_forms(self):
        check = self.inst.mailctl("check")
        out = check.stdout + check.stderr
        self.assertEqual(check.returncode, 0, out)
        self.assertIn(": 0 errors", out)
        self.assertNotIn("_maps", out)  # every table opens, none is stale
        self.inst.start()
        # inline: sender access, both entry forms.
        with self.session() as c:
            code, text = c.mail("blocked@outside.test")
            self.assertEqual(code, 250, text)
            code, text = c.rcpt("alice@example.test")
            self.assertEqual(code, 554, text)
            self.assertIn(b"Sender address rejected", text)
        with self.session() as c:
            c.mail("spammer@outside.test")
            code, text = c.rcpt("alice@example.test")
            self.assertEqual(code, 550, text)
            self.assertTrue(text.startswith(b"5.7.1 "), text)
            self.assertIn(b"Sender address rejected: go away, spammer", text)
        # hash: recipient access, built from its source by map build hash:FILE.
        with self.session() as c:
            c.mail("sender@outside.test")
            code, text = c.rcpt("bob@example.test")
            self.assertEqual(code, 550, text)
            self.assertIn(b"closed mailbox", text)
        # texthash: and btree: virtual aliases; static:DUNNO lets the rest in.
        with self.session() as c:
            refused = c.sendmail("sender@outside.test",
                                 ["info@example.test", "sales@example.test"], MESSAGE % "aliases")
            self.assertEqual(refused, {})
        wait_for(lambda: maildir_messages(self.vmail, "alice@example.test")
                 and maildir_messages(self.vmail, "bob@example.test"),
                 timeout=30, what="mail for alice and bob")
        self.assertIn(b"Subject: aliases", maildir_messages(self.vmail, "alice@example.test")[0])
        wait_for(lambda: json.loads(self.inst.mailctl("--json", "queue", "list",
                                                      check=True).stdout)["count"] == 0,
                 timeout=30, what="an empty queue")

    def test_alias_database_in_postfix_form(self):
        etc = self.inst.etc
        self.write(etc, "aliases", "postmaster: root\nteam: alice@example.test\n")
        self.inst.params["alias_database"] = "hash:%s/aliases" % etc
        self.inst.params["alias_maps"] = "hash:%s/aliases" % etc
        self.inst.write_config()
        result = self.inst.mailctl("alias", "rebuild", check=True)
        self.assertIn("%s/aliases.lmdb rebuilt: 2 aliases" % etc, result.stdout)
        query = self.inst.mailctl("alias", "query", "team", check=True)
        self.assertIn("alice@example.test", query.stdout)
        check = self.inst.mailctl("check")
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        self.assertNotIn("newaliases", check.stdout + check.stderr)
        self.inst.start()
        with self.session() as c:
            refused = c.sendmail("sender@outside.test", ["team@mx.example.test"],
                                 MESSAGE % "alias")
            self.assertEqual(refused, {})
        wait_for(lambda: maildir_messages(self.vmail, "alice@example.test"), timeout=30,
                 what="the alias's mail for alice")


if __name__ == "__main__":
    unittest.main(verbosity=2)

"""Who may use which sender address: smtpd_sender_login_maps with each
value of smtpd_reject_sender_login_mismatch (no, yes, authenticated,
unauthenticated, known), driven with smtplib and real AUTH through the
auth service: the table's address, address without extension and @domain
keys, owner lists, a login owning its own address, the null sender, the
replies and the reject log line in Postfix's form, a table that cannot be
read, and mailctl check on a bad value."""

import os
import smtplib
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import Instance, free_port  # noqa: E402

PASSWORD = "sender login test"
MESSAGE = "Subject: sender login\r\n\r\nbody\r\n"
MODES = ("no", "yes", "authenticated", "unauthenticated", "known")


class SenderLoginTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ports = {mode: free_port() for mode in MODES}
        cls.broken = free_port()
        cls.inst = Instance(params={
            "mydestination": "mx.example.test",
            "virtual_mailbox_domains": "example.test",
            "mynetworks": "192.0.2.0/24",  # loopback is not trusted: relaying needs AUTH
            "recipient_delimiter": "+",
            "smtpd_error_sleep_time": "0s",
            "smtpd_tls_auth_only_exempt": "127.0.0.0/8",  # AUTH without TLS here
            "smtpd_peername_lookup": "no",
        }, services=[
            "127.0.0.1:%d inet n - n - - smtpd -o smtpd_sasl_auth_enable=yes "
            "-o smtpd_reject_sender_login_mismatch=%s" % (port, mode)
            for mode, port in cls.ports.items()
        ] + [
            "127.0.0.1:%d inet n - n - - smtpd -o smtpd_sasl_auth_enable=yes "
            "-o smtpd_reject_sender_login_mismatch=yes "
            "-o smtpd_sender_login_maps=lmdb:/nonexistent/owners.lmdb" % cls.broken,
            "auth unix y postern-auth n - - auth",
        ])
        owners = os.path.join(cls.inst.etc, "owners")
        with open(owners, "w") as f:
            f.write("# sender            owners\n"
                    "shared@example.test alice@example.test, bob@example.test\n"
                    "@lists.example.test bob@example.test\n"
                    "robot@example.test  robot-login\n")
        cls.inst.mailctl("map", "build", owners, check=True)
        cls.inst.params["smtpd_sender_login_maps"] = "lmdb:%s.lmdb" % owners
        cls.inst.write_config()
        for user in ("alice@example.test", "bob@example.test"):
            cls.inst.mailctl("user", "add", user, input=PASSWORD + "\n", check=True)
        cls.inst.start()

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()

    def rcpt(self, mode, sender, login=None, rcpt=None, port=None):
        """(code, text) of RCPT TO after MAIL FROM:<sender>, logged in as login."""
        if rcpt is None:
            rcpt = "someone@far.test" if login else "alice@example.test"
        with smtplib.SMTP("127.0.0.1", port or self.ports[mode], timeout=30) as c:
            c.ehlo("client.test")
            if login:
                c.login(login, PASSWORD)
            code, text = c.mail(sender)
            self.assertEqual(code, 250, text)
            code, text = c.rcpt(rcpt)
            return code, text.decode()

    def assertOwned(self, mode, sender, login=None):
        self.assertEqual(self.rcpt(mode, sender, login)[0], 250, (mode, sender, login))

    def assertNotOwned(self, mode, sender, login):
        self.assertEqual(self.rcpt(mode, sender, login),
                         (553, "5.7.1 <%s>: Sender address rejected: not owned by user %s" %
                          (sender, login)))

    def assertNotLoggedIn(self, mode, sender):
        self.assertEqual(self.rcpt(mode, sender),
                         (553, "5.7.1 <%s>: Sender address rejected: not logged in" % sender))

    def test_yes(self):
        alice, bob = "alice@example.test", "bob@example.test"
        # A login owns its own address, with an extension and in any case.
        self.assertOwned("yes", alice, alice)
        self.assertOwned("yes", "alice+lists@example.test", alice)
        self.assertOwned("yes", "Alice@Example.TEST", alice)
        # The table: the whole address, its base, then @domain.
        self.assertOwned("yes", "shared@example.test", alice)
        self.assertOwned("yes", "shared+x@example.test", bob)
        self.assertOwned("yes", "news@lists.example.test", bob)
        self.assertNotOwned("yes", "news@lists.example.test", alice)
        self.assertNotOwned("yes", bob, alice)
        self.assertNotOwned("yes", "robot@example.test", alice)
        self.assertNotOwned("yes", "anyone@elsewhere.test", alice)
        # The null sender is never refused.
        self.assertOwned("yes", "", alice)
        # Not logged in: an owned sender is refused, others are not.
        self.assertNotLoggedIn("yes", "shared@example.test")
        self.assertNotLoggedIn("yes", "list@lists.example.test")
        self.assertOwned("yes", "stranger@outside.test")
        self.assertOwned("yes", "")

    def test_authenticated_only(self):
        alice = "alice@example.test"
        self.assertNotOwned("authenticated", "bob@example.test", alice)
        self.assertOwned("authenticated", "shared@example.test", alice)
        self.assertOwned("authenticated", "shared@example.test")  # not logged in: unchecked

    def test_unauthenticated_only(self):
        self.assertNotLoggedIn("unauthenticated", "shared@example.test")
        self.assertOwned("unauthenticated", "stranger@outside.test")
        self.assertOwned("unauthenticated", "bob@example.test", "alice@example.test")

    def test_known(self):
        alice = "alice@example.test"
        self.assertOwned("known", "anyone@elsewhere.test", alice)  # no owner listed
        self.assertOwned("known", "shared@example.test", alice)
        self.assertNotOwned("known", "news@lists.example.test", alice)
        self.assertOwned("known", "news@lists.example.test")  # not logged in: unchecked

    def test_no(self):
        self.assertOwned("no", "bob@example.test", "alice@example.test")
        self.assertOwned("no", "shared@example.test")

    def test_reject_log_line(self):
        self.assertNotOwned("yes", "bob@example.test", "alice@example.test")
        self.inst.wait_log(
            "NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 553 5.7.1 <bob@example.test>: "
            "Sender address rejected: not owned by user alice@example.test; "
            "from=<bob@example.test> to=<someone@far.test> proto=ESMTPA helo=<client.test>")

    def test_whole_message_as_owner(self):
        with smtplib.SMTP("127.0.0.1", self.ports["yes"], timeout=30) as c:
            c.ehlo("client.test")
            c.login("bob@example.test", PASSWORD)
            self.assertEqual(c.sendmail("news@lists.example.test", ["someone@far.test"],
                                        MESSAGE), {})
            with self.assertRaises(smtplib.SMTPRecipientsRefused) as refused:
                c.sendmail("alice@example.test", ["someone@far.test"], MESSAGE)
            self.assertEqual(refused.exception.recipients["someone@far.test"][0], 553)

    def test_table_that_cannot_be_read(self):
        code, text = self.rcpt("yes", "bob@example.test", "alice@example.test",
                               port=self.broken)
        self.assertEqual((code, text), (
            451, "4.3.0 <bob@example.test>: Sender address rejected: Temporary lookup failure"))

    def test_mailctl_check_names_a_bad_value(self):
        main_cf = os.path.join(self.inst.etc, "main.conf")
        with open(main_cf) as f:
            saved = f.read()
        try:
            with open(main_cf, "a") as f:
                f.write("smtpd_reject_sender_login_mismatch = sometimes\n")
            result = self.inst.mailctl("check")
            self.assertNotEqual(result.returncode, 0)
            self.assertIn("smtpd_reject_sender_login_mismatch = sometimes: not no, yes, "
                          "authenticated, unauthenticated or known", result.stdout + result.stderr)
        finally:
            with open(main_cf, "w") as f:
                f.write(saved)
        self.assertEqual(self.inst.mailctl("check").returncode, 0,
                         self.inst.mailctl("check").stdout)


if __name__ == "__main__":
    unittest.main()

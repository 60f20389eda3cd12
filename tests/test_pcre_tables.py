"""pcre: tables (pcre_table(5)) as a Postfix admin writes them, translated
to POSIX expressions at open: header_checks = pcre:... with \\d, (?:...),
$1 in a REJECT text and the i flag, smtpd_sender_access_maps = pcre:...,
driven with smtplib; and mailctl check and mailctl map query reporting a
pcre table with a lookahead as an error with its file and line."""

import os
import smtplib
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import InstanceTestCase, free_port  # noqa: E402

HEADER_CHECKS = r"""# pcre header_checks, as copied from a Postfix server
/^Subject:.*\border\s+#\d{4,}\b/        REJECT 5.7.1 Fake order numbers
/^Subject: (?:re|fwd?): (\w+) alert$/   REJECT 5.7.1 No $1 alerts here
/^X-Mailer: Mass\s?Mailer/i             REJECT 5.7.1 Bulk mailer refused
/^X-Spam-Level: \*{5,}/                 DISCARD
"""

SENDER_ACCESS = r"""/^[^@]+@(?:mail\.)?spam\.example$/     REJECT spammers not welcome
/^(\d+)\.\d+@numbers\.example$/          550 5.7.1 Numbered sender $1 refused
"""


def message(subject, extra=""):
    return ("From: sender@outside.test\r\nTo: rcpt@relay.test\r\nSubject: %s\r\n%s\r\nhi\r\n"
            % (subject, extra))


class PcreTablesTest(InstanceTestCase):
    def setUp(self):
        self.port = free_port()
        self.inst = self.instance(params={
            "mydestination": "mx.example.test",
            "relay_domains": "relay.test",
            "mynetworks": "192.0.2.0/24",
            "smtpd_peername_lookup": "no",
        }, services=["127.0.0.1:%d inet n - n - - smtpd" % self.port], start=False)
        self.write("header_checks", HEADER_CHECKS)
        self.write("sender_access", SENDER_ACCESS)
        self.inst.params["header_checks"] = "pcre:%s/header_checks" % self.inst.etc
        self.inst.params["smtpd_sender_access_maps"] = "pcre:%s/sender_access" % self.inst.etc
        self.inst.write_config()
        self.inst.start()

    def write(self, name, text):
        with open(os.path.join(self.inst.etc, name), "w") as f:
            f.write(text)

    def send(self, msg, sender="sender@outside.test"):
        """(code, text) of the end of DATA for msg."""
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as c:
            c.ehlo("client.outside.test")
            self.assertEqual(c.mail(sender)[0], 250)
            self.assertEqual(c.rcpt("rcpt@relay.test")[0], 250)
            code, text = c.data(msg.encode())
            return code, text.decode()

    def rcpt(self, sender):
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as c:
            c.ehlo("client.outside.test")
            self.assertEqual(c.mail(sender)[0], 250)
            code, text = c.rcpt("rcpt@relay.test")
            return code, text.decode()

    def test_header_checks(self):
        self.assertEqual(self.send(message("Your order #12345 shipped")),
                         (550, "5.7.1 Fake order numbers"))
        self.assertEqual(self.send(message("your order #123 shipped"))[0], 250)
        self.assertEqual(self.send(message("Fw: Security alert")),
                         (550, "5.7.1 No Security alerts here"))
        self.assertEqual(self.send(message("RE: Billing alert")),
                         (550, "5.7.1 No Billing alerts here"))
        # The i flag makes this rule case-sensitive.
        self.assertEqual(self.send(message("x", "X-Mailer: Mass Mailer 2\r\n")),
                         (550, "5.7.1 Bulk mailer refused"))
        self.assertEqual(self.send(message("x", "X-Mailer: mass mailer 2\r\n"))[0], 250)
        self.inst.wait_log(": reject: header Subject: Fw: Security alert from "
                           "unknown[127.0.0.1]")

    def test_sender_access(self):
        code, text = self.rcpt("joe@mail.spam.example")
        self.assertEqual(code, 554, text)
        self.assertIn("spammers not welcome", text)
        code, text = self.rcpt("42.7@numbers.example")
        self.assertEqual((code, text), (550, "5.7.1 <42.7@numbers.example>: Sender address "
                                        "rejected: Numbered sender 42 refused"))
        self.assertEqual(self.rcpt("joe@ham.example")[0], 250)

    def test_untranslatable_table(self):
        self.write("header_checks", "/^Subject: ok/ DUNNO\n"
                   "/^Subject: (?!hello)/ REJECT lookahead\n")
        result = self.inst.mailctl("check")
        self.assertNotEqual(result.returncode, 0)
        out = result.stdout + result.stderr
        self.assertIn("%s/header_checks, line 2: lookahead \"(?!\" is not supported"
                      % self.inst.etc, out)
        result = self.inst.mailctl("map", "query", "pcre:%s/header_checks" % self.inst.etc,
                                   "Subject: x")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("header_checks, line 2: lookahead", result.stderr)

    def test_map_query(self):
        result = self.inst.mailctl("map", "query", "pcre:%s/sender_access" % self.inst.etc,
                                   "7.1@numbers.example", check=True)
        self.assertEqual(result.stdout.strip(), "550 5.7.1 Numbered sender 7 refused")


if __name__ == "__main__":
    unittest.main()

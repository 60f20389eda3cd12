"""hopcount_limit, as Postfix: a message that arrives with that many
Received headers is refused at the end of DATA as a mail loop (554 5.4.6)
and not queued, one with fewer is taken; the default is 50, and 0 turns
the check off. Driven with smtplib."""

import os
import smtplib
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import InstanceTestCase, free_port  # noqa: E402


def message(hops):
    received = "".join("Received: from hop%d.example by hop%d.example; "
                       "Mon, 30 Nov 2026 10:00:00 +0000\r\n" % (i, i + 1) for i in range(hops))
    return received + "Subject: hops\r\n\r\nbody\r\n"


class HopCountTest(InstanceTestCase):
    def setUp(self):
        self.default, self.three, self.off = free_port(), free_port(), free_port()
        smtpd = "127.0.0.1:%d inet n - n - - smtpd"
        self.inst = self.instance(params={
            "mydestination": "mx.example.test",
            "relay_domains": "relay.test",
            "smtpd_peername_lookup": "no",
        }, services=[smtpd % self.default, smtpd % self.three + " -o hopcount_limit=3",
                     smtpd % self.off + " -o hopcount_limit=0"])

    def send(self, port, hops):
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as c:
            c.ehlo("client.test")
            self.assertEqual(c.mail("a@outside.test")[0], 250)
            self.assertEqual(c.rcpt("b@relay.test")[0], 250)
            try:
                code, text = c.data(message(hops).encode())
            except smtplib.SMTPDataError as e:
                code, text = e.smtp_code, e.smtp_error
            return code, text.decode()

    def queued(self):
        return len(os.listdir(os.path.join(self.inst.spool, "incoming")))

    def test_limit(self):
        self.assertEqual(self.send(self.three, 2)[0], 250)
        self.assertEqual(self.send(self.three, 3),
                         (554, "5.4.6 Error: too many hops (3 Received headers)"))
        self.inst.wait_log("reject: mail loop (3 hops) from unknown[127.0.0.1]")
        self.assertEqual(self.send(self.default, 49)[0], 250)
        self.assertEqual(self.send(self.default, 50)[0], 554)
        self.assertEqual(self.send(self.off, 60)[0], 250)
        self.assertEqual(self.queued(), 3)


if __name__ == "__main__":
    unittest.main()

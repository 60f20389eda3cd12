"""The forms of names at RCPT, as Postfix's reject_invalid_helo_hostname,
reject_non_fqdn_helo_hostname, reject_non_fqdn_sender and
reject_non_fqdn_recipient (smtpd_reject_... parameters, with
invalid_hostname_reject_code and non_fqdn_reject_code), driven with
smtplib: malformed and single-label HELO names, address literals, trusted
clients, user@localhost senders and recipients, the null sender and
<Postmaster>, the reply codes, the reject log line, the checks off by
default, and mailctl check on a bad code."""

import os
import smtplib
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import Instance, free_port  # noqa: E402

LOCAL_RCPT = "root@mx.example.test"


class FqdnTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.helo, cls.addr, cls.codes, cls.trusted, cls.off = (free_port() for _ in range(5))
        helo_checks = ("-o smtpd_reject_invalid_helo_hostname=yes "
                       "-o smtpd_reject_non_fqdn_helo_hostname=yes")
        addr_checks = "-o smtpd_reject_non_fqdn_sender=yes -o smtpd_reject_non_fqdn_recipient=yes"
        smtpd = "127.0.0.1:%d inet n - n - - smtpd "
        cls.inst = Instance(params={
            "mydestination": "mx.example.test",
            "mynetworks": "192.0.2.0/24",  # loopback is not trusted
            "smtpd_peername_lookup": "no",
            "smtpd_error_sleep_time": "0s",
        }, services=[
            smtpd % cls.helo + helo_checks,
            smtpd % cls.addr + addr_checks,
            smtpd % cls.codes + helo_checks + " " + addr_checks +
            " -o non_fqdn_reject_code=450 -o invalid_hostname_reject_code=550",
            smtpd % cls.trusted + helo_checks + " -o mynetworks=127.0.0.0/8",
            smtpd % cls.off,
        ])
        cls.inst.start()

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()

    def rcpt(self, port, helo="mail.client.test", sender="someone@client.test",
             rcpt=LOCAL_RCPT):
        """(code, text) of RCPT TO in a fresh session."""
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as c:
            code, text = c.ehlo(helo)
            self.assertEqual(code, 250, text)
            code, text = c.mail(sender)
            self.assertEqual(code, 250, text)
            code, text = c.rcpt(rcpt)
            return code, text.decode()

    def test_helo_names(self):
        self.assertEqual(self.rcpt(self.helo, helo="bad!host"),
                         (501, "5.5.2 <bad!host>: Helo command rejected: Invalid name"))
        self.assertEqual(self.rcpt(self.helo, helo="192.0.2.1"),
                         (501, "5.5.2 <192.0.2.1>: Helo command rejected: Invalid name"))
        self.assertEqual(self.rcpt(self.helo, helo="mailhost"), (
            504, "5.5.2 <mailhost>: Helo command rejected: need fully-qualified hostname"))
        for good in ("mail.client.test", "[127.0.0.1]", "[IPv6:::1]", "host_1.client.test"):
            self.assertEqual(self.rcpt(self.helo, helo=good)[0], 250, good)
        # Addresses are not checked on this service.
        self.assertEqual(self.rcpt(self.helo, sender="user@localhost")[0], 250)

    def test_trusted_clients_helo_unchecked(self):
        self.assertEqual(self.rcpt(self.trusted, helo="mailhost")[0], 250)
        self.assertEqual(self.rcpt(self.trusted, helo="bad!host")[0], 250)

    def test_addresses(self):
        self.assertEqual(self.rcpt(self.addr, sender="user@localhost"), (
            504, "5.5.2 <user@localhost>: Sender address rejected: need fully-qualified address"))
        self.assertEqual(self.rcpt(self.addr, rcpt="someone@localhost"), (
            504,
            "5.5.2 <someone@localhost>: Recipient address rejected: need fully-qualified address"))
        self.assertEqual(self.rcpt(self.addr, sender="")[0], 250)
        self.assertEqual(self.rcpt(self.addr, sender="user@[127.0.0.1]")[0], 250)
        self.assertEqual(self.rcpt(self.addr, rcpt="Postmaster")[0], 250)
        self.assertEqual(self.rcpt(self.addr, helo="mailhost")[0], 250)  # HELO not checked
        self.inst.wait_log(
            "NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 504 5.5.2 <user@localhost>: "
            "Sender address rejected: need fully-qualified address; from=<user@localhost> "
            "to=<%s> proto=ESMTP helo=<mail.client.test>" % LOCAL_RCPT)

    def test_reply_codes(self):
        self.assertEqual(self.rcpt(self.codes, helo="bad!host"),
                         (550, "5.5.2 <bad!host>: Helo command rejected: Invalid name"))
        self.assertEqual(self.rcpt(self.codes, sender="user@localhost"), (
            450, "4.5.2 <user@localhost>: Sender address rejected: need fully-qualified address"))

    def test_off_by_default(self):
        self.assertEqual(self.rcpt(self.off, helo="mailhost", sender="user@localhost")[0], 250)
        # Without the check a foreign single-label domain meets relay control.
        self.assertEqual(self.rcpt(self.off, rcpt="someone@localhost")[0], 554)

    def test_mailctl_check_names_a_bad_code(self):
        main_cf = os.path.join(self.inst.etc, "main.conf")
        with open(main_cf) as f:
            saved = f.read()
        try:
            with open(main_cf, "a") as f:
                f.write("non_fqdn_reject_code = 250\n")
            result = self.inst.mailctl("check")
            self.assertNotEqual(result.returncode, 0)
            self.assertIn("non_fqdn_reject_code = 250: not a 4NN or 5NN reply code",
                          result.stdout + result.stderr)
        finally:
            with open(main_cf, "w") as f:
                f.write(saved)


if __name__ == "__main__":
    unittest.main()

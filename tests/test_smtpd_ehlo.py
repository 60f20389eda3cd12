"""smtpd_discard_ehlo_keywords, as Postfix: the listed keywords (any case)
are left out of the EHLO reply, the last one included, and a reply left
with no keyword at all is the one-line greeting; checked with smtplib's
parsed EHLO features against a service that discards nothing."""

import os
import smtplib
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import InstanceTestCase, free_port  # noqa: E402

ALL = ["pipelining", "size", "vrfy", "enhancedstatuscodes", "8bitmime", "dsn", "smtputf8",
       "chunking"]


class DiscardEhloTest(InstanceTestCase):
    def setUp(self):
        self.plain, self.some, self.every = free_port(), free_port(), free_port()
        smtpd = "127.0.0.1:%d inet n - n - - smtpd"
        self.inst = self.instance(params={
            "mydestination": "mx.example.test",
            "smtpd_peername_lookup": "no",
            "disable_vrfy_command": "no",
        }, services=[
            smtpd % self.plain,
            smtpd % self.some + " -o smtpd_discard_ehlo_keywords=CHUNKING,pipelining,Size",
            smtpd % self.every + " -o smtpd_discard_ehlo_keywords=" + ",".join(ALL),
        ])

    def features(self, port):
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as c:
            code, text = c.ehlo("client.test")
            self.assertEqual(code, 250)
            return sorted(c.esmtp_features), text.decode()

    def test_keywords_left_out(self):
        self.assertEqual(self.features(self.plain)[0], sorted(ALL))
        self.assertEqual(self.features(self.some)[0],
                         sorted(set(ALL) - {"chunking", "pipelining", "size"}))
        features, text = self.features(self.every)
        self.assertEqual(features, [])
        self.assertEqual(text, "mx.example.test")
        # The commands themselves still work.
        with smtplib.SMTP("127.0.0.1", self.some, timeout=30) as c:
            c.ehlo("client.test")
            self.assertEqual(c.mail("a@outside.test")[0], 250)


if __name__ == "__main__":
    unittest.main()

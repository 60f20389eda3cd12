"""smtpd_reject_footer (Postfix's): every 4NN and 5NN reply of smtpd gets
the footer as more lines of the same reply, with the same code and enhanced
code, its \\n parts one line each and $client_address, $server_name ...
filled in; 2NN and 3NN replies are as they were, and the log keeps the
reply without the footer."""

import os
import smtplib
import socket
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import InstanceTestCase, free_port  # noqa: E402

FOOTER = r"Questions: postmaster@example.test (client $client_address)\nSee ${server_name}/help $nothing"


class RejectFooterTest(InstanceTestCase):
    def setUp(self):
        self.port = free_port()
        self.inst = self.instance(params={
            "mydestination": "mx.example.test",
            "mynetworks": "192.0.2.0/24",
            "smtpd_error_sleep_time": "0s",
            "smtpd_reject_footer": FOOTER,
        }, services=["127.0.0.1:%d inet n - n - - smtpd" % self.port])

    def test_footer_lines(self):
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as c:
            self.assertEqual(c.ehlo("client.test")[0], 250)
            self.assertEqual(c.mail("a@outside.test")[0], 250)
            code, text = c.rcpt("nosuchuser@mx.example.test")
            self.assertEqual(code, 550)
            lines = text.decode().split("\n")
            self.assertEqual(len(lines), 3, lines)
            self.assertTrue(lines[0].startswith("5.1.1 <nosuchuser@mx.example.test>:"), lines)
            self.assertEqual(lines[1], "5.1.1 Questions: postmaster@example.test "
                                       "(client 127.0.0.1)")
            self.assertEqual(lines[2], "5.1.1 See mx.example.test/help $nothing")
            # Relay denied, a 554 with its own enhanced code.
            code, text = c.rcpt("x@elsewhere.test")
            self.assertEqual(code, 554)
            self.assertIn("5.7.1 Questions: postmaster@example.test", text.decode())
            self.assertEqual(c.rset()[0], 250)
        log = self.inst.read_log()
        self.assertIn("User unknown in local recipient table;", log)
        self.assertNotIn("Questions:", log)

    def test_raw_wire_format(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as s:
            f = s.makefile("rwb")
            f.readline()
            f.write(b"BOGUS\r\n")
            f.flush()
            lines = [f.readline(), f.readline(), f.readline()]
            self.assertTrue(lines[0].startswith(b"502-5.5.2 "), lines)
            self.assertTrue(lines[1].startswith(b"502-5.5.2 Questions:"), lines)
            self.assertEqual(lines[2], b"502 5.5.2 See mx.example.test/help $nothing\r\n")
            f.write(b"NOOP\r\n")
            f.flush()
            self.assertEqual(f.readline(), b"250 2.0.0 Ok\r\n")


if __name__ == "__main__":
    unittest.main()

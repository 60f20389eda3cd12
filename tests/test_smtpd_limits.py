"""smtpd's per-session limits, as Postfix's: line_length_limit for command
lines (an AUTH exchange may have longer ones), junk commands (HELO, EHLO,
NOOP, RSET, VRFY, HELP) past smtpd_junk_command_limit counting as errors,
MAIL with a SIZE over message_size_limit counting as an error, and RCPT
past smtpd_recipient_limit answered 452 4.5.3 and, past
smtpd_recipient_overshoot_limit in one transaction, counted as errors. A
message received forgives the errors and junk commands before it. Every
reply is checked with its enhanced status code."""

import os
import socket
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import Instance, free_port  # noqa: E402


class Client:
    """A raw SMTP client: each reply as (code, enhanced status, text) of its
    last line (enhanced is None when the line has none)."""

    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        code, _, text = self.reply()
        if code != 220:
            raise AssertionError("greeting: %d %s" % (code, text))

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def reply(self):
        while True:
            while b"\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise EOFError("connection closed")
                self.buf += chunk
            line, _, self.buf = self.buf.partition(b"\n")
            line = line.rstrip(b"\r").decode()
            if len(line) < 4 or line[3] != "-":
                break
        rest = line[4:]
        first = rest.split(" ", 1)[0]
        if first.count(".") == 2 and first.replace(".", "").isdigit():
            return int(line[:3]), first, rest[len(first) + 1:]
        return int(line[:3]), None, rest

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def closed(self, timeout=5):
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def close(self):
        self.sock.close()


class SmtpdLimitsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.default, cls.short, cls.junk, cls.rcpt, cls.nolimit = (free_port() for _ in range(5))
        cls.inst = Instance(params={
            "mydestination": "localhost",
            "mynetworks": "192.0.2.0/24",
            "message_size_limit": "100000",
            "smtpd_error_sleep_time": "0s",
            "smtpd_peername_lookup": "no",
        }, services=[
            "127.0.0.1:%d inet n - n - - smtpd" % cls.default,
            "127.0.0.1:%d inet n - n - - smtpd -o line_length_limit=1000 "
            "-o smtpd_hard_error_limit=3 -o smtpd_sasl_auth_enable=yes "
            "-o smtpd_tls_auth_only_exempt=127.0.0.0/8" % cls.short,
            "127.0.0.1:%d inet n - n - - smtpd -o smtpd_junk_command_limit=5 "
            "-o smtpd_hard_error_limit=3" % cls.junk,
            "127.0.0.1:%d inet n - n - - smtpd -o smtpd_recipient_limit=2 "
            "-o smtpd_recipient_overshoot_limit=3 -o smtpd_hard_error_limit=3" % cls.rcpt,
            "127.0.0.1:%d inet n - n - - smtpd -o smtpd_recipient_limit=0" % cls.nolimit,
        ])
        cls.inst.start()

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()

    def client(self, port):
        c = Client(port)
        self.addCleanup(c.close)
        return c

    def assertReply(self, got, code, enhanced, text=None):
        self.assertEqual(got[:2], (code, enhanced), got)
        if text is not None:
            self.assertEqual(got[2], text)

    def assertEndedForErrors(self, c):
        self.assertReply(c.reply(), 421, "4.7.0", "mx.example.test Error: too many errors")
        self.assertTrue(c.closed())

    def test_parameters_known(self):
        out = self.inst.mailctl("config", "line_length_limit", "smtpd_recipient_overshoot_limit",
                                "smtpd_junk_command_limit", check=True).stdout
        self.assertIn("line_length_limit = 2048", out)
        self.assertIn("smtpd_recipient_overshoot_limit = 1000", out)
        self.assertIn("smtpd_junk_command_limit = 100", out)
        self.assertEqual(self.inst.mailctl("check").returncode, 0)

    def test_default_line_length_limit_is_2048(self):
        c = self.client(self.default)
        line = "NOOP " + "x" * (2048 - 5)
        self.assertReply(c.cmd(line), 250, "2.0.0", "Ok")
        self.assertReply(c.cmd(line + "x"), 500, "5.5.2", "Error: line too long")
        # The rest of the long line was skipped: the session goes on in step.
        self.assertReply(c.cmd("EHLO client.test"), 250, None, "CHUNKING")
        self.assertReply(c.cmd("QUIT"), 221, "2.0.0")

    def test_overlong_lines_count_as_errors(self):
        c = self.client(self.short)
        self.assertReply(c.cmd("NOOP " + "x" * 995), 250, "2.0.0")  # 1000 bytes
        long = "NOOP " + "x" * 996
        self.assertReply(c.cmd(long), 500, "5.5.2", "Error: line too long")
        self.assertReply(c.cmd(long), 500, "5.5.2", "Error: line too long")
        self.assertReply(c.cmd(long), 500, "5.5.2", "Error: line too long")
        self.assertEndedForErrors(c)
        # Postfix's words, which fail2ban's postfix filter (mode=errors) reads.
        self.inst.wait_log("too many errors after NOOP from unknown[127.0.0.1]")

    def test_sasl_response_may_be_longer_than_a_command_line(self):
        c = self.client(self.short)
        c.cmd("EHLO client.test")
        self.assertReply(c.cmd("AUTH PLAIN"), 334, None)
        # 5000 bytes: over line_length_limit (1000), read whole and decoded.
        self.assertReply(c.cmd("!" * 5000), 501, "5.5.2",
                         "Error: invalid base64 data in authentication exchange")
        self.assertReply(c.cmd("AUTH PLAIN"), 334, None)
        self.assertReply(c.cmd("A" * 12288), 501, "5.5.2",
                         "Error: malformed PLAIN authentication response")
        self.assertReply(c.cmd("AUTH PLAIN"), 334, None)
        self.assertReply(c.cmd("A" * 12289), 500, "5.5.6",
                         "Error: authentication exchange line is too long")
        # Each failed exchange counted as an error (as Postfix): the third
        # reaches smtpd_hard_error_limit (3) of this service.
        self.assertEndedForErrors(c)

    def test_junk_commands_past_the_limit_count_as_errors(self):
        c = self.client(self.junk)
        self.assertReply(c.cmd("EHLO client.test"), 250, None)
        self.assertReply(c.cmd("HELO client.test"), 250, None, "mx.example.test")
        self.assertReply(c.cmd("NOOP"), 250, "2.0.0")
        self.assertReply(c.cmd("RSET"), 250, "2.0.0")
        self.assertReply(c.cmd("VRFY root"), 252, "2.0.0")
        # The sixth is still answered, and counts as an error; so on.
        self.assertReply(c.cmd("HELP"), 214, "2.0.0")
        self.assertReply(c.cmd("NOOP"), 250, "2.0.0")
        self.assertReply(c.cmd("NOOP"), 250, "2.0.0")
        self.assertEndedForErrors(c)

    def test_message_forgives_errors_and_junk_commands(self):
        c = self.client(self.junk)
        self.assertReply(c.cmd("EHLO client.test"), 250, None)
        for _ in range(3):
            self.assertReply(c.cmd("NOOP"), 250, "2.0.0")
        self.assertReply(c.cmd("BOGUS"), 502, "5.5.2")
        self.assertReply(c.cmd("BOGUS"), 502, "5.5.2")
        self.assertReply(c.cmd("MAIL FROM:<a@outside.test>"), 250, "2.1.0")
        self.assertReply(c.cmd("RCPT TO:<root@localhost>"), 250, "2.1.5")
        self.assertReply(c.cmd("DATA"), 354, None)
        code, enhanced, text = c.cmd("Subject: limits\r\n\r\nbody\r\n.")
        self.assertEqual((code, enhanced), (250, "2.0.0"), text)
        self.assertTrue(text.startswith("Ok: queued as "), text)
        # Without the message, the second NOOP would be the third error.
        for _ in range(5):
            self.assertReply(c.cmd("NOOP"), 250, "2.0.0")
        self.assertReply(c.cmd("NOOP"), 250, "2.0.0")  # error 1
        self.assertReply(c.cmd("BOGUS"), 502, "5.5.2")  # error 2
        self.assertReply(c.cmd("BOGUS"), 502, "5.5.2")  # error 3
        self.assertEndedForErrors(c)

    def test_declared_size_over_the_limit_counts_as_error(self):
        c = self.client(self.short)
        self.assertReply(c.cmd("EHLO client.test"), 250, None)
        for _ in range(3):
            self.assertReply(c.cmd("MAIL FROM:<a@outside.test> SIZE=100001"), 552, "5.3.4",
                             "Message size exceeds fixed limit")
        self.assertEndedForErrors(c)

    def test_recipients_past_the_overshoot_limit_count_as_errors(self):
        c = self.client(self.rcpt)
        self.assertReply(c.cmd("EHLO client.test"), 250, None)
        for transaction in range(2):
            if transaction > 0:
                self.assertReply(c.cmd("RSET"), 250, "2.0.0")
            self.assertReply(c.cmd("MAIL FROM:<a@outside.test>"), 250, "2.1.0")
            for _ in range(2):
                self.assertReply(c.cmd("RCPT TO:<root@localhost>"), 250, "2.1.5")
            # smtpd_recipient_overshoot_limit (3) more are no errors, in
            # each transaction: the client sends them again later.
            for _ in range(3):
                self.assertReply(c.cmd("RCPT TO:<root@localhost>"), 452, "4.5.3",
                                 "Error: too many recipients")
        self.assertReply(c.cmd("RCPT TO:<root@localhost>"), 452, "4.5.3")  # error 1
        self.assertReply(c.cmd("RCPT TO:<root@localhost>"), 452, "4.5.3")  # error 2
        self.assertReply(c.cmd("NOOP"), 250, "2.0.0")
        self.assertReply(c.cmd("RCPT TO:<root@localhost>"), 452, "4.5.3")  # error 3
        self.assertEndedForErrors(c)

    def test_recipient_limit_zero_is_no_limit(self):
        # As in Postfix, 0 means no limit (not "no recipient at all").
        c = self.client(self.nolimit)
        self.assertReply(c.cmd("EHLO client.test"), 250, None)
        self.assertReply(c.cmd("MAIL FROM:<a@outside.test>"), 250, "2.1.0")
        for _ in range(5):
            self.assertReply(c.cmd("RCPT TO:<root@localhost>"), 250, "2.1.5")
        self.assertReply(c.cmd("QUIT"), 221, "2.0.0")


if __name__ == "__main__":
    unittest.main(verbosity=2)

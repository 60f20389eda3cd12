"""smtpd's protocol conformance where it once differed from the RFCs and
Postfix: STARTTLS forgets a SASL login made before it (RFC 3207 4.2),
RSET takes no argument (RFC 5321 4.1.1.5), DATA is refused in a
BODY=BINARYMIME transaction (RFC 3030 3), and every refused command
(DATA, BDAT, AUTH, STARTTLS) counts towards the error limits as in
Postfix. Also the chunk of a refused BDAT is read and never taken as
commands. Every reply is checked with its enhanced status code."""

import base64
import os
import socket
import ssl
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import Instance, free_port, make_cert  # noqa: E402

PASSWORD = "protocol test password"
PLAIN = base64.b64encode(b"\0alice@example.test\0" + PASSWORD.encode()).decode()


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

    def starttls(self):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.sock = ctx.wrap_socket(self.sock)

    def closed(self, timeout=5):
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def close(self):
        self.sock.close()


class SmtpdProtocolTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mx, cls.submit, cls.strict = free_port(), free_port(), free_port()
        cls.inst = Instance(params={
            "mydestination": "localhost",
            "virtual_mailbox_domains": "example.test",
            "mynetworks": "192.0.2.0/24",
            "smtpd_tls_auth_only_exempt": "127.0.0.0/8",
            "smtpd_error_sleep_time": "0s",
            "smtpd_peername_lookup": "no",
        }, services=[
            "127.0.0.1:%d inet n - n - - smtpd -o smtpd_sasl_auth_enable=yes" % cls.mx,
            "127.0.0.1:%d inet n - n - - smtpd -o smtpd_sasl_auth_enable=yes "
            "-o smtpd_auth_required=yes" % cls.submit,
            "127.0.0.1:%d inet n - n - - smtpd -o smtpd_sasl_auth_enable=yes "
            "-o smtpd_hard_error_limit=3" % cls.strict,
            "auth unix y postern-auth n - - auth",
        ])
        cert, key = make_cert(cls.inst.etc, "mx.example.test")
        cls.inst.params["smtpd_tls_cert_file"] = cert
        cls.inst.params["smtpd_tls_key_file"] = key
        cls.inst.write_config()
        result = subprocess.run(
            [cls.inst.program("mailctl"), "-c", cls.inst.etc, "user", "add", "alice@example.test"],
            input=PASSWORD + "\n", capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise AssertionError("user add failed: " + result.stdout + result.stderr)
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

    def test_starttls_forgets_the_sasl_login(self):
        c = self.client(self.submit)
        c.cmd("EHLO client.test")
        self.assertReply(c.cmd("AUTH PLAIN " + PLAIN), 235, "2.7.0")
        self.assertReply(c.cmd("STARTTLS"), 220, "2.0.0")
        c.starttls()
        c.cmd("EHLO client.test")
        # RFC 3207 4.2: the login made in clear is gone; MAIL needs a new one.
        self.assertReply(c.cmd("MAIL FROM:<alice@example.test>"), 530, "5.7.0",
                         "Authentication required")
        self.assertReply(c.cmd("AUTH PLAIN " + PLAIN), 235, "2.7.0")
        self.assertReply(c.cmd("MAIL FROM:<alice@example.test>"), 250, "2.1.0")
        self.assertReply(c.cmd("QUIT"), 221, "2.0.0")

    def test_rset_takes_no_argument(self):
        c = self.client(self.mx)
        c.cmd("EHLO client.test")
        self.assertReply(c.cmd("MAIL FROM:<a@outside.test>"), 250, "2.1.0")
        self.assertReply(c.cmd("RSET now"), 501, "5.5.4", "Syntax: RSET")
        # The refused RSET left the transaction alone.
        self.assertReply(c.cmd("RCPT TO:<alice@example.test>"), 250, "2.1.5")
        self.assertReply(c.cmd("RSET"), 250, "2.0.0", "Ok")
        self.assertReply(c.cmd("RCPT TO:<alice@example.test>"), 503, "5.5.1")
        # QUIT and NOOP may have an argument (RFC 5321 4.1.1.9, as Postfix).
        self.assertReply(c.cmd("NOOP hello"), 250, "2.0.0")
        self.assertReply(c.cmd("QUIT bye"), 221, "2.0.0")

    def test_binarymime_needs_bdat(self):
        c = self.client(self.mx)
        c.cmd("EHLO client.test")
        self.assertReply(c.cmd("MAIL FROM:<a@outside.test> BODY=BINARYMIME"), 250, "2.1.0")
        self.assertReply(c.cmd("RCPT TO:<alice@example.test>"), 250, "2.1.5")
        self.assertReply(c.cmd("DATA"), 503, "5.5.1", "Error: BODY=BINARYMIME requires BDAT")
        body = b"Subject: binary\r\n\r\n\x00\x01\r\n"
        c.send(b"BDAT %d LAST\r\n" % len(body) + body)
        self.assertReply(c.reply(), 250, "2.0.0")
        self.assertReply(c.cmd("QUIT"), 221, "2.0.0")

    def test_refused_bdat_chunk_is_never_a_command(self):
        c = self.client(self.mx)
        c.cmd("EHLO client.test")
        chunk = b"MAIL FROM:<smuggled@outside.test>\r\nRCPT TO:<alice@example.test>\r\n"
        c.send(b"BDAT %d\r\n" % len(chunk) + chunk)
        self.assertReply(c.reply(), 503, "5.5.1", "Error: need MAIL command")
        # Had the chunk been read as commands, this RCPT would be accepted.
        self.assertReply(c.cmd("RCPT TO:<alice@example.test>"), 503, "5.5.1")
        self.assertReply(c.cmd("QUIT"), 221, "2.0.0")

    def test_refused_data_counts_as_an_error(self):
        c = self.client(self.strict)
        c.cmd("EHLO client.test")
        self.assertReply(c.cmd("DATA"), 503, "5.5.1", "Error: need MAIL command")
        c.cmd("MAIL FROM:<a@outside.test>")
        self.assertReply(c.cmd("DATA"), 554, "5.5.1", "Error: no valid recipients")
        c.send(b"BDAT 3\r\nabc")
        self.assertReply(c.reply(), 503, "5.5.1", "Error: no valid recipients")
        self.assertEndedForErrors(c)

    def test_refused_auth_counts_as_an_error(self):
        c = self.client(self.strict)
        self.assertReply(c.cmd("AUTH PLAIN " + PLAIN), 503, "5.5.1", "Error: send EHLO first")
        c.cmd("EHLO client.test")
        self.assertReply(c.cmd("AUTH PLAIN *"), 501, "5.7.0", "Authentication aborted")
        self.assertReply(c.cmd("AUTH LOGIN"), 334, None)
        self.assertReply(c.cmd("*"), 501, "5.7.0", "Authentication aborted")
        self.assertEndedForErrors(c)

    def test_refused_auth_in_transaction_and_twice(self):
        c = self.client(self.strict)
        c.cmd("EHLO client.test")
        c.cmd("MAIL FROM:<a@outside.test>")
        self.assertReply(c.cmd("AUTH PLAIN " + PLAIN), 503, "5.5.1",
                         "Error: MAIL transaction in progress")
        c.cmd("RSET")
        self.assertReply(c.cmd("AUTH PLAIN " + PLAIN), 235, "2.7.0")
        self.assertReply(c.cmd("AUTH PLAIN " + PLAIN), 503, "5.5.1",
                         "Error: already authenticated")
        self.assertReply(c.cmd("AUTH PLAIN ="), 503, "5.5.1")
        self.assertEndedForErrors(c)

    def test_refused_starttls_counts_as_an_error(self):
        c = self.client(self.strict)
        c.cmd("EHLO client.test")
        self.assertReply(c.cmd("STARTTLS now"), 501, "5.5.4", "Syntax: STARTTLS")
        self.assertReply(c.cmd("STARTTLS"), 220, "2.0.0")
        c.starttls()
        self.assertReply(c.cmd("STARTTLS"), 554, "5.5.1", "Error: TLS already active")
        self.assertReply(c.cmd("STARTTLS"), 554, "5.5.1")
        self.assertEndedForErrors(c)


if __name__ == "__main__":
    unittest.main()

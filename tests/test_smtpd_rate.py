"""Client rate limits, as Postfix's anvil-backed ones:
smtpd_client_connection_rate_limit (421 4.7.0 at connect),
smtpd_client_message_rate_limit (450 4.7.1 at MAIL) and
smtpd_client_recipient_rate_limit (450 4.7.1 at RCPT) and
smtpd_client_auth_rate_limit (450 4.7.1 at AUTH) and
smtpd_client_new_tls_session_rate_limit (454 4.7.0 at STARTTLS; on an
implicit-TLS port the connection is closed before the handshake), counted per service
and client across smtpd processes, anvil_rate_time_unit starting the counts
over, smtpd_client_event_limit_exceptions, and the warning lines in
Postfix's words; driven with smtplib."""

import os
import shutil
import smtplib
import socket
import ssl
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import Instance, free_port, make_cert  # noqa: E402

PASSWORD = "rate test password"


class RateLimitTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.conn, cls.conn2, cls.mail, cls.rcpt, cls.exempt, cls.unit, cls.auth = (
            free_port() for _ in range(7))
        cls.newtls, cls.newtls465 = free_port(), free_port()
        cls.certdir = tempfile.mkdtemp(prefix="postern-cert-")
        os.chmod(cls.certdir, 0o755)
        cert, key = make_cert(cls.certdir)
        tls = "-o smtpd_tls_cert_file=%s -o smtpd_tls_key_file=%s " % (cert, key)
        smtpd = "127.0.0.1:%d inet n - n - - smtpd "
        cls.inst = Instance(params={
            "mydestination": "mx.example.test",
            "relay_domains": "relay.test",
            "mynetworks": "192.0.2.0/24",  # loopback is not trusted, nor exempt
            "smtpd_peername_lookup": "no",
            "anvil_rate_time_unit": "300s",
        }, services=[
            smtpd % cls.conn + "-o smtpd_client_connection_rate_limit=3",
            smtpd % cls.conn2 + "-o smtpd_client_connection_rate_limit=3",
            smtpd % cls.mail + "-o smtpd_client_message_rate_limit=2",
            smtpd % cls.rcpt + "-o smtpd_client_recipient_rate_limit=3",
            smtpd % cls.exempt + "-o smtpd_client_connection_rate_limit=1 "
            "-o smtpd_client_event_limit_exceptions=127.0.0.0/8",
            smtpd % cls.unit + "-o smtpd_client_connection_rate_limit=1 "
            "-o anvil_rate_time_unit=2s",
            smtpd % cls.auth + "-o smtpd_sasl_auth_enable=yes "
            "-o smtpd_tls_auth_only_exempt=127.0.0.0/8 -o smtpd_client_auth_rate_limit=2",
            smtpd % cls.newtls + tls + "-o smtpd_client_new_tls_session_rate_limit=2",
            smtpd % cls.newtls465 + tls + "-o smtpd_tls_wrappermode=yes "
            "-o smtpd_client_new_tls_session_rate_limit=1",
            "auth unix y postern-auth n - - auth",
        ])
        cls.inst.params["virtual_mailbox_domains"] = "example.test"
        cls.inst.write_config()
        cls.inst.mailctl("user", "add", "alice@example.test", input=PASSWORD + "\n", check=True)
        cls.inst.start()

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()
        shutil.rmtree(cls.certdir, ignore_errors=True)

    @staticmethod
    def client_context():
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx

    def greeting(self, port):
        """The code and text of the greeting on a new connection."""
        c = smtplib.SMTP(timeout=30)
        try:
            code, text = c.connect("127.0.0.1", port)
        except smtplib.SMTPServerDisconnected:
            return None
        c.close()
        return code, text.decode()

    def test_connection_rate(self):
        for _ in range(3):
            self.assertEqual(self.greeting(self.conn)[0], 220)
        self.assertEqual(self.greeting(self.conn),
                         (421, "4.7.0 %s Error: too many connections from 127.0.0.1"
                          % self.inst.params["myhostname"]))
        self.inst.wait_log("warning: Connection rate limit exceeded: 4 from "
                           "unknown[127.0.0.1] for service 127.0.0.1:%d" % self.conn)
        # Another service counts its own connections.
        self.assertEqual(self.greeting(self.conn2)[0], 220)

    def test_message_rate(self):
        with smtplib.SMTP("127.0.0.1", self.mail, timeout=30) as c:
            c.ehlo("client.test")
            for _ in range(2):
                self.assertEqual(c.mail("a@outside.test")[0], 250)
                c.rset()
            self.assertEqual(c.mail("a@outside.test"),
                             (450, b"4.7.1 Error: too much mail from 127.0.0.1"))
        self.inst.wait_log("warning: Message delivery request rate limit exceeded: 3 from "
                           "unknown[127.0.0.1] for service 127.0.0.1:%d" % self.mail)
        # The count holds across sessions (and processes).
        with smtplib.SMTP("127.0.0.1", self.mail, timeout=30) as c:
            c.ehlo("client.test")
            self.assertEqual(c.mail("a@outside.test")[0], 450)

    def test_recipient_rate(self):
        with smtplib.SMTP("127.0.0.1", self.rcpt, timeout=30) as c:
            c.ehlo("client.test")
            self.assertEqual(c.mail("a@outside.test")[0], 250)
            for i in range(3):
                self.assertEqual(c.rcpt("r%d@relay.test" % i)[0], 250)
            self.assertEqual(c.rcpt("r9@relay.test"),
                             (450, b"4.7.1 Error: too many recipients from 127.0.0.1"))
            # What was accepted still goes.
            code, text = c.data(b"Subject: rate\r\n\r\nbody\r\n")
            self.assertEqual(code, 250, text)
        self.inst.wait_log("warning: Recipient address rate limit exceeded: 4 from "
                           "unknown[127.0.0.1] for service 127.0.0.1:%d" % self.rcpt)

    def test_auth_rate(self):
        for _ in range(2):
            with smtplib.SMTP("127.0.0.1", self.auth, timeout=30) as c:
                c.ehlo("client.test")
                self.assertEqual(c.login("alice@example.test", PASSWORD)[0], 235)
        with smtplib.SMTP("127.0.0.1", self.auth, timeout=30) as c:
            c.ehlo("client.test")
            code, text = c.docmd("AUTH", "PLAIN")
            self.assertEqual((code, text),
                             (450, b"4.7.1 Error: too many AUTH commands from 127.0.0.1"))
        self.inst.wait_log("warning: AUTH command rate limit exceeded: 3 from "
                           "unknown[127.0.0.1] for service 127.0.0.1:%d" % self.auth)

    def test_exempt_clients(self):
        for _ in range(4):
            self.assertEqual(self.greeting(self.exempt)[0], 220)

    def test_time_unit_starts_counts_over(self):
        self.assertEqual(self.greeting(self.unit)[0], 220)
        self.assertEqual(self.greeting(self.unit)[0], 421)
        time.sleep(2.2)
        self.assertEqual(self.greeting(self.unit)[0], 220)


    def test_new_tls_session_rate(self):
        def starttls():
            with smtplib.SMTP("127.0.0.1", self.newtls, timeout=30) as c:
                c.ehlo("client.outside.test")
                try:
                    code, text = c.starttls(context=self.client_context())
                except smtplib.SMTPResponseException as e:
                    return e.smtp_code, e.smtp_error.decode()
                self.assertEqual(c.ehlo("client.outside.test")[0], 250)
                return code, text.decode()
        self.assertEqual(starttls()[0], 220)
        self.assertEqual(starttls()[0], 220)
        self.assertEqual(starttls(), (454, "4.7.0 Error: too many new TLS sessions from "
                                           "127.0.0.1"))
        self.inst.wait_log("New TLS session rate limit exceeded: 2 from "
                           "unknown[127.0.0.1] for service 127.0.0.1:%d" % self.newtls)
        # Plain SMTP goes on.
        with smtplib.SMTP("127.0.0.1", self.newtls, timeout=30) as c:
            c.ehlo("client.outside.test")
            self.assertEqual(c.mail("a@outside.test")[0], 250)

    def test_new_tls_session_rate_implicit_tls(self):
        def greeting():
            raw = socket.create_connection(("127.0.0.1", self.newtls465), timeout=30)
            with self.client_context().wrap_socket(raw) as tls:
                return tls.recv(100)
        self.assertTrue(greeting().startswith(b"220 "))
        with self.assertRaises((ssl.SSLError, ConnectionError, OSError)):
            greeting()
        self.inst.wait_log("New TLS session rate limit exceeded: 1 from "
                           "unknown[127.0.0.1] for service 127.0.0.1:%d" % self.newtls465)


if __name__ == "__main__":
    unittest.main()

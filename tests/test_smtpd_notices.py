"""smtpd's postmaster notices (notify_classes policy, protocol, resource,
software; smtpd/notice.c): a session that had an error reply in a class of
notify_classes ends with one notice, from the null sender to
error_notice_recipient, carrying the session's transcript ("Out: ...",
"In:  ..."), never AUTH credentials or message content. Only smtpd runs (no
qmgr): the notice is read from incoming/."""

import base64
import os
import smtplib
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ipc_records import read_queue_file  # noqa: E402
from postern_test import InstanceTestCase, free_port, wait_for  # noqa: E402

SECRET = "hunter2-correct-horse"


class NoticeTest(InstanceTestCase):
    def start(self, **params):
        self.port = free_port()
        base = {"mydestination": "mx.example.test", "relay_domains": "",
                "mynetworks": "192.0.2.0/24",  # loopback is not trusted
                "smtpd_peername_lookup": "no"}
        base.update(params)
        self.inst = self.instance(params=base, services=[
            "127.0.0.1:%d inet n - n - - smtpd" % self.port,
            "auth unix y - n - - auth"])

    def incoming(self):
        d = os.path.join(self.inst.spool, "incoming")
        return sorted(os.listdir(d)) if os.path.isdir(d) else []

    def session_done(self, count=1):
        """Wait until count sessions have ended, and a moment more (the
        notice is queued after the disconnect)."""
        self.inst.wait_log("disconnect from", count=count)
        time.sleep(0.5)

    def notices(self):
        out = []
        for name in self.incoming():
            env, rcpts, content = read_queue_file(
                os.path.join(self.inst.spool, "incoming", name))
            if env.get("sender") == "":
                out.append((env, rcpts, content.decode()))
        return out

    def one_notice(self):
        wait_for(lambda: len(self.notices()) >= 1, timeout=10, what="a notice")
        self.session_done()
        notices = self.notices()
        self.assertEqual(len(notices), 1, [n[2] for n in notices])
        return notices[0]

    def test_protocol_error_notice_and_auth_masked(self):
        self.start(notify_classes="protocol", smtpd_sasl_auth_enable="yes",
                   smtpd_tls_auth_only="no")
        creds = base64.b64encode(("\0alice\0" + SECRET).encode()).decode()
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as c:
            c.ehlo("client.example.test")
            self.assertEqual(c.docmd("BOGUS", "thing")[0], 502)
            self.assertEqual(c.docmd("RCPT", "TO:<a@mx.example.test>")[0], 503)
            code, _ = c.docmd("AUTH", "PLAIN " + creds)
            self.assertIn(code, (503, 535, 454))
            self.assertEqual(c.docmd("FROBNICATE")[0], 502)
        env, rcpts, text = self.one_notice()
        self.assertEqual(env["sender"], "")
        self.assertEqual([r["address"] for r in rcpts], ["postmaster@mx.example.test"])
        self.assertIn("Subject: Postern SMTP server: errors from unknown[127.0.0.1]\r\n", text)
        self.assertIn("From: MAILER-DAEMON@mx.example.test", text)
        self.assertIn("Transcript of session follows.\r\n", text)
        self.assertIn("Out: 220 ", text)
        self.assertIn("In:  ehlo client.example.test\r\n", text)
        self.assertIn("In:  BOGUS thing\r\n", text)
        self.assertIn("Out: 502 5.5.2 Error: command not recognized\r\n", text)
        self.assertIn("Out: 503 5.5.1 Error: need MAIL command\r\n", text)
        self.assertIn("In:  FROBNICATE\r\n", text)
        self.assertIn("In:  AUTH PLAIN *\r\n", text)
        self.assertNotIn(creds, text)
        self.assertNotIn(SECRET, text)
        self.assertIn("In:  QUIT\r\n", text)
        self.inst.wait_log("postmaster notice of protocol errors from unknown[127.0.0.1]")

    def test_policy_relay_denial_to_custom_recipient(self):
        self.start(notify_classes="policy", error_notice_recipient="hostmaster@admin.test")
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as c:
            c.ehlo("client.example.test")
            self.assertEqual(c.mail("someone@outside.test")[0], 250)
            code, text = c.rcpt("victim@elsewhere.test")
            self.assertEqual(code, 554, text)
            # An unknown command is protocol, not in notify_classes here.
            self.assertEqual(c.docmd("BOGUS")[0], 502)
        env, rcpts, text = self.one_notice()
        self.assertEqual(env["sender"], "")
        self.assertEqual([r["address"] for r in rcpts], ["hostmaster@admin.test"])
        self.assertIn("To: <hostmaster@admin.test>", text)
        self.assertIn("In:  rcpt TO:<victim@elsewhere.test>\r\n", text)
        self.assertIn("Out: 554 5.7.1 <victim@elsewhere.test>: Relay access denied", text)
        self.assertIn("Error classes: policy\r\n", text)

    def test_message_content_never_in_transcript(self):
        self.start(notify_classes="protocol")
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as c:
            c.ehlo("client.example.test")
            self.assertEqual(c.docmd("BOGUS")[0], 502)
            self.assertEqual(c.mail("someone@outside.test")[0], 250)
            self.assertEqual(c.rcpt("root@mx.example.test")[0], 250)
            code, _ = c.data("Subject: private\r\n\r\nbody line %s\r\n" % SECRET)
            self.assertEqual(code, 250)
        _env, _rcpts, text = self.one_notice()
        self.assertIn("In:  data\r\n", text)
        self.assertIn("Out: 354 ", text)
        self.assertNotIn(SECRET, text)
        self.assertNotIn("private", text)

    def test_no_notice_without_errors(self):
        self.start(notify_classes="policy, protocol, resource, software")
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as c:
            c.ehlo("client.example.test")
            c.noop()
            self.assertEqual(c.mail("someone@outside.test")[0], 250)
            c.rset()
        self.session_done()
        self.assertEqual(self.notices(), [])
        self.assertNotIn("postmaster notice", self.inst.read_log())

    def test_default_classes_skip_protocol_errors(self):
        self.start()  # notify_classes = resource, software
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as c:
            c.ehlo("client.example.test")
            self.assertEqual(c.docmd("BOGUS")[0], 502)
            self.assertEqual(c.mail("someone@outside.test")[0], 250)
            self.assertEqual(c.rcpt("victim@elsewhere.test")[0], 554)
        self.session_done()
        self.assertEqual(self.notices(), [])

    def test_too_many_errors_is_protocol_not_policy(self):
        # "421 4.7.0 ... too many errors" is a protocol error (Postfix's
        # class), whatever its enhanced code says.
        self.start(notify_classes="policy", smtpd_hard_error_limit="3",
                   smtpd_soft_error_limit="10")
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        try:
            self.assertTrue(s.recv(4096).startswith(b"220 "))
            got = b""
            for word in (b"ONE", b"TWO", b"THREE"):
                s.sendall(word + b"\r\n")
                got += s.recv(4096)
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
        finally:
            s.close()
        self.assertIn(b"421 4.7.0 mx.example.test Error: too many errors", got)
        self.session_done()
        self.assertEqual(self.notices(), [])
        # A later session's policy refusal gets its notice.
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as c:
            c.ehlo("client.example.test")
            self.assertEqual(c.mail("someone@outside.test")[0], 250)
            self.assertEqual(c.rcpt("victim@elsewhere.test")[0], 554)
            self.assertEqual(c.rcpt("victim2@elsewhere.test")[0], 554)
        _env, _rcpts, text = self.one_notice()
        self.assertIn("In:  rcpt TO:<victim2@elsewhere.test>\r\n", text)
        self.assertNotIn("THREE", text)

if __name__ == "__main__":
    unittest.main()

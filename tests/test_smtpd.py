"""smtpd against real clients: Python's smtplib, swaks and openssl s_client.
Every command and extension, pipelining, BDAT, STARTTLS and implicit TLS,
AUTH, relay control, recipient checks, limits, SMTP smuggling probes, early
talkers and garbage. Mail is checked in the queue with `mailctl queue`."""

import json
import os
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import IS_ROOT, Instance, free_port, wait_for  # noqa: E402

PASSWORD = "correct horse battery staple"


def make_cert(directory):
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=mx.example.test", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    os.chmod(key, 0o600)
    return cert, key


class Raw:
    """A raw SMTP client for byte-exact tests."""

    def __init__(self, port, timeout=10, greet=True):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        if greet:
            self.expect(220)

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def read_reply(self):
        lines = []
        while True:
            while b"\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise EOFError("closed; got %r" % lines)
                self.buf += chunk
            line, _, self.buf = self.buf.partition(b"\n")
            line = line.rstrip(b"\r").decode()
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return int(line[:3]), "\n".join(lines)

    def expect(self, code):
        got, text = self.read_reply()
        if got != code:
            raise AssertionError("expected %d, got %s" % (code, text))
        return text

    def closed(self, timeout=5):
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def close(self):
        self.sock.close()


class SmtpdTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mx, cls.sub, cls.subs = free_port(), free_port(), free_port()
        cls.strict = free_port()
        cls.inst = Instance(params={
            "mydestination": "mx.example.test, localhost",
            "virtual_mailbox_domains": "example.test",
            "mynetworks": "192.0.2.0/24",
            "smtpd_tls_cert_file": "",
            "smtpd_tls_auth_only_exempt": "",
            "message_size_limit": "200000",
            "smtpd_recipient_limit": "5",
            "smtpd_error_sleep_time": "0s",
            "smtpd_greet_pause": "1s",
        }, services=[
            "127.0.0.1:%d inet n - n - - smtpd" % cls.mx,
            "127.0.0.1:%d inet n - n - - smtpd -o smtpd_tls_security_level=encrypt "
            "-o smtpd_sasl_auth_enable=yes -o smtpd_auth_required=yes "
            "-o smtpd_add_missing_headers=yes" % cls.sub,
            "127.0.0.1:%d inet n - n - - smtpd -o smtpd_tls_wrappermode=yes "
            "-o smtpd_sasl_auth_enable=yes -o smtpd_auth_required=yes" % cls.subs,
            "auth unix y postern-auth n - - auth",
            "127.0.0.1:%d inet n - n - - smtpd -o strict_rfc821_envelopes=yes" % cls.strict,
        ])
        cert, key = make_cert(cls.inst.etc)
        if IS_ROOT:
            os.chmod(key, 0o600)
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

    # -- helpers
    def queue(self):
        out = self.inst.mailctl("--json", "queue", "list", check=True).stdout
        return json.loads(out)

    def queue_ids(self):
        return {m["id"] for m in self.queue()["messages"]}

    def show(self, qid):
        return self.inst.mailctl("queue", "show", qid, check=True).stdout

    def tls_context(self):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx

    def send_simple(self, port=None, **kw):
        with smtplib.SMTP("127.0.0.1", port or self.mx, timeout=20) as c:
            return c.sendmail("sender@outside.test", ["alice@example.test"],
                              "Subject: hi\r\n\r\nhello\r\n", **kw)

    # -- tests
    def test_ehlo_extensions(self):
        with smtplib.SMTP("127.0.0.1", self.mx, timeout=20) as c:
            code, _ = c.ehlo("client.test")
            self.assertEqual(code, 250)
            for ext in ("pipelining", "size", "8bitmime", "smtputf8", "dsn",
                        "enhancedstatuscodes", "chunking", "starttls"):
                self.assertTrue(c.has_extn(ext), ext)
            self.assertEqual(c.esmtp_features["size"], "200000")
            # AUTH is not offered on the MX service.
            self.assertFalse(c.has_extn("auth"))
            self.assertEqual(c.noop()[0], 250)
            self.assertEqual(c.rset()[0], 250)
            self.assertEqual(c.verify("alice@example.test")[0], 252)
            code, msg = c.docmd("HELP")
            self.assertEqual(code, 214)
            code, msg = c.docmd("FROB")
            self.assertEqual(code, 502)

    def test_accept_and_queue(self):
        before = self.queue_ids()
        with smtplib.SMTP("127.0.0.1", self.mx, timeout=20) as c:
            c.ehlo("client.test")
            c.mail("sender@outside.test", ["BODY=8BITMIME", "SIZE=100", "RET=HDRS",
                                           "ENVID=env+2Bid"])
            code, _ = c.rcpt("alice@example.test", ["NOTIFY=SUCCESS,FAILURE",
                                                    "ORCPT=rfc822;alice@example.test"])
            self.assertEqual(code, 250)
            # smtplib dot-stuffs the line; smtpd must store it unstuffed.
            code, msg = c.data(b"Subject: test\r\n\r\n.dot line\r\n8-bit \xc3\xa9\r\n")
            self.assertEqual(code, 250)
            qid = msg.decode().split()[-1]
        self.assertNotIn(qid, before)
        self.assertTrue(os.path.exists(os.path.join(self.inst.spool, "incoming", qid)))
        msg = [m for m in self.queue()["messages"] if m["id"] == qid][0]
        self.assertEqual(msg["sender"], "sender@outside.test")
        text = self.show(qid)
        self.assertIn("Received: from client.test (localhost [127.0.0.1])", text)
        self.assertIn("with ESMTP id " + qid, text)
        self.assertIn("\n.dot line", text)
        self.assertIn("NOTIFY", text.upper())
        self.assertIn("env+id", text)

    def test_helo_and_smtputf8(self):
        r = Raw(self.mx)
        r.send("HELO old.test\r\n")
        self.assertEqual(r.read_reply()[0], 250)
        # No ESMTP parameters after HELO.
        r.send("MAIL FROM:<a@outside.test> BODY=8BITMIME\r\n")
        self.assertEqual(r.read_reply()[0], 555)
        r.send("EHLO new.test\r\n")
        r.expect(250)
        # A non-ASCII recipient needs SMTPUTF8 on MAIL.
        r.send("MAIL FROM:<a@outside.test>\r\n")
        r.expect(250)
        r.send("RCPT TO:<j\u00f6rg@example.test>\r\n".encode())
        code, text = r.read_reply()
        self.assertEqual(code, 553, text)
        self.assertIn("5.6.7", text)
        r.send("RSET\r\n")
        r.expect(250)
        r.send("MAIL FROM:<j\u00f6rg@outside.test> SMTPUTF8\r\n".encode())
        r.expect(250)
        r.send("RCPT TO:<alice@example.test>\r\nDATA\r\n")
        r.expect(250)
        r.expect(354)
        r.send("Subject: gr\u00fc\u00dfe\r\n\r\nutf-8 body\r\n.\r\n".encode())
        qid = r.expect(250).split()[-1]
        r.send("QUIT\r\n")
        r.expect(221)
        text = self.show(qid)
        self.assertIn("UTF8SMTP", text)
        self.assertIn("smtputf8: yes", text)

    def test_auth_failures_disconnect(self):
        r = Raw(self.subs, greet=False)
        r.sock = self.tls_context().wrap_socket(r.sock)
        r.expect(220)
        r.send("EHLO x.test\r\n")
        r.expect(250)
        import base64
        bad = base64.b64encode(b"\0alice@example.test\0nope").decode()
        for _ in range(2):
            r.send("AUTH PLAIN %s\r\n" % bad)
            self.assertEqual(r.read_reply()[0], 535)
        r.send("AUTH PLAIN %s\r\n" % bad)
        self.assertEqual(r.read_reply()[0], 535)
        code, _ = r.read_reply()
        self.assertEqual(code, 421)
        self.assertTrue(r.closed())

    def test_auth_plain_authorization_identity(self):
        # Postern's auth service has no master users: PLAIN's authorization
        # identity must be empty or the user's own name.
        import base64
        for authzid, code in (("bob@example.test", 535), ("alice@example.test", 235)):
            r = Raw(self.subs, greet=False)
            r.sock = self.tls_context().wrap_socket(r.sock)
            r.expect(220)
            r.send("EHLO x.test\r\n")
            r.expect(250)
            response = base64.b64encode(
                ("%s\0alice@example.test\0%s" % (authzid, PASSWORD)).encode()).decode()
            r.send("AUTH PLAIN %s\r\n" % response)
            self.assertEqual(r.read_reply()[0], code, authzid)
            r.send("QUIT\r\n")
            r.expect(221)

    def test_implicit_tls_with_s_client(self):
        out = subprocess.run(
            ["openssl", "s_client", "-connect", "127.0.0.1:%d" % self.subs, "-quiet"],
            input="EHLO s.test\r\nQUIT\r\n", capture_output=True, text=True, timeout=30)
        self.assertIn("220 ", out.stdout)
        self.assertIn("250-AUTH PLAIN LOGIN", out.stdout)
        self.assertIn("221", out.stdout)

    def test_pipelining(self):
        r = Raw(self.mx)
        r.send("EHLO pipe.test\r\n")
        r.expect(250)
        r.send("MAIL FROM:<a@outside.test>\r\nRCPT TO:<alice@example.test>\r\n"
               "RCPT TO:<nobody@example.test>\r\nDATA\r\n")
        r.expect(250)
        r.expect(250)
        code, text = r.read_reply()
        self.assertEqual(code, 550)
        self.assertIn("5.1.1", text)
        r.expect(354)
        r.send("Subject: p\r\n\r\nbody\r\n.\r\nQUIT\r\n")
        text = r.expect(250)
        self.assertIn("queued as", text)
        r.expect(221)
        r.close()

    def test_bdat(self):
        r = Raw(self.mx)
        r.send("EHLO chunk.test\r\n")
        r.expect(250)
        r.send("MAIL FROM:<a@outside.test>\r\nRCPT TO:<alice@example.test>\r\n")
        r.expect(250)
        r.expect(250)
        body1 = b"Subject: chunks\r\n\r\nfirst part\r\n"
        body2 = b".leading dot kept\r\nbare\nLF kept in BDAT\r\n"
        r.send(b"BDAT %d\r\n" % len(body1) + body1)
        r.expect(250)
        r.send(b"BDAT %d\r\n" % len(body2) + body2)
        r.expect(250)
        r.send(b"BDAT 0 LAST\r\n")
        text = r.expect(250)
        qid = text.split()[-1]
        content = self.show(qid)
        self.assertIn(".leading dot kept", content)
        self.assertIn("first part", content)
        # BDAT without a transaction: the chunk is read and refused.
        r.send(b"BDAT 5 LAST\r\nhello")
        r.expect(503)
        r.send("QUIT\r\n")
        r.expect(221)

    def test_starttls_and_implicit_tls(self):
        with smtplib.SMTP("127.0.0.1", self.mx, timeout=20) as c:
            c.ehlo("tls.test")
            code, _ = c.starttls(context=self.tls_context())
            self.assertEqual(code, 220)
            c.ehlo("tls.test")
            self.assertFalse(c.has_extn("starttls"))
            res = c.sendmail("a@outside.test", ["alice@example.test"], "Subject: t\r\n\r\nx\r\n")
            self.assertEqual(res, {})
        with smtplib.SMTP_SSL("127.0.0.1", self.subs, timeout=20,
                              context=self.tls_context()) as c:
            c.ehlo("tls.test")
            self.assertTrue(c.has_extn("auth"))
            c.login("alice@example.test", PASSWORD)
            c.sendmail("alice@example.test", ["bob@far.test"], "Subject: x\r\n\r\nrelayed\r\n")
        out = subprocess.run(
            ["openssl", "s_client", "-connect", "127.0.0.1:%d" % self.mx, "-starttls", "smtp",
             "-quiet"], input="EHLO s.test\r\nQUIT\r\n", capture_output=True, text=True,
            timeout=30)
        self.assertIn("250 CHUNKING", out.stdout)
        self.assertIn("221", out.stdout)

    def test_submission_requires_tls_and_auth(self):
        with smtplib.SMTP("127.0.0.1", self.sub, timeout=20) as c:
            c.ehlo("sub.test")
            self.assertFalse(c.has_extn("auth"))   # not before TLS
            code, _ = c.docmd("AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdAB4")
            self.assertEqual(code, 538)
            code, msg = c.docmd("MAIL FROM:<alice@example.test>")
            self.assertEqual(code, 530)
            c.starttls(context=self.tls_context())
            c.ehlo("sub.test")
            self.assertTrue(c.has_extn("auth"))
            code, _ = c.docmd("MAIL FROM:<alice@example.test>")
            self.assertEqual(code, 530)            # AUTH first
            with self.assertRaises(smtplib.SMTPAuthenticationError):
                c.login("alice@example.test", "wrong password")
            c.login("alice@example.test", PASSWORD)
            msg = "Subject: from submission\r\n\r\nhello\r\n"
            c.sendmail("alice@example.test", ["someone@far.test"], msg)
        # Submission adds the missing Message-ID and Date.
        newest = max(self.queue()["messages"], key=lambda m: m["id"])
        text = self.show(newest["id"])
        self.assertIn("Message-ID: <", text)
        self.assertIn("\nDate: ", text)
        self.assertIn("ESMTPSA", text)
        # The login name stays out of the mail unless
        # smtpd_sasl_authenticated_header = yes (test_smtp_wrappermode).
        self.assertNotIn("Authenticated sender", text)
        self.assertNotIn("alice@example.test)", text.split("\n\n")[0])

    def test_auth_login_with_swaks(self):
        out = subprocess.run(
            ["swaks", "--server", "127.0.0.1", "--port", str(self.sub), "--tls",
             "--auth", "LOGIN", "--auth-user", "alice@example.test",
             "--auth-password", PASSWORD, "--from", "alice@example.test",
             "--to", "carol@far.test", "--h-Subject", "swaks"],
            capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("235 2.7.0", out.stdout)
        self.assertIn("queued as", out.stdout)

    def test_relay_denied_without_auth(self):
        with smtplib.SMTP("127.0.0.1", self.mx, timeout=20) as c:
            c.ehlo("outsider.test")
            c.mail("someone@outside.test")
            code, msg = c.rcpt("victim@elsewhere.test")
            self.assertEqual(code, 554)
            self.assertIn(b"Relay access denied", msg)

    def test_unknown_local_and_virtual_users(self):
        with smtplib.SMTP("127.0.0.1", self.mx, timeout=20) as c:
            c.ehlo("x.test")
            c.mail("someone@outside.test")
            self.assertEqual(c.rcpt("nosuchuser@mx.example.test")[0], 550)
            self.assertEqual(c.rcpt("nosuchuser@example.test")[0], 550)
            self.assertEqual(c.rcpt("root@mx.example.test")[0], 250)
            self.assertEqual(c.rcpt("postmaster@mx.example.test")[0], 250)
            self.assertEqual(c.rcpt("<Postmaster>")[0], 250)
            self.assertEqual(c.rcpt("ALICE@Example.Test")[0], 250)

    def test_size_and_recipient_limits(self):
        with smtplib.SMTP("127.0.0.1", self.mx, timeout=20) as c:
            c.ehlo("x.test")
            code, _ = c.mail("a@outside.test", ["SIZE=300000"])
            self.assertEqual(code, 552)
            c.mail("a@outside.test")
            for i in range(5):
                self.assertEqual(c.rcpt("alice@example.test")[0], 250)
            code, msg = c.rcpt("alice@example.test")
            self.assertEqual(code, 452)
            self.assertIn(b"4.5.3", msg)
            code, msg = c.data(b"Subject: big\r\n\r\n" + b"x" * 100 + b"\r\n" * 2000 +
                               b"y" * 250000 + b"\r\n")
            self.assertEqual(code, 552)
            self.assertIn(b"5.3.4", msg)

    def test_smuggling_probes_refused(self):
        probes = [b"\n.\n", b"\n.\r\n", b"\r.\r", b"\r.\n", b"\r\n.\n", b"\r\n.\r",
                  b"\n.\r", b"\r.\r\n"]
        for probe in probes:
            before = self.queue_ids()
            r = Raw(self.mx)
            r.send("EHLO smuggle.test\r\n")
            r.expect(250)
            r.send("MAIL FROM:<a@outside.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n")
            r.expect(250)
            r.expect(250)
            r.expect(354)
            r.send(b"Subject: smuggle\r\n\r\nfirst" + probe +
                   b"MAIL FROM:<evil@outside.test>\r\nRCPT TO:<alice@example.test>\r\n"
                   b"DATA\r\nSubject: smuggled\r\n\r\nsecond\r\n.\r\n")
            code, text = r.read_reply()
            # The whole thing is one message, refused for its bare line ends.
            self.assertEqual(code, 550, "%r: %s" % (probe, text))
            r.send("QUIT\r\n")
            r.expect(221)
            r.close()
            self.assertEqual(self.queue_ids() - before, set(), repr(probe))

    def test_bare_lf_command_and_early_talker(self):
        r = Raw(self.mx)
        r.send("EHLO bare.test\n")
        code, _ = r.read_reply()
        self.assertEqual(code, 500)
        r.close()
        s = socket.create_connection(("127.0.0.1", self.mx), timeout=10)
        s.sendall(b"EHLO eager.test\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        self.assertTrue(data.startswith(b"554"), data)
        s.close()

    def test_addresses_without_brackets(self):
        # strict_rfc821_envelopes = no (the default, as Postfix): taken.
        r = Raw(self.mx)
        r.send("EHLO client.outside.test\r\n")
        r.expect(250)
        r.send("MAIL FROM: sender@outside.test SIZE=100\r\n")
        r.expect(250)
        r.send("RCPT TO: alice@example.test\r\n")
        r.expect(250)
        r.send("RCPT TO: nobody@example.test\r\n")
        r.expect(550)
        r.send("RSET\r\nQUIT\r\n")
        r.expect(250)
        r.close()
        # strict_rfc821_envelopes = yes: the brackets are required.
        r = Raw(self.strict)
        r.send("EHLO client.outside.test\r\n")
        r.expect(250)
        r.send("MAIL FROM: sender@outside.test\r\n")
        self.assertIn("Syntax: MAIL FROM:<address>", r.expect(501))
        r.send("MAIL FROM:<sender@outside.test>\r\n")
        r.expect(250)
        r.send("RCPT TO: alice@example.test\r\n")
        self.assertIn("Syntax: RCPT TO:<address>", r.expect(501))
        r.send("QUIT\r\n")
        r.close()

    def test_improper_pipelining_after_starttls(self):
        r = Raw(self.mx)
        r.send("EHLO x.test\r\n")
        r.expect(250)
        r.send("STARTTLS\r\nMAIL FROM:<injected@outside.test>\r\n")
        code, _ = r.read_reply()
        self.assertEqual(code, 554)
        self.assertTrue(r.closed())

    def test_garbage_and_long_lines(self):
        r = Raw(self.mx)
        r.send(b"\x00\x01\x02garbage\r\n")
        self.assertEqual(r.read_reply()[0], 500)
        r.send(b"EHLO " + b"a" * 10000 + b"\r\n")
        self.assertEqual(r.read_reply()[0], 500)
        r.send("MAIL FROM:<unterminated@x.test\r\n")
        self.assertEqual(r.read_reply()[0], 501)
        r.send("EHLO ok.test\r\n")
        r.expect(250)
        r.send("MAIL FROM:<a@b.test> FROBNICATE=1\r\n")
        self.assertEqual(r.read_reply()[0], 555)
        r.send("RCPT TO:<alice@example.test>\r\n")
        self.assertEqual(r.read_reply()[0], 503)
        r.send("DATA\r\n")
        self.assertEqual(r.read_reply()[0], 503)
        r.send("QUIT\r\n")
        r.expect(221)
        # The server still serves.
        self.assertEqual(self.send_simple(), {})

    def test_too_many_errors_disconnects(self):
        r = Raw(self.mx)
        for _ in range(19):
            r.send("BOGUS\r\n")
            self.assertEqual(r.read_reply()[0], 502)
        r.send("BOGUS\r\n")
        self.assertEqual(r.read_reply()[0], 502)
        code, _ = r.read_reply()
        self.assertEqual(code, 421)
        self.assertTrue(r.closed())


class ClientLimitTest(unittest.TestCase):
    def test_connections_per_client_address(self):
        port = free_port()
        inst = Instance(services=["127.0.0.1:%d inet n - n - - smtpd" % port],
                        params={"mynetworks": "192.0.2.0/24",
                                "smtpd_client_connection_count_limit": "2"})
        self.addCleanup(inst.cleanup)
        inst.start()
        first, second = Raw(port), Raw(port)
        third = Raw(port, greet=False)
        code, text = third.read_reply()
        self.assertEqual(code, 421, text)
        self.assertIn("too many connections", text)
        third.close()
        # A slot is free again once a session ends.
        first.send("QUIT\r\n")
        first.expect(221)
        first.close()
        fourth = wait_for(lambda: self._greeted(port), what="a free connection slot")
        fourth.send("QUIT\r\n")
        second.send("QUIT\r\n")

    @staticmethod
    def _greeted(port):
        r = Raw(port, greet=False)
        code, _ = r.read_reply()
        if code == 220:
            return r
        r.close()
        return None


@unittest.skipUnless(IS_ROOT and shutil.which("mount"), "needs root to mount a small tmpfs")
class DiskFullTest(unittest.TestCase):
    def test_full_queue_answers_451_and_keeps_serving(self):
        port = free_port()
        # No size limit and no queue_minfree: nothing is refused at MAIL
        # FROM for want of space (see the next test), so the write fails.
        inst = Instance(services=["127.0.0.1:%d inet n - n - - smtpd" % port],
                        params={"mydestination": "localhost", "mynetworks": "127.0.0.0/8",
                                "message_size_limit": "0"})
        self.addCleanup(inst.cleanup)
        os.makedirs(inst.spool)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", inst.spool],
                       check=True)
        self.addCleanup(subprocess.run, ["umount", "-l", inst.spool])
        os.chmod(inst.spool, 0o755)
        inst.start()
        big = "Subject: big\r\n\r\n" + ("x" * 998 + "\r\n") * 400
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as c:
            # No SIZE declared (smtplib's sendmail would declare it, and a
            # SIZE of more than half the free space is refused at once).
            c.ehlo("client.example")
            self.assertEqual(c.mail("a@localhost")[0], 250)
            self.assertEqual(c.rcpt("root@localhost")[0], 250)
            code, _ = c.data(big.encode())
            self.assertEqual(code, 451)
            # No partial file: at most the empty file smtpd keeps ready
            # for its next message.
            tmp = os.path.join(inst.spool, "tmp")
            self.assertEqual([f for f in os.listdir(tmp)
                              if os.path.getsize(os.path.join(tmp, f)) > 0], [])
            self.assertLessEqual(len(os.listdir(tmp)), 1)
            self.assertEqual(os.listdir(os.path.join(inst.spool, "incoming")), [])
            # Still serving: a small message goes through.
            self.assertEqual(c.sendmail("a@localhost", ["root@localhost"],
                                        "Subject: small\r\n\r\nok\r\n"), {})
            self.assertEqual(len(os.listdir(os.path.join(inst.spool, "incoming"))), 1)
        # A restarted instance sweeps what a killed writer left in tmp/.
        inst.stop()
        with open(os.path.join(tmp, "0000000000001000"), "w") as f:
            f.write("partial")
        inst.start()
        # Only emptied files kept for reuse remain.
        self.assertEqual([f for f in os.listdir(tmp) if not f.startswith("free.")], [])
        self.assertEqual([f for f in os.listdir(tmp)
                          if os.path.getsize(os.path.join(tmp, f)) > 0], [])

    def test_low_space_refused_at_mail_from(self):
        """As Postfix: MAIL FROM gets 452 4.3.1 while the queue's file
        system has less free than 1.5 x message_size_limit (2m: 3 MiB
        here) or queue_minfree, the larger (a second service asks
        3.5 MiB), or when the declared SIZE would leave less than that
        or take half of what is free; the mail is taken again once there
        is room."""
        port, strict = free_port(), free_port()
        inst = Instance(services=[
            "127.0.0.1:%d inet n - n - - smtpd" % port,
            "127.0.0.1:%d inet n - n - - smtpd -o queue_minfree=3584k" % strict,
        ], params={"mydestination": "localhost", "mynetworks": "127.0.0.0/8",
                   "message_size_limit": "2m"})
        self.addCleanup(inst.cleanup)
        os.makedirs(inst.spool)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", inst.spool],
                       check=True)
        self.addCleanup(subprocess.run, ["umount", "-l", inst.spool])
        os.chmod(inst.spool, 0o755)
        inst.start()
        filler = os.path.join(inst.spool, "filler")

        def mail_from(p, size=None):
            with smtplib.SMTP("127.0.0.1", p, timeout=30) as c:
                c.ehlo("client.example")
                return c.mail("a@localhost", ["SIZE=%d" % size] if size else [])

        self.assertEqual(mail_from(port)[0], 250)
        self.assertEqual(mail_from(port, 500 * 1024)[0], 250)
        code, text = mail_from(port, 1536 * 1024)   # leaves less than 3 MiB free
        self.assertEqual((code, text), (452, b"4.3.1 Insufficient system storage"))
        self.assertEqual(mail_from(strict)[0], 250)
        with open(filler, "wb") as f:
            f.write(b"x" * (768 * 1024))
        self.assertEqual(mail_from(port)[0], 250)   # about 3.2 MiB free
        self.assertEqual(mail_from(strict)[0], 452)  # wants 3.5 MiB
        with open(filler, "ab") as f:
            f.write(b"x" * (768 * 1024))
        code, text = mail_from(port)
        self.assertEqual((code, text), (452, b"4.3.1 Insufficient system storage"))
        inst.wait_log("not enough free space in %s" % inst.spool)
        self.assertRegex(inst.read_log(), r"NOQUEUE: reject: MAIL from \S+: 452 4\.3\.1 ")
        os.unlink(filler)
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as c:
            self.assertEqual(c.sendmail("a@localhost", ["root@localhost"],
                                        "Subject: room again\r\n\r\nok\r\n"), {})
        self.assertNotIn("Sanitizer", inst.read_log())


if __name__ == "__main__":
    unittest.main(verbosity=2)

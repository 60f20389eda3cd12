"""pop3d against the letter of RFC 1939 and RFC 2595, over raw sockets:
STLS command injection (plain text pipelined behind STLS is dropped) and
the state reset after STLS, commands pipelined behind PASS inside TLS,
how stored messages with odd line ends are sent (bare LF and CR, no
final newline, lines starting with '.', headers only) with LIST and STAT
sizes equal to the octets RETR sends (less the CRLF added to a message
without a final newline, as Dovecot's virtual size), message numbers out
of range, and a client that never reads the answer to many RETRs of a
large message (the session ends at pop3d_timeout, nothing removed)."""

import os
import pwd
import socket
import ssl
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import IS_ROOT, Instance, free_port, make_cert, wait_for  # noqa: E402

PASSWORD = "pop secret 42"

# name in new/, stored bytes, what RETR must send (before ".\r\n"), LIST size.
MESSAGES = [
    ("1.M1P1.crlf", b"From: a@b\r\nSubject: one\r\n\r\n.dot line\r\n..two\r\nbody\r\n",
     b"From: a@b\r\nSubject: one\r\n\r\n..dot line\r\n...two\r\nbody\r\n", 51),
    ("2.M2P2.lf", b"From: a@b\nSubject: lf\n\nbare\rcr inside\nline2\n",
     b"From: a@b\r\nSubject: lf\r\n\r\nbare\rcr inside\r\nline2\r\n", 49),
    ("3.M3P3.nofinal", b"From: a@b\nSubject: nofinal\n\nno final newline",
     b"From: a@b\r\nSubject: nofinal\r\n\r\nno final newline\r\n", 47),
    ("4.M4P4.headers", b"From: a@b\nSubject: headers only",
     b"From: a@b\r\nSubject: headers only\r\n", 32),
    ("5.M5P5.mixed", b"From: a@b\r\nSubject: mixed\r\n\r\n\r\n.\r\n\n\r\r\nx\n",
     b"From: a@b\r\nSubject: mixed\r\n\r\n\r\n..\r\n\r\n\r\r\nx\r\n", 42),
]


def client_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Pop3dConformanceTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        ports = set()
        while len(ports) < 2:
            ports.add(free_port())
        cls.pop_tls, cls.pop_fast = sorted(ports)
        cls.inst = Instance(params={
            "virtual_mailbox_domains": "example.test",
            "mydestination": "localhost",
            "smtpd_tls_cert_file": "",
        }, services=[
            "auth unix y postern-auth n - - auth",
            "127.0.0.1:%d inet n n n - - pop3d" % cls.pop_tls,
            "127.0.0.1:%d inet n n n - - pop3d -o pop3d_tls_auth_only_exempt=127.0.0.0/8 "
            "-o pop3d_timeout=3s" % cls.pop_fast,
        ])
        inst = cls.inst
        try:
            cls.vmail = os.path.join(inst.base, "vmail")
            os.makedirs(cls.vmail)
            if IS_ROOT:
                pw = pwd.getpwnam("vmail")
                os.chown(cls.vmail, pw.pw_uid, pw.pw_gid)
            cert, key = make_cert(inst.etc)
            inst.params.update({"virtual_mailbox_base": cls.vmail,
                                "smtpd_tls_cert_file": cert, "smtpd_tls_key_file": key})
            inst.write_config()
            for user in ("alice", "bob", "carol"):
                r = subprocess.run([inst.program("mailctl"), "-c", inst.etc, "user", "add",
                                    "%s@example.test" % user], input=PASSWORD + "\n",
                                   capture_output=True, text=True, timeout=60)
                if r.returncode != 0:
                    raise AssertionError("user add: " + r.stdout + r.stderr)
            inst.start()
        except BaseException:
            inst.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()

    # -- helpers
    def connect(self, port, timeout=10):
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        f = s.makefile("rb")
        self.assertTrue(f.readline().startswith(b"+OK"))
        return s, f

    def login(self, user):
        s, f = self.connect(self.pop_fast)
        s.sendall(b"USER %s@example.test\r\nPASS %s\r\n" % (user.encode(), PASSWORD.encode()))
        self.assertTrue(f.readline().startswith(b"+OK"))
        line = f.readline()
        self.assertTrue(line.startswith(b"+OK Logged in"), line)
        return s, f

    def store(self, user, name, content):
        """A file put into the Maildir by another program (the mailbox exists)."""
        md = os.path.join(self.vmail, "example.test", user, "Maildir")
        path = os.path.join(md, "new", name)
        with open(path, "wb") as f:
            f.write(content)
        if IS_ROOT:
            pw = pwd.getpwnam("vmail")
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def multiline(self, f):
        lines = []
        while True:
            line = f.readline()
            self.assertTrue(line.endswith(b"\r\n"), line)
            if line == b".\r\n":
                return b"".join(lines)
            lines.append(line)

    # -- tests
    def test_stls_discards_pipelined_plaintext(self):
        s, f = self.connect(self.pop_tls)
        # CAPA in the same packet as STLS must not be answered over TLS.
        s.sendall(b"STLS\r\nCAPA\r\n")
        self.assertTrue(f.readline().startswith(b"+OK"))
        ss = client_context().wrap_socket(s)
        ff = ss.makefile("rb")
        ss.sendall(b"NOOP\r\n")
        self.assertEqual(ff.readline(), b"-ERR NOOP is not valid before login\r\n")
        ss.sendall(b"STLS\r\n")
        self.assertTrue(ff.readline().startswith(b"-ERR"))
        ss.close()

    def test_stls_resets_user_and_pipelining_after_pass(self):
        s, f = self.connect(self.pop_tls)
        s.sendall(b"USER alice@example.test\r\n")
        self.assertTrue(f.readline().startswith(b"-ERR [AUTH]"))
        s.sendall(b"STLS\r\n")
        self.assertTrue(f.readline().startswith(b"+OK"))
        ss = client_context().wrap_socket(s)
        ff = ss.makefile("rb")
        # Nothing said before TLS counts after it.
        ss.sendall(b"PASS " + PASSWORD.encode() + b"\r\n")
        self.assertEqual(ff.readline(), b"-ERR Send USER first\r\n")
        # Commands in the same TLS record as PASS reach the mailbox process.
        ss.sendall(b"USER alice@example.test\r\nPASS " + PASSWORD.encode() +
                   b"\r\nSTAT\r\nNOOP\r\nQUIT\r\n")
        for want in (b"+OK", b"+OK Logged in", b"+OK ", b"+OK", b"+OK Bye"):
            line = ff.readline()
            self.assertTrue(line.startswith(want), line)
        ss.close()

    def test_message_encoding_and_sizes(self):
        s, f = self.login("bob")   # creates the mailbox
        s.sendall(b"QUIT\r\n")
        f.readline()
        s.close()
        for name, content, _, _ in MESSAGES:
            self.store("bob", name, content)
        s, f = self.login("bob")
        s.sendall(b"LIST\r\n")
        self.assertTrue(f.readline().startswith(b"+OK"))
        listed = [tuple(int(x) for x in line.split()) for line in self.multiline(f).splitlines()]
        self.assertEqual(listed, [(i + 1, m[3]) for i, m in enumerate(MESSAGES)])
        s.sendall(b"STAT\r\n")
        self.assertEqual(f.readline(), b"+OK %d %d\r\n" % (len(MESSAGES),
                                                          sum(m[3] for m in MESSAGES)))
        for i, (_, content, want, size) in enumerate(MESSAGES):
            s.sendall(b"RETR %d\r\n" % (i + 1))
            self.assertEqual(f.readline(), b"+OK %d octets\r\n" % size)
            got = self.multiline(f)
            self.assertEqual(got, want)
            # The size counts the message as sent, without the dot-stuffing
            # and without the CRLF added to a last line that had none.
            unstuffed = b"".join(line[1:] if line.startswith(b".") else line
                                 for line in got.splitlines(keepends=True))
            added = 0 if content.endswith((b"\n", b"\r")) else 2
            self.assertEqual(len(unstuffed) - added, size)
        # TOP n 0: the headers and the empty line only; none on a message
        # without a body.
        s.sendall(b"TOP 1 0\r\n")
        self.assertTrue(f.readline().startswith(b"+OK"))
        self.assertEqual(self.multiline(f), b"From: a@b\r\nSubject: one\r\n\r\n")
        s.sendall(b"TOP 4 0\r\n")
        self.assertTrue(f.readline().startswith(b"+OK"))
        self.assertEqual(self.multiline(f), MESSAGES[3][2])
        s.sendall(b"TOP 5 1\r\n")
        self.assertTrue(f.readline().startswith(b"+OK"))
        self.assertEqual(self.multiline(f), b"From: a@b\r\nSubject: mixed\r\n\r\n\r\n")
        # Out of range, signed, overflowing or non-numeric message numbers.
        for cmd in (b"LIST 0", b"LIST -1", b"LIST 6", b"LIST 4294967297",
                    b"LIST 99999999999999999999", b"RETR x", b"TOP 1 -1", b"UIDL 0"):
            s.sendall(cmd + b"\r\n")
            line = f.readline()
            self.assertTrue(line.startswith(b"-ERR"), (cmd, line))
        s.sendall(b"LIST 1 \r\n")
        self.assertEqual(f.readline(), b"+OK 1 51\r\n")
        s.sendall(b"QUIT\r\n")
        self.assertTrue(f.readline().startswith(b"+OK"))
        s.close()

    def test_client_that_never_reads(self):
        s, f = self.login("carol")
        s.sendall(b"QUIT\r\n")
        f.readline()
        s.close()
        self.store("carol", "9.M9P9.big", b"Subject: big\n\n" + (b"x" * 998 + b"\n") * 20000)
        s = socket.create_connection(("127.0.0.1", self.pop_fast), timeout=10)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(b"USER carol@example.test\r\nPASS " + PASSWORD.encode() + b"\r\n" +
                  b"RETR 1\r\n" * 200)
        start = time.monotonic()
        wait_for(lambda: "user=carol@example.test, client=127.0.0.1, reason=disconnected"
                 in self.inst.read_log(), timeout=20, what="the stuck session to end")
        self.assertLess(time.monotonic() - start, 15)
        s.close()
        # The mailbox is free again and nothing was removed.
        s, f = self.login("carol")
        s.sendall(b"STAT\r\n")
        self.assertTrue(f.readline().startswith(b"+OK 1 "))
        s.sendall(b"QUIT\r\n")
        s.close()


if __name__ == "__main__":
    unittest.main()

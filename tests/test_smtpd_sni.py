"""Server certificates by TLS SNI name (tls_server_sni_maps): smtpd over
STARTTLS and implicit TLS, and pop3d over STLS and implicit TLS, present
the certificate the client's name picks (exact name, .parent domain,
without regard to case), the default one without a name or a match;
Python's ssl and openssl s_client as clients. The keys are root's (mode
0600) and smtpd drops privileges: they are read at start. An entry whose
file is missing is logged with table, key and file and the default is
served; a malformed name fails the handshake; resumption keeps working;
a service's -o tls_server_sni_maps= turns it off there; mailctl check
names the bad entries."""
import os
import re
import socket
import ssl
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import Instance, free_port, make_cert  # noqa: E402


def cert_in(directory, common_name):
    os.makedirs(directory)
    return make_cert(directory, common_name)


def ec_cert_in(directory, common_name):
    """As make_cert, with an ECDSA key: the certificates by SNI (RSA)
    must replace it, not be offered beside it."""
    os.makedirs(directory)
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj",
                    "/CN=" + common_name, "-keyout", key, "-out", cert],
                   check=True, capture_output=True, timeout=60)
    os.chmod(key, 0o600)
    return cert, key


def der(cert):
    with open(cert) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def context(version=None):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if version is not None:
        ctx.minimum_version = ctx.maximum_version = version
    return ctx


class Lines:
    """A line reader over a socket that TLS may be started on."""

    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise EOFError("closed")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line.rstrip(b"\r").decode()

    def smtp_reply(self, code):
        while True:
            line = self.line()
            if line[3:4] != "-":
                if int(line[:3]) != code:
                    raise AssertionError("expected %d, got %r" % (code, line))
                return line

    def send(self, text):
        self.sock.sendall(text.encode() + b"\r\n")


def smtp_tls(port, server_name, implicit=False, ctx=None, session=None):
    """The TLS socket after STARTTLS (or at once, implicit), and the first
    EHLO reply read over it (which brings a TLS 1.3 ticket along)."""
    ctx = ctx or context()
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    if not implicit:
        c = Lines(raw)
        c.smtp_reply(220)
        c.send("EHLO client.example.test")
        c.smtp_reply(250)
        c.send("STARTTLS")
        c.smtp_reply(220)
    sock = ctx.wrap_socket(raw, server_hostname=server_name, session=session)
    c = Lines(sock)
    if implicit:
        c.smtp_reply(220)
    c.send("EHLO client.example.test")
    c.smtp_reply(250)
    return sock, c


def pop3_tls(port, server_name, implicit=False):
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    if not implicit:
        c = Lines(raw)
        assert c.line().startswith("+OK")
        c.send("STLS")
        assert c.line().startswith("+OK")
    sock = context().wrap_socket(raw, server_hostname=server_name)
    c = Lines(sock)
    if implicit:
        assert c.line().startswith("+OK")
    return sock, c


class SmtpdSniTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        ports = set()
        while len(ports) < 5:  # free_port() may hand out a port twice
            ports.add(free_port())
        cls.smtp, cls.smtps, cls.smtp_off, cls.pop, cls.pops = sorted(ports)
        cls.inst = inst = Instance(params={
            "mydestination": "mx.example.test",
        }, services=[
            "127.0.0.1:%d inet n - n - - smtpd" % cls.smtp,
            "127.0.0.1:%d inet n - n - - smtpd -o smtpd_tls_wrappermode=yes" % cls.smtps,
            "127.0.0.1:%d inet n - n - - smtpd -o tls_server_sni_maps=" % cls.smtp_off,
            "127.0.0.1:%d inet n n n - - pop3d" % cls.pop,
            "127.0.0.1:%d inet n n n - - pop3d -o pop3d_tls_wrappermode=yes" % cls.pops,
        ])
        try:
            certs = os.path.join(inst.base, "certs")
            cls.default = ec_cert_in(os.path.join(certs, "default"), "default.example")
            cls.a = cert_in(os.path.join(certs, "a"), "mail.a.example")
            cls.b = cert_in(os.path.join(certs, "b"), "*.b.example")
            # One file with key and certificate for mail.a.example; key
            # and certificate apart for .b.example.
            cls.a_pem = os.path.join(certs, "a", "a.pem")
            with open(cls.a_pem, "w") as out:
                for part in (cls.a[1], cls.a[0]):
                    with open(part) as f:
                        out.write(f.read())
            os.chmod(cls.a_pem, 0o600)
            cls.missing = os.path.join(certs, "missing.pem")
            source = os.path.join(inst.etc, "sni")
            with open(source, "w") as f:
                f.write("Mail.A.Example %s\n" % cls.a_pem)
                f.write(".b.example %s, %s\n" % (cls.b[1], cls.b[0]))
                f.write("missing.example %s %s\n" % (cls.missing, cls.b[0]))
            inst.mailctl("map", "build", source, check=True)
            cls.spec = "lmdb:" + source
            inst.params.update({
                "smtpd_tls_cert_file": cls.default[0],
                "smtpd_tls_key_file": cls.default[1],
                "tls_server_sni_maps": cls.spec,
            })
            inst.write_config()
            inst.start()
        except BaseException:
            inst.cleanup()
            raise
        cls.names = {der(cls.default[0]): "default.example", der(cls.a[0]): "mail.a.example",
                     der(cls.b[0]): "*.b.example"}

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()

    def served(self, sock):
        return self.names.get(sock.getpeercert(binary_form=True), "another certificate")

    def smtp_cert(self, port, server_name, implicit=False):
        sock, c = smtp_tls(port, server_name, implicit)
        name = self.served(sock)
        c.send("QUIT")
        c.smtp_reply(221)
        sock.close()
        return name

    def check_smtp(self, port, implicit):
        cases = [(None, "default.example"), ("mail.a.example", "mail.a.example"),
                 ("MAIL.a.Example", "mail.a.example"), ("x.b.example", "*.b.example"),
                 ("y.x.b.example", "*.b.example"), ("b.example", "default.example"),
                 ("other.a.example", "default.example"), ("unknown.test", "default.example"),
                 ("missing.example", "default.example")]
        for server_name, want in cases:
            with self.subTest(server_name=server_name, implicit=implicit):
                self.assertEqual(want, self.smtp_cert(port, server_name, implicit))

    def test_starttls(self):
        self.check_smtp(self.smtp, implicit=False)
        self.inst.wait_log("TLS established: ")
        log = self.inst.read_log()
        self.assertRegex(log, r"TLS established: TLSv1\.[23] with cipher \S+ \(\d+/\d+ bits\), "
                              r"sni=mail\.a\.example\n")
        self.assertRegex(log, r"TLS established: TLSv1\.[23] with cipher \S+ \(\d+/\d+ bits\), "
                              r"sni=MAIL\.a\.Example\n")
        self.assertRegex(log, r"TLS established: TLSv1\.[23] with cipher \S+ \(\d+/\d+ bits\)\n")

    def test_implicit_tls(self):
        self.check_smtp(self.smtps, implicit=True)

    def test_service_override_turns_it_off(self):
        self.assertEqual("default.example", self.smtp_cert(self.smtp_off, "mail.a.example"))

    def test_pop3d(self):
        for port, implicit in ((self.pop, False), (self.pops, True)):
            for server_name, want in ((None, "default.example"),
                                      ("mail.a.example", "mail.a.example"),
                                      ("z.b.example", "*.b.example"),
                                      ("nowhere.test", "default.example")):
                with self.subTest(server_name=server_name, implicit=implicit):
                    sock, c = pop3_tls(port, server_name, implicit)
                    self.assertEqual(want, self.served(sock))
                    c.send("QUIT")
                    self.assertTrue(c.line().startswith("+OK"))
                    sock.close()
        # pop3d logs the handshake as smtpd does, with the name sent.
        self.assertRegex(self.inst.read_log(),
                         r"pop3d\[\d+\]: 127\.0\.0\.1: TLS established: TLSv1\.3 with cipher "
                         r"\S+ \(\d+/\d+ bits\), sni=z\.b\.example")

    def s_client(self, server_name, *extra):
        return subprocess.run(
            ["openssl", "s_client", "-connect", "127.0.0.1:%d" % self.smtp, "-starttls", "smtp",
             "-servername", server_name] + list(extra),
            input="QUIT\r\n", capture_output=True, text=True, timeout=60)

    def test_openssl_s_client(self):
        for server_name, want in (("mail.a.example", "mail.a.example"),
                                  ("www.b.example", r"\*\.b\.example"),
                                  ("nothing.example", "default.example")):
            with self.subTest(server_name=server_name):
                result = self.s_client(server_name)
                self.assertRegex(result.stdout, r"subject=\s*CN\s*=\s*%s\n" % want,
                                 result.stdout[-2000:] + result.stderr[-2000:])

    def test_malformed_name_refused(self):
        result = self.s_client("bad..name")
        self.assertNotEqual(0, result.returncode)
        self.assertNotIn("subject=", result.stdout)
        self.assertRegex(result.stderr, "unrecognized name")
        self.inst.wait_log('STARTTLS failed: TLS handshake: malformed SNI name "bad..name" refused')

    def test_missing_file_logged(self):
        self.inst.wait_log('tls_server_sni_maps: table "%s", key "missing.example": file %s: '
                           'No such file or directory (entry ignored)' % (self.spec, self.missing))

    def test_resumption_with_sni(self):
        for version in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
            with self.subTest(version=version):
                ctx = context(version)
                sock, c = smtp_tls(self.smtp, "mail.a.example", ctx=ctx)
                c.send("QUIT")
                c.smtp_reply(221)
                session = sock.session
                sock.close()
                self.assertTrue(session is not None and session.has_ticket)
                sock, c = smtp_tls(self.smtp, "mail.a.example", ctx=ctx, session=session)
                self.assertTrue(sock.session_reused, "the session was not resumed")
                c.send("QUIT")
                c.smtp_reply(221)
                sock.close()
        self.inst.wait_log(", sni=mail.a.example (resumed)", count=2)

    def test_mailctl_check(self):
        result = self.inst.mailctl("check")
        self.assertEqual(1, result.returncode, result.stdout)
        self.assertRegex(result.stdout, r'error: tls_server_sni_maps: table "%s", key '
                                        r'"missing\.example": file %s: No such file'
                         % (re.escape(self.spec), re.escape(self.missing)))
        self.assertNotIn("mail.a.example", result.stdout.lower())


class SniWithoutDefaultTest(unittest.TestCase):
    def test_warns_without_a_default_certificate(self):
        """The SNI certificates need the default one: without it the
        service has no TLS, and smtpd and pop3d say why."""
        smtp, pop = free_port(), free_port()
        inst = Instance(params={"mydestination": "mx.example.test",
                                "tls_server_sni_maps": "inline:{ mail.a.example=/nowhere.pem }"},
                        services=["127.0.0.1:%d inet n - n - - smtpd" % smtp,
                                  "127.0.0.1:%d inet n n n - - pop3d" % pop])
        self.addCleanup(inst.cleanup)
        inst.start()
        socket.create_connection(("127.0.0.1", smtp), timeout=10).close()
        socket.create_connection(("127.0.0.1", pop), timeout=10).close()
        for name in ("smtpd", "pop3d"):
            inst.wait_log("tls_server_sni_maps is set but %s_tls_cert_file is not: no TLS"
                          % name)

if __name__ == "__main__":
    unittest.main()

"""smtpd behind a load balancer: smtpd_upstream_proxy_protocol = haproxy
(Postfix's setting). Every connection starts with HAProxy's PROXY header,
version 1 (text) or 2 (binary), and the client it names is the one smtpd
serves: in the log, the Received header, and the relay decision
(mynetworks is 127.0.0.0/8, the port's real peer is 127.0.0.1, yet a
proxied 203.0.113.7 may not relay while a proxied 127.0.0.9 may). A
version 2 LOCAL header (a health check) keeps the socket's addresses.
A connection without a valid header (SMTP at once, a malformed header, a
UDP one, silence past smtpd_upstream_proxy_timeout) is logged and closed
without a reply. Bytes sent after the header and before the greeting
are still seen as talking too early: the header is read to its last byte
and no further."""
import os
import re
import socket
import ssl
import struct
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import InstanceTestCase, free_port, make_cert  # noqa: E402

V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v2_header(client, cport, server, sport, command=1, family=None):
    if family is None:
        family = 0x21 if ":" in client else 0x11
    af = socket.AF_INET6 if family == 0x21 else socket.AF_INET
    body = b""
    if family in (0x11, 0x21):
        body = (socket.inet_pton(af, client) + socket.inet_pton(af, server)
                + struct.pack("!HH", cport, sport))
    return V2_SIG + bytes([0x20 | command, family]) + struct.pack("!H", len(body)) + body


class Client:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def reply(self):
        """One whole reply (all its lines), or b"" when the server closed."""
        while True:
            m = re.search(rb"(?m)^\d{3} [^\r\n]*\r\n", self.buf)
            if m:
                out, self.buf = self.buf[:m.end()], self.buf[m.end():]
                return out
            try:
                data = self.sock.recv(4096)
            except ConnectionResetError:
                data = b""
            if not data:
                return b""
            self.buf += data

    def cmd(self, line):
        self.send(line + b"\r\n")
        return self.reply()

    def close(self):
        self.sock.close()


class SmtpdProxyTest(InstanceTestCase):
    def setUp(self):
        self.port = free_port()
        self.inst = self.instance(params={
            "mydestination": "mx.example.test, localhost",
            "mynetworks": "127.0.0.0/8",
            "smtpd_upstream_proxy_timeout": "2s",
        }, services=["127.0.0.1:%d inet n - n - - smtpd -o smtpd_upstream_proxy_protocol=haproxy"
                     % self.port])

    def session(self, header):
        c = Client(self.port)
        self.addCleanup(c.close)
        c.send(header)
        greeting = c.reply()
        self.assertTrue(greeting.startswith(b"220 "), greeting)
        self.assertTrue(c.cmd(b"EHLO client.example").startswith(b"250"))
        return c

    def queued_message(self, qid):
        shown = self.inst.mailctl("queue", "show", qid)
        self.assertEqual(shown.returncode, 0, shown.stderr)
        return shown.stdout

    def test_v1_client_is_the_proxied_one(self):
        c = self.session(b"PROXY TCP4 203.0.113.7 192.0.2.1 45678 25\r\n")
        self.assertTrue(c.cmd(b"MAIL FROM:<a@outside.example>").startswith(b"250"))
        denied = c.cmd(b"RCPT TO:<x@elsewhere.example>")
        self.assertTrue(denied.startswith(b"554 5.7.1"), denied)
        self.assertIn(b"Relay access denied", denied)
        self.assertTrue(c.cmd(b"RCPT TO:<root@mx.example.test>").startswith(b"250"))
        self.assertTrue(c.cmd(b"DATA").startswith(b"354"))
        done = c.cmd(b"Subject: proxied\r\n\r\nhello\r\n.")
        self.assertTrue(done.startswith(b"250"), done)
        qid = re.search(rb"queued as ([0-9A-F]{16})", done).group(1).decode()
        c.cmd(b"QUIT")
        log = self.inst.read_log()
        self.assertRegex(log, r"connect from unknown\[203\.0\.113\.7\]")
        self.inst.wait_log("reject: RCPT from unknown[203.0.113.7]: 554 5.7.1 "
                           "<x@elsewhere.example>: Relay access denied")
        self.assertRegex(self.queued_message(qid), r"Received: from client\.example "
                         r"\(unknown \[203\.0\.113\.7\]\)")
        self.assertNotIn("Sanitizer", log)

    def test_v1_mynetworks_client_may_relay(self):
        c = self.session(b"PROXY TCP4 127.0.0.9 127.0.0.1 40000 25\r\n")
        self.assertTrue(c.cmd(b"MAIL FROM:<a@mx.example.test>").startswith(b"250"))
        ok = c.cmd(b"RCPT TO:<x@elsewhere.example>")
        self.assertTrue(ok.startswith(b"250"), ok)
        self.assertIn("[127.0.0.9]", self.inst.read_log())

    def test_v2_ipv6_and_local(self):
        c = self.session(v2_header("2001:db8::7", 4660, "2001:db8::1", 25))
        self.assertTrue(c.cmd(b"MAIL FROM:<a@outside.example>").startswith(b"250"))
        self.assertTrue(c.cmd(b"RCPT TO:<x@elsewhere.example>").startswith(b"554"))
        c.cmd(b"QUIT")
        self.assertRegex(self.inst.read_log(), r"connect from unknown\[2001:db8::7\]")
        # LOCAL: the proxy's own health check, served as the socket's peer.
        c = self.session(v2_header("0.0.0.0", 0, "0.0.0.0", 0, command=0, family=0))
        self.assertTrue(c.cmd(b"MAIL FROM:<a@mx.example.test>").startswith(b"250"))
        self.assertTrue(c.cmd(b"RCPT TO:<x@elsewhere.example>").startswith(b"250"))

    def closed_silently(self, data, want_log, wait=0.0):
        before = self.inst.read_log().count("haproxy read")
        c = Client(self.port)
        self.addCleanup(c.close)
        if data:
            c.send(data)
        if wait:
            time.sleep(wait)
        self.assertEqual(c.reply(), b"")
        deadline = time.monotonic() + 10
        while self.inst.read_log().count("haproxy read") == before:
            self.assertLess(time.monotonic(), deadline, "no haproxy log line")
            time.sleep(0.05)
        self.assertIn(want_log, self.inst.read_log())

    def test_no_valid_header_is_closed_without_a_word(self):
        self.closed_silently(b"EHLO client.example\r\n", "haproxy read: not a PROXY protocol header")
        self.closed_silently(b"PROXY TCP4 203.0.113.7  192.0.2.1 1 25\r\n",
                             "haproxy read: malformed version 1 header")
        self.closed_silently(v2_header("203.0.113.7", 1, "192.0.2.1", 25, family=0x12),
                             "version 2 header for other than TCP")
        self.closed_silently(b"", "haproxy read: timeout reading the PROXY header")
        self.assertNotIn("Sanitizer", self.inst.read_log())

    def test_talking_after_the_header_is_early(self):
        c = Client(self.port)
        self.addCleanup(c.close)
        c.send(b"PROXY TCP4 203.0.113.8 192.0.2.1 45678 25\r\nEHLO early.example\r\n")
        reply = c.reply()
        self.assertTrue(reply.startswith(b"554 5.5.1"), reply)
        # The reply comes before the log line: wait for it.
        self.inst.wait_log("pre-greeting traffic from unknown[203.0.113.8]", timeout=10)


class SmtpdProxyTlsTest(InstanceTestCase):
    def test_header_comes_before_implicit_tls(self):
        """On an implicit-TLS service (465) the balancer's header comes
        first, then the client's TLS handshake, as HAProxy sends them."""
        port = free_port()
        inst = self.instance(params={"mydestination": "mx.example.test"}, start=False,
                             services=["127.0.0.1:%d inet n - n - - smtpd "
                                       "-o smtpd_upstream_proxy_protocol=haproxy "
                                       "-o smtpd_tls_wrappermode=yes" % port])
        cert_dir = os.path.join(inst.base, "cert")
        os.makedirs(cert_dir)
        cert, key = make_cert(cert_dir, "mx.example.test")
        inst.params.update({"smtpd_tls_cert_file": cert, "smtpd_tls_key_file": key})
        inst.write_config()
        inst.start()
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        raw.sendall(b"PROXY TCP4 198.51.100.4 192.0.2.1 50000 465\r\n")
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with ctx.wrap_socket(raw, server_hostname="mx.example.test") as tls:
            self.assertTrue(tls.recv(4096).startswith(b"220 "))
            tls.sendall(b"QUIT\r\n")
            self.assertTrue(tls.recv(4096).startswith(b"221"))
        inst.wait_log("connect from unknown[198.51.100.4]")
        inst.wait_log("unknown[198.51.100.4]: TLS established: TLSv1.3")


if __name__ == "__main__":
    unittest.main()

"""pop3d behind a load balancer: pop3d_upstream_proxy_protocol = haproxy
(Dovecot's haproxy = yes). Every connection starts with HAProxy's PROXY
header, version 1 (text) or 2 (binary), before the greeting and, on an
implicit-TLS service, before the TLS handshake; the client it names is the
one pop3d serves: in the connect, TLS, login, session end and failed-login
lines, in the auth service's request, and for pop3d_tls_auth_only_exempt
(the proxy service exempts 198.51.100.0/24 and 127.0.0.1: the port's real
peer is always 127.0.0.1, yet a proxied 203.0.113.7 must use STLS). A
version 2 LOCAL header (a health check) keeps the socket's addresses.
Commands sent in the same packet as the header are not lost: the header is
read to its last byte and no further. A connection without a valid header
(POP3 at once, a malformed header, silence past
pop3d_upstream_proxy_timeout) is logged and closed without a greeting. A
service without the setting answers a PROXY line as an unknown command."""
import os
import pwd
import re
import socket
import ssl
import struct
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import (IS_ROOT, Instance, free_port, make_cert, proc_status,  # noqa: E402
                          processes_mentioning, wait_for)

PASSWORD = "proxied pop secret"
V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"
PROXY_TIMEOUT = 2


def tlv(kind, value):
    return bytes([kind]) + struct.pack("!H", len(value)) + value


def ssl_tlv(client_ssl=True, version=b"TLSv1.3", cipher=b"TLS_AES_128_GCM_SHA256"):
    """HAProxy's PP2_TYPE_SSL (send-proxy-v2-ssl): client flags, verify,
    then the version and cipher sub-TLVs."""
    return tlv(0x20, bytes([0x01 if client_ssl else 0x00]) + bytes(4)
               + tlv(0x21, version) + tlv(0x23, cipher))


def v2_header(client, cport, server, sport, command=1, family=None, tlvs=b""):
    if family is None:
        family = 0x21 if ":" in client else 0x11
    af = socket.AF_INET6 if family == 0x21 else socket.AF_INET
    body = b""
    if family in (0x11, 0x21):
        body = (socket.inet_pton(af, client) + socket.inet_pton(af, server)
                + struct.pack("!HH", cport, sport)) + tlvs
    return V2_SIG + bytes([0x20 | command, family]) + struct.pack("!H", len(body)) + body


def client_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Conn:
    """A POP3 connection read line by line, over TCP then maybe TLS."""

    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def line(self):
        """One line without its CRLF, or None once the server closed."""
        while b"\r\n" not in self.buf:
            try:
                data = self.sock.recv(4096)
            except (ConnectionResetError, ssl.SSLError):
                data = b""
            if not data:
                return None
            self.buf += data
        out, _, self.buf = self.buf.partition(b"\r\n")
        return out

    def cmd(self, text):
        self.send(text + b"\r\n")
        return self.line()

    def starttls(self):
        self.sock = client_context().wrap_socket(self.sock, server_hostname="mx.example.test")

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Pop3dProxyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        ports = set()
        while len(ports) < 4:        # free_port() may hand out a port twice
            ports.add(free_port())
        cls.proxy, cls.proxy_tls, cls.plain, cls.untrusted = sorted(ports)
        proxy = "-o pop3d_upstream_proxy_protocol=haproxy"
        cls.inst = Instance(params={
            "virtual_mailbox_domains": "example.test",
            "auth_failure_delay": "1s",
            "pop3d_upstream_proxy_timeout": "%ds" % PROXY_TIMEOUT,
        }, services=[
            "auth unix y postern-auth n - - auth",
            "127.0.0.1:%d inet n n n - - pop3d %s "
            "-o pop3d_tls_auth_only_exempt=198.51.100.0/24,127.0.0.1/32 "
            "-o pop3d_upstream_proxy_trusted_networks=127.0.0.0/8" % (cls.proxy, proxy),
            # The balancer must be in 192.0.2.0/24: loopback is not.
            "127.0.0.1:%d inet n n n - - pop3d %s "
            "-o pop3d_upstream_proxy_trusted_networks=192.0.2.0/24" % (cls.untrusted, proxy),
            "127.0.0.1:%d inet n n n - - pop3d %s -o pop3d_tls_wrappermode=yes"
            % (cls.proxy_tls, proxy),
            "127.0.0.1:%d inet n n n - - pop3d -o pop3d_tls_auth_only_exempt=127.0.0.0/8"
            % cls.plain,
        ])
        inst = cls.inst
        try:
            cert, key = make_cert(inst.etc, "mx.example.test")
            inst.params.update({"pop3d_tls_cert_file": cert, "pop3d_tls_key_file": key})
            inst.add_vmail(users=["%s@example.test" % u for u in
                                  ("alice", "bob", "carol", "dave", "erin", "frank", "grace")],
                           password=PASSWORD)
            inst.start()
        except BaseException:
            inst.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()

    def tearDown(self):
        self.assertNotIn("Sanitizer", self.inst.read_log())

    def conn(self, port, header=b""):
        c = Conn(port)
        self.addCleanup(c.close)
        if header:
            c.send(header)
        return c

    def greeted(self, port, header):
        c = self.conn(port, header)
        greeting = c.line()
        self.assertTrue(greeting and greeting.startswith(b"+OK "), greeting)
        return c

    def login(self, c, user):
        self.assertTrue(c.cmd(b"USER %s@example.test" % user).startswith(b"+OK"))
        reply = c.cmd(b"PASS " + PASSWORD.encode())
        self.assertTrue(reply.startswith(b"+OK"), reply)

    def quit(self, c):
        self.assertEqual(c.cmd(b"QUIT")[:3], b"+OK")

    def wait_log(self, text):
        self.inst.wait_log(text, timeout=10)

    # -- the proxied client is the client
    def test_v1_login(self):
        c = self.greeted(self.proxy, b"PROXY TCP4 198.51.100.7 192.0.2.1 45678 110\r\n")
        self.login(c, b"alice")
        self.assertTrue(c.cmd(b"STAT").startswith(b"+OK 0 0"))
        self.quit(c)
        self.wait_log("connect from 198.51.100.7")
        self.wait_log("login: user=alice@example.test, client=198.51.100.7, method=USER, "
                      "tls=no, result=ok")
        self.wait_log("auth: user=alice@example.test service=pop3 client=198.51.100.7 "
                      "result=ok")
        self.wait_log("session end: user=alice@example.test, client=198.51.100.7, reason=quit")
        for line in self.inst.read_log().splitlines():
            if "alice@example.test" in line:
                self.assertNotIn("127.0.0.1", line)

    def test_v2_pipelined_with_the_header(self):
        """Header, login and commands in one packet: nothing is lost."""
        c = self.conn(self.proxy, v2_header("198.51.100.9", 4660, "192.0.2.1", 110)
                      + b"USER bob@example.test\r\nPASS " + PASSWORD.encode()
                      + b"\r\nSTAT\r\nNOOP\r\nQUIT\r\n")
        replies = [c.line() for _ in range(6)]
        self.assertTrue(replies[0].startswith(b"+OK "), replies)   # greeting
        self.assertTrue(replies[1].startswith(b"+OK"), replies)    # USER
        self.assertTrue(replies[2].startswith(b"+OK"), replies)    # PASS
        self.assertTrue(replies[3].startswith(b"+OK 0 0"), replies)  # STAT
        self.assertTrue(replies[4].startswith(b"+OK"), replies)    # NOOP
        self.assertTrue(replies[5].startswith(b"+OK Bye"), replies)
        self.wait_log("connect from 198.51.100.9")
        self.wait_log("login: user=bob@example.test, client=198.51.100.9, method=USER, "
                      "tls=no, result=ok")
        self.wait_log("session end: user=bob@example.test, client=198.51.100.9, reason=quit")

    def test_v2_ipv6_and_failed_login(self):
        c = self.greeted(self.proxy, v2_header("2001:db8::7", 4660, "2001:db8::1", 110))
        # Not exempt: the socket's 127.0.0.1 is, the proxied client is not.
        self.assertTrue(c.cmd(b"USER carol@example.test").startswith(b"-ERR [AUTH]"))
        self.quit(c)
        self.wait_log("connect from 2001:db8::7")
        self.wait_log("disconnect from 2001:db8::7")
        c = self.greeted(self.proxy, b"PROXY TCP4 198.51.100.8 192.0.2.1 40000 110\r\n")
        self.assertTrue(c.cmd(b"USER carol@example.test").startswith(b"+OK"))
        self.assertTrue(c.cmd(b"PASS wrong").startswith(b"-ERR [AUTH]"))
        self.quit(c)
        self.wait_log("login: user=carol@example.test, client=198.51.100.8, method=USER, "
                      "tls=no, result=fail (1 of 3)")
        self.wait_log("auth: user=carol@example.test service=pop3 client=198.51.100.8 "
                      "result=fail")
        self.wait_log("pop3-login: Disconnected (auth failed, 1 attempts")
        self.assertRegex(self.inst.read_log(),
                         r"user=<carol@example.test>, method=USER, rip=198\.51\.100\.8, "
                         r"lip=192\.0\.2\.1")

    def test_v2_local_keeps_the_socket_address(self):
        before = self.inst.read_log().count("connect from 127.0.0.1")
        c = self.greeted(self.proxy, v2_header("0.0.0.0", 0, "0.0.0.0", 0, command=0, family=0))
        self.login(c, b"dave")
        self.quit(c)
        self.wait_log("login: user=dave@example.test, client=127.0.0.1, method=USER, "
                      "tls=no, result=ok")
        self.assertEqual(self.inst.read_log().count("connect from 127.0.0.1"), before + 1)

    def test_stls_after_the_header(self):
        c = self.greeted(self.proxy, b"PROXY TCP4 203.0.113.7 192.0.2.1 50000 110\r\n")
        self.assertTrue(c.cmd(b"USER erin@example.test").startswith(b"-ERR [AUTH]"))
        self.assertTrue(c.cmd(b"STLS").startswith(b"+OK"))
        c.starttls()
        self.login(c, b"erin")
        self.quit(c)
        self.wait_log("203.0.113.7: TLS established: TLSv1.3")
        self.wait_log("login: user=erin@example.test, client=203.0.113.7, method=USER, "
                      "tls=TLSv1.3")

    def test_implicit_tls_header_before_the_handshake(self):
        raw = self.conn(self.proxy_tls, b"PROXY TCP4 198.51.100.20 192.0.2.1 50001 995\r\n")
        raw.starttls()
        greeting = raw.line()
        self.assertTrue(greeting and greeting.startswith(b"+OK "), greeting)
        self.login(raw, b"frank")
        self.quit(raw)
        self.wait_log("connect from 198.51.100.20")
        self.wait_log("198.51.100.20: TLS established: TLSv1.3")
        self.wait_log("login: user=frank@example.test, client=198.51.100.20, method=USER, "
                      "tls=TLSv1.3")
        self.wait_log("session end: user=frank@example.test, client=198.51.100.20")

    def test_only_trusted_balancers(self):
        """pop3d_upstream_proxy_trusted_networks (Dovecot's
        haproxy_trusted_networks): a connection from elsewhere is closed at
        once, its header unread, no greeting."""
        before = self.inst.read_log().count("connect from")
        c = self.conn(self.untrusted, b"PROXY TCP4 198.51.100.7 192.0.2.1 45678 110\r\n")
        self.assertIsNone(c.line())
        self.wait_log("haproxy: connection from 127.0.0.1, not in "
                      "pop3d_upstream_proxy_trusted_networks: closed")
        self.assertEqual(self.inst.read_log().count("connect from"), before)

    # -- a balancer that terminates TLS says so (PP2_TYPE_SSL)
    def test_v2_ssl_tlv_counts_as_tls(self):
        c = self.greeted(self.proxy, v2_header("203.0.113.50", 50010, "192.0.2.1", 995,
                                               tlvs=tlv(0x04, b"pad") + ssl_tlv()))
        c.send(b"CAPA\r\n")
        capa = []
        while True:
            line = c.line()
            self.assertIsNotNone(line)
            if line == b".":
                break
            capa.append(line)
        self.assertTrue(capa[0].startswith(b"+OK"), capa)
        self.assertIn(b"USER", capa)          # plain-text login allowed: the client is on TLS
        self.assertNotIn(b"STLS", capa)       # and TLS inside TLS is not offered
        self.assertTrue(c.cmd(b"STLS").startswith(b"-ERR"))
        self.login(c, b"grace")
        self.quit(c)
        self.wait_log("connect from 203.0.113.50")
        self.wait_log("203.0.113.50: TLS established: TLSv1.3 with cipher "
                      "TLS_AES_128_GCM_SHA256 (upstream proxy)")
        self.wait_log("login: user=grace@example.test, client=203.0.113.50, method=USER, "
                      "tls=TLSv1.3 with cipher TLS_AES_128_GCM_SHA256 (upstream proxy), "
                      "result=ok")

    def test_v2_ssl_tlv_without_client_ssl_is_plain_text(self):
        c = self.greeted(self.proxy, v2_header("203.0.113.51", 50011, "192.0.2.1", 110,
                                               tlvs=ssl_tlv(client_ssl=False)))
        self.assertTrue(c.cmd(b"USER grace@example.test").startswith(b"-ERR [AUTH]"))
        self.quit(c)
        self.wait_log("disconnect from 203.0.113.51")
        self.assertNotIn("203.0.113.51: TLS established", self.inst.read_log())

    # -- no valid header: closed without a word
    def closed_silently(self, port, data, want_log):
        log = self.inst.read_log()
        before, connects = log.count("haproxy read"), log.count("connect from")
        c = self.conn(port, data)
        started = time.monotonic()
        self.assertIsNone(c.line())
        took = time.monotonic() - started
        wait_for(lambda: self.inst.read_log().count("haproxy read") > before, timeout=10,
                 what="haproxy log line")
        time.sleep(0.2)
        log = self.inst.read_log()
        self.assertIn(want_log, log)
        # Not a session: no connect (or disconnect) line.
        self.assertEqual(log.count("connect from"), connects)
        return took

    def test_no_valid_header_is_closed_without_a_greeting(self):
        self.closed_silently(self.proxy, b"USER alice@example.test\r\n",
                             "haproxy read: not a PROXY protocol header from 127.0.0.1")
        self.closed_silently(self.proxy, b"PROXY TCP4 198.51.100.7  192.0.2.1 1 110\r\n",
                             "haproxy read: malformed version 1 header")
        self.closed_silently(self.proxy, v2_header("198.51.100.7", 1, "192.0.2.1", 110,
                                                   family=0x12),
                             "version 2 header for other than TCP")
        # A TLV that runs past the header.
        self.closed_silently(self.proxy, v2_header("198.51.100.7", 1, "192.0.2.1", 110,
                                                   tlvs=b"\x20\x00\x09\x01"),
                             "haproxy read: malformed version 2 TLV")
        # A TLS ClientHello where the header should be, on the pop3s service.
        self.closed_silently(self.proxy_tls, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"
                             + bytes(32), "haproxy read: not a PROXY protocol header")
        took = self.closed_silently(self.proxy, b"",
                                    "haproxy read: timeout reading the PROXY header")
        self.assertGreater(took, PROXY_TIMEOUT - 0.5)
        self.assertLess(took, PROXY_TIMEOUT + 3)

    @unittest.skipUnless(IS_ROOT, "needs root for privilege separation")
    def test_header_is_read_unprivileged(self):
        login_uid = pwd.getpwnam("postern-login").pw_uid

        def login_processes():
            found = []
            for pid in processes_mentioning(self.inst.etc):
                st = proc_status(pid)
                if st.get("Name") == "pop3d" and st["Uid"].split() == [str(login_uid)] * 4:
                    found.append(pid)
            return found

        wait_for(lambda: not login_processes(), timeout=5, what="idle sessions to end")
        c = self.conn(self.proxy)
        c.send(b"PROXY TCP4 198.51.")   # the rest is late: the reader waits
        wait_for(login_processes, timeout=PROXY_TIMEOUT / 2,
                 what="a login process reading the header")
        c.send(b"100.30 192.0.2.1 50002 110\r\n")
        greeting = c.line()
        self.assertTrue(greeting and greeting.startswith(b"+OK "), greeting)
        self.quit(c)
        self.wait_log("connect from 198.51.100.30")

    # -- a service without the setting
    def test_proxy_line_is_a_bad_command_without_the_setting(self):
        c = self.greeted(self.plain, b"")
        reply = c.cmd(b"PROXY TCP4 198.51.100.7 192.0.2.1 45678 110")
        self.assertTrue(reply.startswith(b"-ERR"), reply)
        self.assertTrue(c.cmd(b"CAPA").startswith(b"+OK"))
        while c.line() != b".":
            pass
        self.quit(c)
        self.assertNotIn("198.51.100.7 192.0.2.1", self.inst.read_log())
        self.assertTrue(re.search(r"connect from 127\.0\.0\.1", self.inst.read_log()))


if __name__ == "__main__":
    unittest.main()

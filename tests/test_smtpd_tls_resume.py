"""smtpd TLS session resumption: tickets made under master's keys are
accepted by every smtpd process (each connection here meets a new process:
max_use=1), over STARTTLS and implicit TLS, TLS 1.3 and 1.2; Python's ssl
and openssl s_client -reconnect as clients; smtpd_tls_session_cache_timeout
= 0 (also after a reload) makes and accepts none."""
import os
import re
import socket
import ssl
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import InstanceTestCase, free_port, wait_for  # noqa: E402


def make_cert(directory):
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=mx.example.test", "-keyout", key, "-out", cert],
                   check=True, capture_output=True, timeout=60)
    os.chmod(key, 0o600)
    return cert, key


class Client:
    """STARTTLS (or implicit TLS) by hand, so that a session can be offered."""

    def __init__(self, port, ctx, session=None, implicit=False):
        self.buf = b""
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        if implicit:
            self.sock = ctx.wrap_socket(raw, session=session)
        else:
            self.sock = raw
            self.expect(220)
            self.command("EHLO client.example.test", 250)
            self.command("STARTTLS", 220)
            self.sock = ctx.wrap_socket(raw, session=session)
        if implicit:
            self.expect(220)
        # The reply carries the TLS 1.3 ticket along.
        self.command("EHLO client.example.test", 250)

    def expect(self, code):
        while True:
            while b"\n" not in self.buf:
                chunk = self.sock.recv(4096)
                if not chunk:
                    raise EOFError("closed")
                self.buf += chunk
            line, _, self.buf = self.buf.partition(b"\n")
            if len(line) < 4 or line[3:4] != b"-":
                if int(line[:3]) != code:
                    raise AssertionError("expected %d, got %r" % (code, line))
                return

    def command(self, text, code):
        self.sock.sendall(text.encode() + b"\r\n")
        self.expect(code)

    def quit(self):
        self.command("QUIT", 221)
        session, reused = self.sock.session, self.sock.session_reused
        self.sock.close()
        return session, reused


class SmtpdTlsResumeTest(InstanceTestCase):
    def start(self, timeout="3600s"):
        self.mx, self.smtps = free_port(), free_port()
        inst = self.instance(params={
            "mydestination": "mx.example.test",
            "smtpd_tls_session_cache_timeout": timeout,
        }, services=[
            "127.0.0.1:%d inet n - n - - smtpd -o max_use=1" % self.mx,
            "127.0.0.1:%d inet n - n - - smtpd -o max_use=1 -o smtpd_tls_wrappermode=yes"
            % self.smtps,
        ], start=False)
        cert, key = make_cert(inst.etc)
        inst.params["smtpd_tls_cert_file"] = cert
        inst.params["smtpd_tls_key_file"] = key
        inst.write_config()
        inst.start()
        return inst

    def context(self, version=None):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        if version is not None:
            ctx.minimum_version = ctx.maximum_version = version
        return ctx

    def smtpd_pids(self, inst):
        return set(re.findall(r"postern/smtpd\[(\d+)\]", inst.read_log()))

    def resume(self, inst, port, version, implicit=False):
        ctx = self.context(version)
        session, reused = Client(port, ctx, implicit=implicit).quit()
        self.assertFalse(reused)
        self.assertTrue(session is not None and session.has_ticket, "no ticket given")
        _, reused = Client(port, ctx, session=session, implicit=implicit).quit()
        self.assertTrue(reused, "the second connection did not resume the session")
        inst.wait_log("(resumed)")

    def test_resumed_by_other_processes(self):
        inst = self.start()
        self.resume(inst, self.mx, ssl.TLSVersion.TLSv1_3)
        self.resume(inst, self.mx, ssl.TLSVersion.TLSv1_2)
        self.resume(inst, self.smtps, ssl.TLSVersion.TLSv1_3, implicit=True)
        # max_use=1: every connection above was served by a process of its own.
        wait_for(lambda: len(self.smtpd_pids(inst)) >= 6, what="six smtpd processes")
        established = re.findall(r"TLS established: (.*)", inst.read_log())
        self.assertEqual(6, len(established), established)
        self.assertEqual(3, sum(1 for line in established if line.endswith("(resumed)")))

    def test_openssl_reconnect(self):
        # TLS 1.2: s_client -reconnect drops a TLS 1.3 connection before its
        # ticket arrives (the ticket follows the handshake there).
        inst = self.start()
        result = subprocess.run(
            ["openssl", "s_client", "-connect", "127.0.0.1:%d" % self.mx, "-starttls", "smtp",
             "-tls1_2", "-reconnect"], input="", capture_output=True, text=True, timeout=60)
        reused = re.findall(r"^Reused, ", result.stdout, re.M)
        self.assertGreaterEqual(len(reused), 4, result.stdout[-2000:])
        inst.wait_log("(resumed)")

    def test_no_tickets_with_timeout_zero(self):
        inst = self.start(timeout="0")
        ctx = self.context(ssl.TLSVersion.TLSv1_2)
        session, _ = Client(self.mx, ctx).quit()
        self.assertFalse(session.has_ticket)
        _, reused = Client(self.mx, ctx, session=session).quit()
        self.assertFalse(reused)

    def test_reload_to_zero_stops_resumption(self):
        inst = self.start()
        ctx = self.context(ssl.TLSVersion.TLSv1_3)
        session, _ = Client(self.mx, ctx).quit()
        self.assertTrue(session.has_ticket)
        inst.params["smtpd_tls_session_cache_timeout"] = "0"
        inst.write_config()
        inst.mailctl("reload", check=True)
        _, reused = Client(self.mx, ctx, session=session).quit()
        self.assertFalse(reused, "a ticket was accepted after tickets were turned off")
        self.assertNotIn("(resumed)", inst.read_log())

    def test_ticket_outlives_one_key_replacement(self):
        # Keys are replaced every 4 s and the one before is kept: a ticket
        # resumes for its whole lifetime (across the replacement that falls
        # in it), and not after its key is gone.
        inst = self.start(timeout="4s")
        ctx = self.context(ssl.TLSVersion.TLSv1_2)
        session, _ = Client(self.mx, ctx).quit()
        taken = time.monotonic()
        while time.monotonic() < taken + 3.5:
            _, reused = Client(self.mx, ctx, session=session).quit()
            self.assertTrue(reused, "a ticket in its lifetime was refused")
            time.sleep(0.3)
        time.sleep(max(0.0, taken + 8.5 - time.monotonic()))
        _, reused = Client(self.mx, ctx, session=session).quit()
        self.assertFalse(reused, "a ticket outlived its key")

    def test_running_process_learns_new_keys(self):
        # One long-lived smtpd process (maxproc 1) started before the keys
        # were replaced accepts a ticket that a new process made after.
        inst = self.start(timeout="2s")
        lasting = free_port()
        inst.services.append("127.0.0.1:%d inet n - n - 1 smtpd" % lasting)
        inst.write_config()
        inst.mailctl("reload", check=True)
        ctx = self.context(ssl.TLSVersion.TLSv1_3)
        wait_for(lambda: self.connects(lasting), what="the lasting smtpd")
        Client(lasting, ctx).quit()
        pids = self.smtpd_pids(inst)
        time.sleep(2.5)  # at least one replacement
        session, _ = Client(self.mx, ctx).quit()
        _, reused = Client(lasting, ctx, session=session).quit()
        self.assertTrue(reused, "the running process did not get the new keys")
        self.assertEqual(1, len(self.smtpd_pids(inst) - pids),
                         "expected only the max_use=1 process to be new")

    def connects(self, port):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
            return True
        except OSError:
            return False


if __name__ == "__main__":
    unittest.main()

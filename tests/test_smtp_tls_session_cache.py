"""The smtp client's TLS session cache (smtp_tls_session_cache_database,
on by default in data_directory): a sender relaying to a STARTTLS server
(Python's ssl, which issues session tickets) over a new connection per
message, from a new smtp process each time (max_use=1, no connection
cache), resumes the first message's TLS session for the second; the
server sees the abbreviated handshake and the sender logs "TLS connection
reused". With smtp_tls_session_cache_database empty every connection has
a full handshake. A session made under may is not offered under verify
(the level and the names checked are in the cache key); one made under
verify is resumed under verify, with the server still verified. An entry
that is not a session is logged, dropped, and costs nothing."""

import os
import re
import shutil
import ssl
import stat
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import Instance, InstanceTestCase, wait_for  # noqa: E402
from mail_peers import (SENDER_SERVICES, ScriptedServer, free_port_on,  # noqa: E402
                        make_cert, make_receiver, maildir_messages, sender_params, submit)

# A new smtp process for every delivery, and no idle connection kept: each
# message needs a new connection, and only the cache file links them.
SERVICES = [s.replace("smtp unix - n n - - smtp", "smtp unix - n n - - smtp -o max_use=1")
            for s in SENDER_SERVICES]


class TlsReceiver:
    """An ESMTP server offering STARTTLS on address:port with a certificate
    for mx.test; records per connection whether TLS was used and whether
    the session was resumed, and the recipients it took."""

    def __init__(self, test, address, port, directory):
        self.cert, self.key = make_cert(directory, "mx.test")
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(self.cert, self.key)
        # Its session tickets are good for the server's lifetime.
        self.lock = threading.Lock()
        self.handshakes = []  # "full" or "resumed", in order
        self.rcpts = []
        self.server = ScriptedServer(address, port, self._session)
        test.addCleanup(self.server.stop)

    def _session(self, peer, n):
        peer.send("220 mx.test ESMTP\r\n")
        tls = False
        while True:
            cmd = peer.line()
            verb = cmd[:4].upper()
            if verb == "EHLO":
                lines = ["mx.test", "8BITMIME"] + ([] if tls else ["STARTTLS"])
                peer.send("".join("250-%s\r\n" % l for l in lines[:-1]) + "250 %s\r\n" % lines[-1])
            elif cmd.upper() == "STARTTLS" and not tls:
                peer.send("220 2.0.0 go ahead\r\n")
                peer.conn = self.ctx.wrap_socket(peer.conn, server_side=True)
                peer.buf = b""
                tls = True
                with self.lock:
                    self.handshakes.append("resumed" if peer.conn.session_reused else "full")
            elif verb == "MAIL":
                peer.send("250 2.1.0 ok\r\n")
            elif verb == "RCPT":
                with self.lock:
                    self.rcpts.append(cmd[8:].split(">")[0].lstrip("<"))
                peer.send("250 2.1.5 ok\r\n")
            elif verb == "DATA":
                peer.send("354 go ahead\r\n")
                peer.data()
                peer.send("250 2.0.0 queued\r\n")
            elif verb == "RSET":
                peer.send("250 ok\r\n")
            elif verb == "QUIT":
                peer.send("221 bye\r\n")
                return
            else:
                peer.send("502 5.5.2 no\r\n")

    def seen(self):
        with self.lock:
            return list(self.handshakes)


def tls_lines(inst):
    """The sender's "TLS connection" log lines."""
    return [l for l in inst.read_log().splitlines() if "TLS connection" in l]


class SmtpTlsSessionCacheTest(InstanceTestCase):
    def setUp(self):
        self.port = free_port_on("127.0.0.2", "127.0.0.3")
        certs = tempfile.mkdtemp(prefix="postern-scache-")
        self.addCleanup(shutil.rmtree, certs, True)
        self.recv = TlsReceiver(self, "127.0.0.3", self.port, certs)
        self.relay = "127.0.0.3[127.0.0.3]:%d" % self.port

    def sender(self, **params):
        """A started sender; "{data}" in a value is its data_directory
        (which master makes writable by the smtp user)."""
        inst = Instance(params=sender_params(None, self.port,
                                             relayhost="[127.0.0.3]:%d" % self.port,
                                             smtp_connection_cache_time_limit="0s"),
                        services=SERVICES)
        self.addCleanup(inst.cleanup)
        data = inst.params["data_directory"]
        inst.params.update({k: v.replace("{data}", data) for k, v in params.items()})
        inst.write_config()
        inst.start()
        return inst

    def deliver(self, inst, n, rcpt="u@far.example"):
        """Send message n and wait until the receiver took it and the
        sender logged its outcome (n counts from 1 per recipient)."""
        submit(inst, "s@out.sender.test", [rcpt], b"Subject: %d\n\nbody\n" % n)
        inst.wait_log("to=<%s>" % rcpt, timeout=30, count=n)
        line = [l for l in inst.read_log().splitlines() if "to=<%s>" % rcpt in l][n - 1]
        self.assertIn("status=sent", line)
        self.assertNotIn("Sanitizer", inst.read_log())
        return line

    def test_second_connection_resumes(self):
        send = self.sender()
        self.deliver(send, 1)
        self.deliver(send, 2)
        self.assertEqual(self.recv.seen(), ["full", "resumed"])
        lines = tls_lines(send)
        self.assertEqual(len(lines), 2, lines)
        self.assertRegex(lines[0], r"smtp\[\d+\]: Untrusted TLS connection established to %s: "
                         r"TLSv1\.[23] with cipher \S+ \(\d+/\d+ bits\)$" % re.escape(self.relay))
        self.assertRegex(lines[1], r"smtp\[\d+\]: Untrusted TLS connection reused to %s: "
                         r"TLSv1\.[23] with cipher " % re.escape(self.relay))
        # Two smtp processes: what links them is the file.
        pids = [re.search(r"smtp\[(\d+)\]", l).group(1) for l in lines]
        self.assertNotEqual(pids[0], pids[1])
        # The delivery summary is as for any TLS delivery.
        self.assertRegex(self.deliver(send, 3), r"tls=TLSv1\.[23] with cipher \S+ "
                         r"\(\d+/\d+ bits\), untrusted$")
        self.assertEqual(self.recv.seen(), ["full", "resumed", "resumed"])
        # The default file, in data_directory, made by the smtp process
        # (this user: the service is not "unprivileged" here), 0600.
        path = os.path.join(send.params["data_directory"], "smtp_scache.lmdb")
        st = os.stat(path)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        self.assertEqual(st.st_uid, os.geteuid())
        log = send.read_log()
        self.assertNotIn("TLS session cache", log)
        self.assertNotIn("smtp_tls_session_cache", log)
        self.assertNotIn("Sanitizer", log)
        self.assertNotIn("killed by signal", log)

    def test_postern_to_postern(self):
        # Postern's smtpd gives tickets under master's keys: the second
        # delivery resumes the session with another smtpd process.
        port = free_port_on("127.0.0.2", "127.0.0.3")
        recv, vmail = make_receiver(self, "127.0.0.3", port, ["far.example"], ["u@far.example"],
                                    smtpd_options="-o max_use=1", tls_name="mx.test")
        send = Instance(params=sender_params(None, port, relayhost="[127.0.0.3]:%d" % port,
                                             smtp_connection_cache_time_limit="0s"),
                        services=SERVICES)
        self.addCleanup(send.cleanup)
        send.start()
        self.deliver(send, 1)
        self.deliver(send, 2)
        wait_for(lambda: len(maildir_messages(vmail, "u@far.example")) == 2, timeout=30,
                 what="both messages in the receiver's mailbox")
        lines = tls_lines(send)
        self.assertEqual(2, len(lines), lines)
        self.assertIn("TLS connection established to", lines[0])
        self.assertIn("TLS connection reused to", lines[1])
        established = re.findall(r"smtpd\[(\d+)\]: .*TLS established: (.*)", recv.read_log())
        self.assertEqual(2, len(established), established)
        self.assertFalse(established[0][1].endswith("(resumed)"))
        self.assertTrue(established[1][1].endswith("(resumed)"))
        self.assertNotEqual(established[0][0], established[1][0])

    def test_tls12_session_resumes(self):
        self.recv.ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        send = self.sender()
        self.deliver(send, 1)
        self.deliver(send, 2)
        self.assertEqual(self.recv.seen(), ["full", "resumed"])
        self.assertRegex(tls_lines(send)[1], r"Untrusted TLS connection reused to %s: TLSv1\.2 "
                         % re.escape(self.relay))

    def test_no_cache_when_empty(self):
        send = self.sender(smtp_tls_session_cache_database="")
        self.deliver(send, 1)
        self.deliver(send, 2)
        self.assertEqual(self.recv.seen(), ["full", "full"])
        lines = tls_lines(send)
        self.assertEqual(len(lines), 2, lines)
        self.assertTrue(all("TLS connection established" in l for l in lines), lines)
        self.assertFalse(os.path.exists(
            os.path.join(send.params["data_directory"], "smtp_scache.lmdb")))

    def test_no_cache_when_timeout_zero(self):
        send = self.sender(smtp_tls_session_cache_timeout="0")
        self.deliver(send, 1)
        self.deliver(send, 2)
        self.assertEqual(self.recv.seen(), ["full", "full"])

    def test_may_session_not_used_for_verify(self):
        """Postfix's btree: form names the same file; the level and the
        certificate names are part of the key."""
        send = self.sender(smtp_tls_session_cache_database="btree:{data}/scache",
                           smtp_tls_CAfile=self.recv.cert)
        cache = send.params["smtp_tls_session_cache_database"]
        self.deliver(send, 1)
        self.assertTrue(os.path.exists(cache[len("btree:"):] + ".lmdb"))
        # The same server, now at the verify level.
        send.reload(params={"smtp_tls_security_level": "verify",
                            "smtp_tls_verify_cert_match": "mx.test"})
        self.deliver(send, 2)
        self.assertEqual(self.recv.seen(), ["full", "full"])
        lines = tls_lines(send)
        self.assertRegex(lines[-1], r"Verified TLS connection established to %s: "
                         % re.escape(self.relay))
        # A session made under verify is resumed under verify, and the
        # server counts as verified.
        line = self.deliver(send, 3)
        self.assertEqual(self.recv.seen(), ["full", "full", "resumed"])
        self.assertRegex(line, r"tls=TLSv1\.[23] with cipher \S+ \(\d+/\d+ bits\), verified$")
        self.assertRegex(tls_lines(send)[-1], r"Verified TLS connection reused to %s: "
                         % re.escape(self.relay))
        # Other names to match: a new key again.
        send.reload(params={"smtp_tls_verify_cert_match": "mx.test, other.test"})
        self.deliver(send, 4)
        self.assertEqual(self.recv.seen(), ["full", "full", "resumed", "full"])

    def test_corrupt_entry_is_dropped(self):
        """Every entry overwritten with junk (a value of the same size, so
        the file stays a valid LMDB): logged once, then a full handshake,
        then resumption again."""
        send = self.sender(smtp_tls_session_cache_database="{data}/scache.lmdb")
        path = send.params["smtp_tls_session_cache_database"]
        self.deliver(send, 1)
        self.assertEqual(self.recv.seen(), ["full"])
        with open(path, "r+b") as f:
            data = f.read()
            # The saved session is DER: a SEQUENCE (0x30 0x82 ...) holding
            # version 1 (02 01 01). Spoil every one.
            spoiled = re.sub(rb"\x30\x82(..)\x02\x01\x01",
                             lambda m: b"\x31" + m.group(0)[1:], data, flags=re.S)
            self.assertNotEqual(spoiled, data)
            f.seek(0)
            f.write(spoiled)
        self.deliver(send, 2)
        self.deliver(send, 3)
        self.assertEqual(self.recv.seen(), ["full", "full", "resumed"])
        log = send.read_log()
        self.assertEqual(log.count("removed: the session cannot be decoded"), 1, log)


if __name__ == "__main__":
    unittest.main()

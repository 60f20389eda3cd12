"""lmtp, the LMTP client (RFC 2033; Postfix's lmtp(8)): the smtp sources
built as lmtp, run by master.conf's "lmtp unix - n n - - lmtp", routed to
by virtual_transport = lmtp:unix:private/test-lmtp (a socket below
queue_directory) and by transport_maps lmtp:inet:127.0.0.1:PORT.

A Python LMTP server answers LHLO (EHLO is refused), takes MAIL, RCPT and
DATA, and answers after the content once per accepted recipient as the
test says: each recipient's own outcome is logged (delivered, deferred
and retried until the server takes it, bounced with a DSN that carries the
server's reply); a connection dropped among those replies defers the
recipients not answered yet, and the ones answered 250 are not sent
again."""
import os
import socket
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mail_peers import submit  # noqa: E402
from postern_test import InstanceTestCase, free_port, wait_for  # noqa: E402

SERVICES = [
    "qmgr unix n - n 300 1 qmgr",
    "pickup unix n - n 60 1 pickup",
    "local unix - n n - - local",
    "lmtp unix - n n - - lmtp",
]


class LmtpServer:
    """An LMTP server on a UNIX socket path (str) or a TCP (host, port).
    answers: recipient -> the reply after the content (default 250);
    drop_after: close the connection after that many of those replies
    (the first connection only)."""

    def __init__(self, address, answers=None, drop_after=None):
        family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        if family == socket.AF_INET:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(address)
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.answers = dict(answers or {})
        self.drop_after = drop_after
        self.lock = threading.Lock()
        self.greetings = []   # LHLO, EHLO or HELO lines
        self.commands = []    # every command line
        self.delivered = []   # (recipient, message) answered 2xx
        self.delivered_on = {}  # recipient -> the connection numbers it was delivered on
        self.replied = []     # (recipient, reply) after the content
        self.connections = 0
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def stop(self):
        self.stopping = True
        self.thread.join(5)
        self.sock.close()

    def delivered_to(self, rcpt):
        with self.lock:
            return [m for r, m in self.delivered if r == rcpt]

    def _run(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                number = self.connections
                self.connections += 1
            threading.Thread(target=self._serve, args=(conn, number), daemon=True).start()

    def _serve(self, conn, number):
        conn.settimeout(30)
        f = conn.makefile("rb")

        def send(text):
            conn.sendall(text.encode() + b"\r\n")
        try:
            send("220 lmtp.test LMTP ready")
            rcpts = []
            while True:
                line = f.readline()
                if not line:
                    return
                line = line.rstrip(b"\r\n").decode()
                verb = line.split(" ", 1)[0].upper()
                with self.lock:
                    self.commands.append(line)
                if verb in ("LHLO", "EHLO", "HELO"):
                    with self.lock:
                        self.greetings.append(line)
                    if verb == "LHLO":
                        send("250-lmtp.test\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n"
                             "250 8BITMIME")
                    else:
                        send("500 5.5.1 this is an LMTP server")
                elif verb == "MAIL":
                    rcpts = []
                    send("250 2.1.0 Ok")
                elif verb == "RCPT":
                    rcpts.append(line[line.index("<") + 1:line.index(">")])
                    send("250 2.1.5 Ok")
                elif verb == "DATA":
                    if not rcpts:
                        send("503 5.5.1 No valid recipients")
                        continue
                    send("354 go ahead")
                    data = b""
                    while True:
                        chunk = f.readline()
                        if not chunk:
                            return
                        if chunk == b".\r\n":
                            break
                        data += chunk[1:] if chunk.startswith(b"..") else chunk
                    for k, rcpt in enumerate(rcpts):
                        if number == 0 and self.drop_after is not None \
                                and k == self.drop_after:
                            return  # the connection goes away mid-replies
                        with self.lock:
                            reply = self.answers.get(rcpt, "250 2.0.0 <%s> Saved" % rcpt)
                            self.replied.append((rcpt, reply))
                            if reply.startswith("2"):
                                self.delivered.append((rcpt, data))
                                self.delivered_on.setdefault(rcpt, []).append(number)
                        send(reply)
                    rcpts = []
                elif verb == "RSET":
                    rcpts = []
                    send("250 2.0.0 Ok")
                elif verb == "NOOP":
                    send("250 2.0.0 Ok")
                elif verb == "QUIT":
                    send("221 2.0.0 Bye")
                    return
                else:
                    send("502 5.5.2 Unknown command")
        except OSError:
            return
        finally:
            f.close()
            conn.close()


class LmtpTest(InstanceTestCase):
    def start(self, **params):
        base = {
            "mydestination": "mx.example.test, localhost",
            "virtual_mailbox_domains": "virt.test",
            "virtual_transport": "lmtp:unix:private/test-lmtp",
            "minimal_backoff_time": "1s",
            "maximal_backoff_time": "2s",
            "lmtp_lhlo_timeout": "5s",
            "lmtp_data_done_timeout": "5s",
        }
        base.update(params)
        inst = self.instance(params=base, services=SERVICES, start=False)
        return inst

    def test_unix_socket_per_recipient_replies(self):
        """Over private/test-lmtp: one message to three recipients gets
        250, 452 and 550 after DATA: delivered, deferred (and delivered on
        a later try once the server takes it), bounced with a DSN to the
        sender (itself delivered by LMTP) naming the server's reply. LHLO,
        never EHLO; mailctl check takes lmtp as a delivery program."""
        inst = self.start()
        check = inst.mailctl("check")
        self.assertNotIn("virtual_transport", check.stdout + check.stderr)
        self.assertNotIn("lmtp", check.stdout + check.stderr)
        inst.start()
        path = os.path.join(inst.spool, "private", "test-lmtp")
        server = LmtpServer(path, answers={
            "later@virt.test": "452 4.2.2 <later@virt.test> Mailbox is full",
            "bad@virt.test": "550 5.1.1 <bad@virt.test> User doesn't exist",
        })
        self.addCleanup(server.stop)
        submit(inst, "sender@virt.test",
               ["ok@virt.test", "later@virt.test", "bad@virt.test"],
               b"Subject: lmtp test\n\nhello over lmtp\n")
        relay = "relay=mx.example.test[private/test-lmtp]"
        inst.wait_log("to=<ok@virt.test>, %s" % relay, timeout=30)
        inst.wait_log("to=<bad@virt.test>, %s" % relay, timeout=10)
        inst.wait_log("to=<later@virt.test>, %s" % relay, timeout=10)
        log = inst.read_log()
        self.assertRegex(log, r"to=<ok@virt\.test>, relay=mx\.example\.test\[private/test-lmtp\]"
                         r".*status=sent \(250 2\.0\.0 <ok@virt\.test> Saved\)")
        self.assertRegex(log, r"to=<later@virt\.test>, relay=mx\.example\.test"
                         r"\[private/test-lmtp\].*dsn=4\.2\.2, status=deferred \(host "
                         r"mx\.example\.test\[private/test-lmtp\] said: 452 4\.2\.2 "
                         r"<later@virt\.test> Mailbox is full")
        self.assertRegex(log, r"to=<bad@virt\.test>, relay=mx\.example\.test"
                         r"\[private/test-lmtp\].*dsn=5\.1\.1, status=bounced \(host "
                         r"mx\.example\.test\[private/test-lmtp\] said: 550 5\.1\.1 "
                         r"<bad@virt\.test> User doesn't exist")
        # The bounce for bad@ goes to the sender, over LMTP too.
        dsn = wait_for(lambda: server.delivered_to("sender@virt.test"), timeout=30,
                       what="the DSN at the LMTP server")[0]
        self.assertIn(b"Final-Recipient: rfc822; bad@virt.test", dsn)
        self.assertIn(b"Action: failed", dsn)
        self.assertIn(b"Status: 5.1.1", dsn)
        self.assertIn(b"Diagnostic-Code: smtp; 550 5.1.1 <bad@virt.test> User doesn't exist",
                      dsn)
        self.assertNotIn(b"ok@virt.test", dsn)
        # The server takes later@ now: a retry delivers it, and only it.
        with server.lock:
            del server.answers["later@virt.test"]
        wait_for(lambda: server.delivered_to("later@virt.test"), timeout=30,
                 what="later@ delivered on a retry")
        inst.wait_log("to=<later@virt.test>, %s" % relay, count=2, timeout=10)
        self.assertRegex(inst.read_log(), r"to=<later@virt\.test>, relay=mx\.example\.test"
                         r"\[private/test-lmtp\].*status=sent \(250 2\.0\.0 "
                         r"<later@virt\.test> Saved\)")
        self.assertEqual(len(server.delivered_to("ok@virt.test")), 1)
        self.assertEqual(len(server.delivered_to("later@virt.test")), 1)
        self.assertEqual(server.delivered_to("bad@virt.test"), [])
        self.assertIn(b"hello over lmtp", server.delivered_to("ok@virt.test")[0])
        with server.lock:
            greetings = list(server.greetings)
            commands = list(server.commands)
        self.assertTrue(greetings)
        self.assertTrue(all(g == "LHLO mx.example.test" for g in greetings), greetings)
        self.assertFalse([c for c in commands if c.upper().startswith("STARTTLS")])
        self.assertNotIn("Sanitizer", inst.read_log())

    def test_inet_dropped_connection_and_reuse(self):
        """transport_maps to lmtp:inet:127.0.0.1:PORT: the server hangs
        up after answering the first of three recipients: that one is
        delivered, the other two deferred and delivered on a retry, none
        twice. Then two messages in a row share a session (RSET between
        them, one LHLO)."""
        port = free_port()
        server = LmtpServer(("127.0.0.1", port), drop_after=1)
        self.addCleanup(server.stop)
        inst = self.start()
        tpath = os.path.join(inst.etc, "transport")
        with open(tpath, "w") as f:
            f.write("tcp.test lmtp:inet:127.0.0.1:%d\n" % port)
        inst.mailctl("map", "build", tpath, check=True)
        inst.params["transport_maps"] = tpath + ".lmdb"
        inst.params["lmtp_connection_cache_time_limit"] = "10s"
        inst.write_config()
        inst.start()
        submit(inst, "sender@virt.test", ["a@tcp.test", "b@tcp.test", "c@tcp.test"],
               b"Subject: drop\n\nbody\n")
        relay = "relay=127.0.0.1[127.0.0.1]:%d" % port
        inst.wait_log("to=<a@tcp.test>, %s" % relay, timeout=30)
        log = inst.read_log()
        self.assertRegex(log, r"to=<a@tcp\.test>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:%d.*"
                         r"status=sent \(250 2\.0\.0 <a@tcp\.test> Saved\)" % port)
        for r in ("b", "c"):
            self.assertRegex(log, r"to=<%s@tcp\.test>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:%d"
                             r".*status=deferred \(lost connection with 127\.0\.0\.1"
                             r"\[127\.0\.0\.1\]:%d while sending end of data" % (r, port, port))
        wait_for(lambda: server.delivered_to("b@tcp.test") and server.delivered_to("c@tcp.test"),
                 timeout=30, what="b and c delivered on a retry")
        inst.wait_log("to=<c@tcp.test>, %s" % relay, count=2, timeout=10)
        for r in ("a", "b", "c"):
            self.assertEqual(len(server.delivered_to("%s@tcp.test" % r)), 1, r)
        # Two messages in a row: the second over the kept session, which
        # is checked with RSET first and not greeted again.
        submit(inst, "sender@virt.test", ["d@tcp.test"], b"Subject: one\n\nx\n")
        wait_for(lambda: server.delivered_to("d@tcp.test"), timeout=30, what="d delivered")
        with server.lock:
            lhlo_before = len(server.greetings)
            rset_before = server.commands.count("RSET")
        submit(inst, "sender@virt.test", ["e@tcp.test"], b"Subject: two\n\nx\n")
        wait_for(lambda: server.delivered_to("e@tcp.test"), timeout=30, what="e delivered")
        with server.lock:
            self.assertEqual(server.delivered_on["d@tcp.test"], server.delivered_on["e@tcp.test"])
            self.assertEqual(len(server.greetings), lhlo_before)
            self.assertEqual(server.commands.count("RSET"), rset_before + 1)
            self.assertTrue(all(g.startswith("LHLO ") for g in server.greetings))

if __name__ == "__main__":
    unittest.main()

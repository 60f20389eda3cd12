"""Address verification probes in smtp and lmtp (the deliver request's
verify = 1, as qmgr sends for reject_unverified_recipient and sendmail
-bv), spoken directly over private/smtp and private/lmtp as qmgr does.

A probe goes as far as a delivery up to and including RCPT TO and no
further: the scripted server below sees EHLO/LHLO, MAIL and the RCPTs but
never DATA or BDAT, and nothing of the message content; the RCPT replies
decide (250 delivered, 550 bounced, 450 deferred; a refused MAIL bounces
them all), the results carry the server's reply and no dsn attribute.
The session is then ended with QUIT, or kept and reset with RSET for the
next request, which delivers normally over it. smtp_header_checks are not
applied to a probe; smtp_generic_maps rewrite its envelope."""

import os
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import (InstanceTestCase, encode_record, free_port,  # noqa: E402
                          read_record, wait_for)

SERVICES = [
    "smtp unix - n n - - smtp",
    "lmtp unix - n n - - lmtp",
]
SECRET = "probe-content-must-stay-home"
MESSAGE = "From: probe@inside.test\r\nSubject: %s\r\nX-Odd: yes\r\n\r\nbody %s\r\n" % (
    SECRET, SECRET)
OK, UNKNOWN, LATER = "ok@dest.test", "unknown@dest.test", "later@dest.test"
RCPT_REPLIES = {
    OK: "250 2.1.5 Ok",
    UNKNOWN: "550 5.1.1 <unknown@dest.test>: Recipient address rejected: User unknown",
    LATER: "450 4.2.0 <later@dest.test>: Recipient address rejected: try again later",
}
SMTP_EHLO = ("PIPELINING", "8BITMIME", "SIZE 100000", "ENHANCEDSTATUSCODES")


class ProbeServer:
    """A scripted SMTP or LMTP server on a TCP (host, port) or a UNIX
    socket path that records everything it is sent: every command per
    connection (sessions), the raw bytes (received) and the messages it
    took. RCPT is answered from rcpt_replies (by address; default 250),
    MAIL with mail_reply; ehlo: the EHLO/LHLO keywords. LMTP answers once
    per accepted recipient after the content."""

    def __init__(self, address, lmtp=False, rcpt_replies=None, mail_reply="250 2.1.0 Ok",
                 ehlo=SMTP_EHLO):
        family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        if family == socket.AF_INET:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(address)
        if family == socket.AF_UNIX:
            os.chmod(address, 0o666)
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.lmtp = lmtp
        self.rcpt_replies = dict(rcpt_replies or {})
        self.mail_reply = mail_reply
        self.ehlo = ehlo
        self.lock = threading.Lock()
        self.sessions = []   # per connection: its command lines
        self.received = b""  # every byte received, on every connection
        self.messages = []   # (rcpts, content) taken
        self.stopping = False
        self.threads = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def stop(self):
        self.stopping = True
        self.thread.join(5)
        self.sock.close()
        for t in self.threads:
            t.join(5)

    def commands(self):
        with self.lock:
            return [c for s in self.sessions for c in s]

    def verbs(self):
        return [c.split(" ", 1)[0].upper() for c in self.commands()]

    def _run(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.sessions.append([])
                log = self.sessions[-1]
            t = threading.Thread(target=self._serve, args=(conn, log), daemon=True)
            self.threads.append(t)
            t.start()

    def _serve(self, conn, log):
        conn.settimeout(30)
        buf = b""

        def read(n=None):
            nonlocal buf
            while (n is None and b"\n" not in buf) or (n is not None and len(buf) < n):
                chunk = conn.recv(65536)
                if not chunk:
                    raise EOFError()
                with self.lock:
                    self.received += chunk
                buf += chunk
            if n is None:
                line, _, buf = buf.partition(b"\n")
                return line.rstrip(b"\r").decode("latin-1")
            data, buf = buf[:n], buf[n:]
            return data

        def send(text):
            conn.sendall(text.encode() + b"\r\n")

        def content_replies(rcpts, content):
            with self.lock:
                self.messages.append((list(rcpts), content))
            if self.lmtp:
                for r in rcpts:
                    send("250 2.0.0 <%s> Saved" % r)
            else:
                send("250 2.0.0 Ok: queued")

        try:
            send("220 probe.test %s ready" % ("LMTP" if self.lmtp else "ESMTP"))
            rcpts, chunks = [], b""
            while True:
                line = read()
                with self.lock:
                    log.append(line)
                verb = line.split(" ", 1)[0].upper()
                if verb in ("EHLO", "LHLO"):
                    if (verb == "LHLO") != self.lmtp:
                        send("500 5.5.1 wrong greeting")
                        continue
                    lines = ["probe.test"] + list(self.ehlo)
                    send("\r\n".join("250-" + l for l in lines[:-1]) + "\r\n250 " + lines[-1])
                elif verb == "HELO":
                    send("250 probe.test")
                elif verb == "MAIL":
                    rcpts, chunks = [], b""
                    send(self.mail_reply)
                elif verb == "RCPT":
                    addr = line[line.index("<") + 1:line.index(">")]
                    reply = self.rcpt_replies.get(addr, "250 2.1.5 Ok")
                    if reply.startswith("2"):
                        rcpts.append(addr)
                    send(reply)
                elif verb == "DATA":
                    if not rcpts:
                        send("554 5.5.1 No valid recipients")
                        continue
                    send("354 go ahead")
                    content = []
                    while True:
                        l = read()
                        if l == ".":
                            break
                        content.append(l[1:] if l.startswith("..") else l)
                    content_replies(rcpts, "\r\n".join(content))
                    rcpts = []
                elif verb == "BDAT":
                    parts = line.split()
                    chunks += read(int(parts[1]))
                    if len(parts) > 2 and parts[2].upper() == "LAST":
                        content_replies(rcpts, chunks.decode("latin-1"))
                        rcpts = []
                    else:
                        send("250 2.0.0 chunk ok")
                elif verb == "RSET":
                    rcpts, chunks = [], b""
                    send("250 2.0.0 Ok")
                elif verb == "NOOP":
                    send("250 2.0.0 Ok")
                elif verb == "QUIT":
                    send("221 2.0.0 Bye")
                    return
                else:
                    send("502 5.5.2 Unknown command")
        except (OSError, EOFError, ValueError):
            return
        finally:
            conn.close()


class AgentConnection:
    """A connection to private/SERVICE as qmgr keeps one: several deliver
    requests, one after the other."""

    def __init__(self, spool, service, timeout=60):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(os.path.join(spool, "private", service))

    def request(self, queue_id, rcpts, nexthop, sender, verify=None):
        """({index: result attrs}, whether "done" came)."""
        attrs = [("queue_id", queue_id), ("queue_name", "active"), ("sender", sender),
                 ("nexthop", nexthop)]
        for i, r in enumerate(rcpts):
            attrs += [("rcpt", r), ("index", i)]
        if verify is not None:
            attrs.append(("verify", verify))
        self.sock.sendall(encode_record("deliver", attrs))
        results = {}
        try:
            while True:
                name, rec = read_record(self.sock)
                if name == "done":
                    return results, True
                if name != "result":
                    raise AssertionError("unexpected record %r" % name)
                results[rec["index"]] = rec
        except EOFError:
            return results, False

    def close(self):
        self.sock.close()


class VerifyTestBase(InstanceTestCase):
    SENDER = "probe@inside.test"

    def setUp(self):
        self.inst = self.instance(start=False, services=SERVICES, params={
            "smtp_connect_timeout": "5s",
            "smtp_helo_timeout": "5s",
            "smtp_mail_timeout": "5s",
            "smtp_rcpt_timeout": "5s",
            "smtp_data_init_timeout": "5s",
            "smtp_data_xfer_timeout": "5s",
            "smtp_data_done_timeout": "5s",
            "smtp_rset_timeout": "5s",
            "smtp_quit_timeout": "2s",
            "lmtp_lhlo_timeout": "5s",
            "lmtp_data_done_timeout": "5s",
            "smtp_connection_cache_time_limit": "1s",
            "lmtp_connection_cache_time_limit": "1s",
        })
        self.configure()
        self.inst.write_config()
        self.inst.start()

    def configure(self):
        pass

    def server(self, **kwargs):
        self.port = free_port()
        srv = ProbeServer(("127.0.0.1", self.port), **kwargs)
        self.addCleanup(srv.stop)
        return srv

    def queue(self, rcpts, sender=None, message=MESSAGE):
        cmd = [self.inst.program("svc_queue_writer"), "-s",
               self.SENDER if sender is None else sender, "-m", message, "-q", "active"]
        for r in rcpts:
            cmd += ["-r", r]
        result = subprocess.run(cmd + [self.inst.spool], capture_output=True, text=True,
                                timeout=30, check=True)
        return result.stdout.strip()

    def connect(self, service="smtp"):
        conn = AgentConnection(self.inst.spool, service)
        self.addCleanup(conn.close)
        return conn

    def probe(self, rcpts, nexthop, service="smtp", verify=1, sender=None):
        """Queue a message for rcpts and send one request for it on a new
        connection: (queue id, results)."""
        qid = self.queue(rcpts, sender=sender)
        conn = self.connect(service)
        results, done = conn.request(qid, rcpts, nexthop,
                                     self.SENDER if sender is None else sender, verify)
        self.assertTrue(done, results)
        self.assertEqual(sorted(results), list(range(len(rcpts))), results)
        return qid, results

    def assert_nothing_sent(self, srv):
        verbs = srv.verbs()
        self.assertNotIn("DATA", verbs)
        self.assertNotIn("BDAT", verbs)
        self.assertNotIn(SECRET.encode(), srv.received)
        self.assertEqual(srv.messages, [])

    def wait_ended(self, srv):
        """The probe's transaction is ended with RSET or QUIT."""
        wait_for(lambda: {"RSET", "QUIT"} & set(srv.verbs()), timeout=15,
                 what="RSET or QUIT after the probe")


class SmtpVerifyTest(VerifyTestBase):
    def assert_probe_results(self, results, relay):
        ok, unknown, later = results[0], results[1], results[2]
        self.assertEqual(ok["state"], "delivered", ok)
        self.assertEqual(ok["status"], "2.1.5")
        self.assertEqual(ok["reason"], "host %s said: 250 2.1.5 Ok" % relay)
        self.assertEqual(unknown["state"], "bounced", unknown)
        self.assertEqual(unknown["status"], "5.1.1")
        self.assertEqual(unknown["reason"], "host %s said: %s" % (relay, RCPT_REPLIES[UNKNOWN]))
        self.assertEqual(later["state"], "deferred", later)
        self.assertEqual(later["status"], "4.2.0")
        self.assertEqual(later["reason"], "host %s said: %s" % (relay, RCPT_REPLIES[LATER]))
        for r in results.values():
            self.assertEqual(r["relay"], relay)
            self.assertEqual(r["tls"], "none")
            self.assertNotIn("dsn", r)

    def test_probe_sends_no_content(self):
        for ehlo in (SMTP_EHLO, ("8BITMIME", "CHUNKING", "ENHANCEDSTATUSCODES")):
            with self.subTest(ehlo=ehlo):
                srv = self.server(rcpt_replies=RCPT_REPLIES, ehlo=ehlo)
                relay = "127.0.0.1[127.0.0.1]:%d" % self.port
                qid, results = self.probe([OK, UNKNOWN, LATER], "[127.0.0.1]:%d" % self.port)
                self.assert_probe_results(results, relay)
                cmds = srv.commands()
                mail = "MAIL FROM:<%s>" % self.SENDER
                self.assertIn(mail + (" SIZE=%d" % len(MESSAGE) if "SIZE 100000" in ehlo
                                      else ""), cmds)
                for r in (OK, UNKNOWN, LATER):
                    self.assertIn("RCPT TO:<%s>" % r, cmds)
                self.wait_ended(srv)
                self.assert_nothing_sent(srv)
                self.inst.wait_log("%s: address verification probe via [127.0.0.1]:%d"
                                   % (qid, self.port))

    def test_kept_session_reused_for_delivery(self):
        srv = self.server(rcpt_replies=RCPT_REPLIES)
        nexthop = "[127.0.0.1]:%d" % self.port
        conn = self.connect()
        probe = self.queue([OK, UNKNOWN, LATER])
        results, done = conn.request(probe, [OK, UNKNOWN, LATER], nexthop, self.SENDER, 1)
        self.assertTrue(done)
        self.assert_probe_results(results, "127.0.0.1[127.0.0.1]:%d" % self.port)
        self.assert_nothing_sent(srv)
        # The next request, a delivery, goes over the same session after RSET.
        mail = self.queue([OK])
        results, done = conn.request(mail, [OK], nexthop, self.SENDER, 0)
        self.assertTrue(done)
        self.assertEqual(results[0]["state"], "delivered", results)
        self.assertEqual(results[0]["status"], "2.0.0")
        self.assertEqual(results[0]["reason"], "250 2.0.0 Ok: queued")
        self.assertEqual(results[0]["dsn"], "relayed")
        self.assertEqual(len(srv.sessions), 1, srv.sessions)
        verbs = srv.verbs()
        self.assertEqual(verbs[verbs.index("MAIL"):],
                         ["MAIL", "RCPT", "RCPT", "RCPT", "RSET", "MAIL", "RCPT", "DATA"]
                         + (["QUIT"] if verbs[-1] == "QUIT" else []))
        self.assertEqual(len(srv.messages), 1)
        self.assertEqual(srv.messages[0][0], [OK])
        self.assertIn("body " + SECRET, srv.messages[0][1])
        # Without verify the request is a delivery as it always was.
        results, done = conn.request(self.queue([OK]), [OK], nexthop, self.SENDER)
        self.assertEqual(results[0]["state"], "delivered", results)
        wait_for(lambda: len(srv.messages) == 2, timeout=10, what="the second delivery")

    def test_mail_refused(self):
        for ehlo in (SMTP_EHLO, ("8BITMIME", "ENHANCEDSTATUSCODES")):
            with self.subTest(ehlo=ehlo):
                srv = self.server(rcpt_replies=RCPT_REPLIES, ehlo=ehlo,
                                  mail_reply="550 5.7.1 <probe@inside.test>: Sender refused")
                relay = "127.0.0.1[127.0.0.1]:%d" % self.port
                _, results = self.probe([OK, UNKNOWN, LATER], "[127.0.0.1]:%d" % self.port)
                for r in results.values():
                    self.assertEqual(r["state"], "bounced", r)
                    self.assertEqual(r["status"], "5.7.1")
                    self.assertEqual(r["reason"], "host %s said: 550 5.7.1 "
                                     "<probe@inside.test>: Sender refused" % relay)
                    self.assertNotIn("dsn", r)
                self.wait_ended(srv)
                self.assert_nothing_sent(srv)

    def test_failures_before_rcpt(self):
        # Nobody listening: deferred as for a delivery.
        port = free_port()
        _, results = self.probe([OK], "[127.0.0.1]:%d" % port)
        self.assertEqual(results[0]["state"], "deferred", results)
        self.assertEqual(results[0]["status"], "4.4.1")
        self.assertIn("connect to 127.0.0.1[127.0.0.1]:%d" % port, results[0]["reason"])
        # Bad address syntax is decided before connecting, as for a delivery.
        srv = self.server()
        _, results = self.probe(["bad address@dest.test", OK], "[127.0.0.1]:%d" % self.port)
        self.assertEqual(results[0]["state"], "bounced")
        self.assertEqual(results[0]["status"], "5.1.3")
        self.assertEqual(results[1]["state"], "delivered", results)
        self.assertNotIn("bad address", " ".join(srv.commands()))
        self.assert_nothing_sent(srv)

    def test_missing_queue_file(self):
        # Deferred (4.3.0) without going anywhere.
        srv = self.server()
        results, done = self.connect().request("0006412F3A1B2C4D", [OK],
                                               "[127.0.0.1]:%d" % self.port, self.SENDER, 1)
        self.assertTrue(done)
        self.assertEqual(results[0]["state"], "deferred", results)
        self.assertEqual(results[0]["status"], "4.3.0")
        self.assertIn("cannot open queue file", results[0]["reason"])
        time.sleep(0.5)
        self.assertEqual(srv.sessions, [])

    def test_mismatched_recipient_is_never_sent(self):
        """A recipient that does not match the queue file is deferred and
        never sent, while the request's other recipient is delivered;
        a bad deliver_to (two recipients) holds both."""
        srv = self.server()
        nexthop = "[127.0.0.1]:%d" % self.port
        qid = self.queue([OK, "other@example.test"])
        conn = self.connect()
        attrs = [("queue_id", qid), ("queue_name", "active"), ("sender", self.SENDER),
                 ("nexthop", nexthop), ("rcpt", OK), ("index", 0),
                 ("rcpt", "intruder@example.test"), ("index", 1)]
        conn.sock.sendall(encode_record("deliver", attrs))
        results = {}
        while True:
            name, rec = read_record(conn.sock)
            if name == "done":
                break
            results[rec["index"]] = rec
        self.assertEqual(results[0]["state"], "delivered", results)
        self.assertEqual(results[1]["state"], "deferred", results)
        self.assertIn("does not match the queue file", results[1]["reason"])
        wait_for(lambda: srv.messages, timeout=15, what="the delivery")
        rcpts = [c for c in srv.commands() if c.upper().startswith("RCPT")]
        self.assertEqual(len(rcpts), 1, rcpts)
        self.assertNotIn("intruder", " ".join(srv.commands()))
        attrs = [("queue_id", qid), ("queue_name", "active"), ("sender", self.SENDER),
                 ("nexthop", nexthop), ("deliver_to", "someone@example.test"),
                 ("rcpt", OK), ("index", 0), ("rcpt", "other@example.test"), ("index", 1)]
        conn.sock.sendall(encode_record("deliver", attrs))
        results = {}
        while True:
            name, rec = read_record(conn.sock)
            if name == "done":
                break
            results[rec["index"]] = rec
        self.assertEqual([results[i]["state"] for i in (0, 1)], ["deferred", "deferred"])
        self.assertIn("bad deliver_to", results[0]["reason"])
        time.sleep(0.5)
        self.assertEqual(len([c for c in srv.commands() if c.upper().startswith("RCPT")]), 1)

    def test_malformed_verify(self):
        srv = self.server()
        nexthop = "[127.0.0.1]:%d" % self.port
        for bad in ("1", 2, -1):
            qid = self.queue([OK])
            results, done = self.connect().request(qid, [OK], nexthop, self.SENDER, bad)
            # "done" alone: qmgr defers the recipients.
            self.assertEqual((results, done), ({}, True))
            self.inst.wait_log("%s: malformed deliver request: bad verify" % qid)
        self.assertEqual(srv.sessions, [])
        _, results = self.probe([OK], nexthop)
        self.assertEqual(results[0]["state"], "delivered", results)
        self.assert_nothing_sent(srv)


class SmtpVerifyRewriteTest(VerifyTestBase):
    SENDER = "probe@localhost.localdomain"

    def configure(self):
        checks = os.path.join(self.inst.etc, "smtp_header_checks")
        with open(checks, "w") as f:
            f.write("/^X-Odd:/ WARN odd header going out\n")
        generic = os.path.join(self.inst.etc, "generic")
        with open(generic, "w") as f:
            f.write("probe@localhost.localdomain  probe@example.com\n"
                    "inner@localhost.localdomain  ok@dest.test\n")
        self.inst.mailctl("map", "build", generic, check=True)
        self.inst.params["smtp_header_checks"] = "regexp:" + checks
        self.inst.params["smtp_generic_maps"] = "lmdb:" + generic

    def test_generic_maps_but_no_header_checks(self):
        srv = self.server()
        qid, results = self.probe(["inner@localhost.localdomain"], "[127.0.0.1]:%d" % self.port)
        self.assertEqual(results[0]["state"], "delivered", results)
        self.assertIn("MAIL FROM:<probe@example.com> SIZE=%d" % len(MESSAGE), srv.commands())
        self.assertIn("RCPT TO:<ok@dest.test>", srv.commands())
        self.assert_nothing_sent(srv)
        self.wait_ended(srv)
        self.assertNotIn("odd header going out", self.inst.read_log())
        # A delivery of the same message does apply them.
        qid = self.queue([OK])
        results, _ = self.connect().request(qid, [OK], "[127.0.0.1]:%d" % self.port,
                                            self.SENDER, 0)
        self.assertEqual(results[0]["state"], "delivered", results)
        self.inst.wait_log("%s: warning: header X-Odd: yes" % qid)


class LmtpVerifyTest(VerifyTestBase):
    def test_rcpt_replies_decide(self):
        srv = self.server(lmtp=True, rcpt_replies=RCPT_REPLIES,
                          ehlo=("PIPELINING", "ENHANCEDSTATUSCODES", "8BITMIME"))
        relay = "127.0.0.1[127.0.0.1]:%d" % self.port
        nexthop = "inet:127.0.0.1:%d" % self.port
        conn = self.connect("lmtp")
        probe = self.queue([OK, UNKNOWN, LATER])
        results, done = conn.request(probe, [OK, UNKNOWN, LATER], nexthop, self.SENDER, 1)
        self.assertTrue(done)
        self.assertEqual([results[i]["state"] for i in range(3)],
                         ["delivered", "bounced", "deferred"], results)
        self.assertEqual([results[i]["status"] for i in range(3)], ["2.1.5", "5.1.1", "4.2.0"])
        self.assertEqual(results[0]["reason"], "host %s said: 250 2.1.5 Ok" % relay)
        self.assertEqual(results[1]["reason"], "host %s said: %s" % (relay, RCPT_REPLIES[UNKNOWN]))
        for r in results.values():
            self.assertEqual(r["relay"], relay)
            self.assertNotIn("dsn", r)
        self.assertIn("LHLO", srv.verbs())
        self.assert_nothing_sent(srv)
        self.inst.wait_log("%s: address verification probe via %s" % (probe, nexthop))
        # Then a delivery over the kept session: RSET, and the content.
        mail = self.queue([OK, "other@dest.test"])
        results, done = conn.request(mail, [OK, "other@dest.test"], nexthop, self.SENDER)
        self.assertTrue(done)
        self.assertEqual(results[0]["reason"], "250 2.0.0 <ok@dest.test> Saved")
        self.assertEqual(results[1]["reason"], "250 2.0.0 <other@dest.test> Saved")
        self.assertEqual(len(srv.sessions), 1)
        verbs = srv.verbs()
        self.assertEqual(verbs[verbs.index("MAIL"):verbs.index("DATA") + 1],
                         ["MAIL", "RCPT", "RCPT", "RCPT", "RSET", "MAIL", "RCPT", "RCPT", "DATA"])
        self.assertEqual(srv.messages[0][0], [OK, "other@dest.test"])

    def test_unix_socket_and_mail_refused(self):
        path = os.path.join(self.inst.spool, "private", "probe-lmtp")
        srv = ProbeServer(path, lmtp=True, mail_reply="550 5.7.1 Sender refused",
                          ehlo=("ENHANCEDSTATUSCODES",))
        self.addCleanup(srv.stop)
        relay = "mx.example.test[private/probe-lmtp]"
        _, results = self.probe([OK, UNKNOWN], "unix:private/probe-lmtp", service="lmtp")
        for r in results.values():
            self.assertEqual(r["state"], "bounced", r)
            self.assertEqual(r["reason"], "host %s said: 550 5.7.1 Sender refused" % relay)
            self.assertEqual(r["relay"], relay)
        self.wait_ended(srv)
        self.assert_nothing_sent(srv)
        srv.mail_reply = "250 2.1.0 Ok"
        _, results = self.probe([OK], "unix:private/probe-lmtp", service="lmtp")
        self.assertEqual(results[0]["state"], "delivered", results)
        self.assertEqual(results[0]["reason"], "host %s said: 250 2.1.5 Ok" % relay)
        self.assert_nothing_sent(srv)


if __name__ == "__main__":
    unittest.main()
